"""The one place that maps canonical ids to provider codes and back.

Canonical ids are the warehouse's: Yahoo-style listing symbols (688256.SS, 002230.SZ, 0700.HK, NVDA,
000660.KS), index ids from the index catalog seed (STAR50...) and ISO currencies. Provider codes
(688256, sh688256, 688256.SH, 00700, CNY=X, USDCNH) are derived here and never leave the adapters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from orchestration.calendars import exchange_timezone, get_calendar
from orchestration.reference import IndexInfo, currency_of_symbol, exchange_of_suffix, index_catalog
from orchestration.resources.providers.base import ProviderError

# Yahoo quotes every FX pair against the dollar on a London-based "exchange".
FX_TIMEZONE = "Europe/London"
# FX trades around the clock on weekdays; a day's rate is final at the 17:00 New York roll, the day end the
# calendars module's WEEKDAYS calendar models (the freshness checks use the same one).
FX_CALENDAR = "WEEKDAYS"


@dataclass(frozen=True)
class Listing:
    symbol: str  # canonical, Yahoo-style
    code: str  # exchange-local code: 688256, 0700, NVDA, 000660
    suffix: str | None  # SS, SZ, HK, KS... None for US listings
    market: str
    currency: str
    timezone: str
    calendar: str

    @property
    def is_a_share(self) -> bool:
        return self.suffix in ("SS", "SZ")

    @property
    def is_hk(self) -> bool:
        return self.suffix == "HK"

    @property
    def akshare_code(self) -> str:
        """Eastmoney code: 688256 for A-shares, five-digit 00700 for Hong Kong."""
        if self.is_a_share:
            return self.code
        if self.is_hk:
            return self.code.zfill(5)
        raise ProviderError(f"{self.symbol}: akshare covers only mainland and Hong Kong listings")

    @property
    def sina_code(self) -> str:
        """Sina code: sh688256 / sz002230 for A-shares, 00700 for Hong Kong."""
        if self.is_a_share:
            return ("sh" if self.suffix == "SS" else "sz") + self.code
        return self.akshare_code

    @property
    def eastmoney_secucode(self) -> str:
        """Eastmoney datacenter code (share structure): 688256.SH / 002230.SZ."""
        if not self.is_a_share:
            raise ProviderError(f"{self.symbol}: not an A-share listing")
        return f"{self.code}.{'SH' if self.suffix == 'SS' else 'SZ'}"


def a_share_suffix(code: str) -> str:
    """Exchange of a six-digit A-share stock code: 6xxxxx (incl. 688xxx STAR) Shanghai, 0/3xxxxx Shenzhen.

    Only for stocks: index codes overlap (000688 is both the SSE STAR 50 index and a Shenzhen stock),
    so indices are always resolved through the index catalog, never through this rule.
    """
    if not re.fullmatch(r"\d{6}", code):
        raise ProviderError(f"{code!r} is not a six-digit A-share code")
    if code[0] == "6":
        return "SS"
    if code[0] in "03":
        return "SZ"
    raise ProviderError(
        f"{code}: Beijing Stock Exchange and other non-Shanghai/Shenzhen codes are not supported"
    )


def listing(symbol: str) -> Listing:
    symbol = symbol.strip().upper()
    code, _, suffix = symbol.rpartition(".") if "." in symbol else (symbol, "", "")
    exchange = exchange_of_suffix().get(suffix)
    if not suffix:
        if not re.fullmatch(r"[A-Z][A-Z0-9\-]*", code):
            raise ProviderError(f"{symbol!r} is not a recognised listing symbol")
    elif exchange is None:
        raise ProviderError(f"{symbol!r}: unknown exchange suffix .{suffix} (dbt_project/seeds/exchanges.csv)")
    if suffix in ("SS", "SZ") and a_share_suffix(code) != suffix:
        raise ProviderError(
            f"{symbol}: code {code} trades in {'Shanghai' if suffix == 'SZ' else 'Shenzhen'}, not .{suffix}"
        )
    if suffix == "HK" and not re.fullmatch(r"\d{4,5}", code):
        raise ProviderError(f"{symbol!r}: Hong Kong codes are 4-5 digits")
    return Listing(
        symbol,
        code,
        suffix or None,
        exchange.market,
        currency_of_symbol().get(symbol, exchange.currency),
        exchange_timezone(exchange.calendar),
        exchange.calendar,
    )


def a_share_symbol(code: str, exchange_name: str | None = None) -> str:
    """Canonical symbol of an A-share code, trusting an explicit exchange name when the source gives one."""
    code = str(code).strip().zfill(6)
    name = (exchange_name or "").lower()
    if "上海" in name or "shanghai" in name:
        suffix = "SS"
    elif "深圳" in name or "shenzhen" in name:
        suffix = "SZ"
    else:
        suffix = a_share_suffix(code)
    return f"{code}.{suffix}"


@dataclass(frozen=True)
class IndexCodes:
    index_id: str
    market: str
    currency: str
    calendar: str
    timezone: str
    akshare: str | None  # 000688 / HSTECH: index_zh_a_hist, csindex, sina HK indices
    akshare_em: str | None  # sh000688 / HSTECH: stock_zh_index_daily(_em), stock_hk_index_daily_em
    yahoo: str | None  # 000688.SS, HSTECH.HK, ^NDX


def index_codes(index_id: str) -> IndexCodes:
    info: IndexInfo | None = next((i for i in index_catalog() if i.index_id == index_id), None)
    if info is None:
        raise ProviderError(f"{index_id!r} is not in the index catalog seed")
    return IndexCodes(
        info.index_id,
        info.market,
        info.currency,
        info.calendar,
        exchange_timezone(info.calendar),
        info.akshare_symbol,
        info.akshare_em_symbol,
        info.yahoo_symbol,
    )


def fx_yahoo_symbol(currency: str) -> str:
    """Yahoo's CNY=X quotes units of CNY per US dollar: invert to get usd_per_unit."""
    return f"{currency.upper()}=X"


# currency -> (eastmoney forex code, True when the code quotes units per USD and must be inverted).
# CNY uses the offshore CNH quote: eastmoney publishes no onshore USDCNY daily history.
_EM_FX = {
    "CNY": ("USDCNH", True),
    "HKD": ("USDHKD", True),
    "JPY": ("USDJPY", True),
    "KRW": ("USDKRW", True),
    "EUR": ("EURUSD", False),
    "GBP": ("GBPUSD", False),
}


def fx_eastmoney_code(currency: str) -> tuple[str, bool]:
    try:
        return _EM_FX[currency.upper()]
    except KeyError:
        raise ProviderError(f"{currency}: no eastmoney FX history configured") from None


def utcnow() -> datetime:
    return datetime.now(UTC)


def today_in(tz: str) -> date:
    return utcnow().astimezone(ZoneInfo(tz)).date()


def local_dates(index: pd.Index, tz: str) -> list[date]:
    """Exchange-local dates of a time index.

    A tz-aware stamp is converted to the exchange's zone first: a Shanghai bar stamped at local midnight
    is the previous day in UTC, and a New York close stamped after midnight UTC is still the US date.
    """
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_convert(tz)
    return list(idx.date)


def bar_calendar(dataset_name: str, entity_id: str) -> str | None:
    """The calendar whose session close makes a daily bar of this id final; None for datasets of events
    (share counts, constituent lists) rather than bars."""
    if dataset_name == "index_prices":
        return index_codes(entity_id).calendar
    if dataset_name == "stock_prices":
        return listing(entity_id).calendar
    if dataset_name == "fx_rates":
        return FX_CALENDAR
    return None


def drop_unfinished_session(frame: pd.DataFrame, date_col: str, calendar: str | None) -> pd.DataFrame:
    """Drop a bar whose session has not closed yet (an intraday price is not a close), and any bar dated
    after the calendar's local today."""
    if frame.empty or not calendar:
        return frame
    # The same session lookup the freshness checks and schedules use, weekday fallback included.
    now = utcnow()
    trading_calendar = get_calendar(calendar)
    today = trading_calendar.local_date(now)
    unfinished = {
        d
        for d in frame[date_col]
        if d > today
        or (d == today and (session := trading_calendar.session_on(d)) is not None and session.close > now)
    }
    return frame[~frame[date_col].isin(unfinished)] if unfinished else frame


def unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))
