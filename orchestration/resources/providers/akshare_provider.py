"""Mainland and Hong Kong data from akshare: eastmoney first, sina as the fallback upstream, csindex for
STAR 50 constituents. Column names and symbol formats are those of akshare 1.19.5 (read from its source)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import date, timedelta
from typing import NamedTuple

import pandas as pd

from orchestration.datasets import (
    FX_RATES,
    INDEX_CONSTITUENTS,
    INDEX_PRICES,
    SHARES_OUTSTANDING,
    STOCK_PRICES,
)
from orchestration.resources.providers.base import FetchResult, ProviderError
from orchestration.resources.providers.resilience import (
    ResilientProvider,
    call_with_retry,
    describe,
    first_success,
    http_guard,
    log,
    tidy,
    within,
)
from orchestration.resources.providers.symbols import (
    a_share_symbol,
    fx_eastmoney_code,
    index_codes,
    listing,
    today_in,
)

# Fetch a little before `start`: an upstream answer with rows before the window but none inside it is a
# holiday gap, while an empty answer is an error.
PAD = timedelta(days=31)
# HK issued shares are latest-only and undated: stamped with today's exchange-local date, capped at the
# window's end so rows stay inside the window the raw asset replaces; a window that ended longer ago than
# this cannot be served (that would backdate today's count).
LATEST_ONLY_GRACE = timedelta(days=7)

# akshare's own frame handling trips pandas' chained-assignment warning on every call; it is not ours to fix.
warnings.filterwarnings("ignore", category=pd.errors.SettingWithCopyWarning, module=r"akshare\.")


class Upstream(NamedTuple):
    host: str
    function: str  # akshare function name
    columns: dict[str, str]  # its column -> ours
    required: tuple[str, ...]  # its columns that must be present and filled
    # Shares per unit of its volume column: eastmoney counts A-share and index volume in lots of 100.
    volume_lot: int = 1

    @property
    def source(self) -> str:
        """The per-row `source`: which function, over which upstream, produced the row."""
        return f"akshare:{self.function}({self.host})"


_EN = {
    "date": "trade_date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
}
_CN = {
    "日期": "trade_date",
    "开盘": "open",
    "最高": "high",
    "最低": "low",
    "收盘": "close",
    "成交量": "volume",
}
CN_INDEX_EM = Upstream("eastmoney", "stock_zh_index_daily_em", _EN, ("date", "close"), volume_lot=100)
CN_INDEX_SINA = Upstream("sina", "stock_zh_index_daily", _EN, ("date", "close"))
_HK_EM = {"date": "trade_date", "open": "open", "high": "high", "low": "low", "latest": "close"}
HK_INDEX_EM = Upstream("eastmoney", "stock_hk_index_daily_em", _HK_EM, ("date", "latest"))
HK_INDEX_SINA = Upstream("sina", "stock_hk_index_daily_sina", _EN, ("date", "close"))
A_SHARE_EM = Upstream("eastmoney", "stock_zh_a_hist", _CN, ("日期", "收盘"), volume_lot=100)
A_SHARE_SINA = Upstream("sina", "stock_zh_a_daily", _EN, ("date", "close"))
HK_STOCK_EM = Upstream("eastmoney", "stock_hk_hist", _CN, ("日期", "收盘"))
HK_STOCK_SINA = Upstream("sina", "stock_hk_daily", _EN, ("date", "close"))
FX_EM = Upstream("eastmoney", "forex_hist_em", {"日期": "trade_date", "最新价": "rate"}, ("日期", "最新价"))
A_SHARES_EM = Upstream(
    "eastmoney",
    "stock_zh_a_gbjg_em",
    {"变更日期": "as_of_date", "总股本": "shares_outstanding"},
    ("变更日期", "总股本"),
)
HK_SHARES_EM = Upstream(
    "eastmoney",
    "stock_hk_financial_indicator_em",
    {"已发行股本(股)": "shares_outstanding"},
    ("已发行股本(股)",),
)
# Dividend and bonus-share plans ("10送3转4.9派1"): the bonus and conversion shares per 10 held, by ex-date.
BONUS_EM = Upstream(
    "eastmoney",
    "stock_fhps_detail_em",
    {"除权除息日": "ex_date", "送转股份-送转总比例": "per_10"},
    ("除权除息日",),
)
CONSTITUENTS_CSINDEX = Upstream(
    "csindex",
    "index_stock_cons_weight_csindex",
    {
        "日期": "as_of_date",
        "成分券代码": "code",
        "成分券名称": "name",
        "交易所": "exchange",
        "权重": "weight",
    },
    ("日期", "成分券代码", "权重"),
)


def _span(start: date, end: date) -> dict[str, str]:
    return {"start_date": (start - PAD).strftime("%Y%m%d"), "end_date": end.strftime("%Y%m%d")}


class AkshareProvider(ResilientProvider):
    """akshare adapter: CN/HK indices and stocks, A-share share history, HK issued shares, CSI constituents."""

    @property
    def source_name(self) -> str:
        return "akshare"

    def _call(self, function: str, **kwargs) -> pd.DataFrame:
        import akshare as ak  # slow import (~2 s): only when live data is requested

        with http_guard(self.request_timeout_s, self.requests_per_second):
            return getattr(ak, function)(**kwargs)

    def _first(self, what: str, *calls: tuple[Upstream, dict]) -> pd.DataFrame:
        """The first upstream that answers (each retried on transient errors), in our column names and
        units (volume in shares), each row labelled with the upstream that produced it."""

        def attempt(up: Upstream, kwargs: dict):
            def call() -> pd.DataFrame:
                frame = tidy(self._call(up.function, **kwargs), up.columns, up.required, what)
                if "volume" in frame and up.volume_lot != 1:
                    frame["volume"] = frame["volume"] * up.volume_lot
                return frame.assign(source=up.source)

            return f"{up.host} {up.function}", call

        return first_success(what, [attempt(up, kw) for up, kw in calls], self._policy())

    def index_prices(self, index_ids: Sequence[str], start: date, end: date) -> FetchResult:
        def one(index_id: str) -> pd.DataFrame:
            c, what = index_codes(index_id), f"index {index_id}"
            if (
                c.market == "CN" and c.akshare_em
            ):  # sh000688: the catalog, never the stock rule, says Shanghai
                frame = self._first(
                    what,
                    (CN_INDEX_EM, {"symbol": c.akshare_em, **_span(start, end)}),
                    (CN_INDEX_SINA, {"symbol": c.akshare_em}),
                )
            elif c.market == "HK" and c.akshare:
                frame = self._first(
                    what,
                    (HK_INDEX_EM, {"symbol": c.akshare_em or c.akshare}),
                    (HK_INDEX_SINA, {"symbol": c.akshare}),
                )
            else:
                raise ProviderError(f"{what}: akshare has no {c.market} index history in this project")
            return within(frame, "trade_date", start, end).assign(index_id=index_id)

        return self._each(INDEX_PRICES, index_ids, one)

    def stock_prices(self, symbols: Sequence[str], start: date, end: date) -> FetchResult:
        def one(symbol: str) -> pd.DataFrame:
            lst, what = listing(symbol), f"stock {symbol}"
            if lst.is_a_share:  # eastmoney routes 6xxxxx to Shanghai from the bare code; sina needs sh/sz
                frame = self._first(
                    what,
                    (
                        A_SHARE_EM,
                        {
                            "symbol": lst.akshare_code,
                            "period": "daily",
                            "adjust": "",
                            "timeout": self.request_timeout_s,
                            **_span(start, end),
                        },
                    ),
                    (A_SHARE_SINA, {"symbol": lst.sina_code, "adjust": "", **_span(start, end)}),
                )
                frame = self._with_bonus_issues(frame, lst.akshare_code, start, end, what)
            elif lst.is_hk:
                frame = self._first(
                    what,
                    (
                        HK_STOCK_EM,
                        {"symbol": lst.akshare_code, "period": "daily", "adjust": "", **_span(start, end)},
                    ),
                    (HK_STOCK_SINA, {"symbol": lst.akshare_code, "adjust": ""}),
                )
            else:
                raise ProviderError(f"{what}: akshare covers only Shanghai, Shenzhen and Hong Kong listings")
            return within(frame, "trade_date", start, end).assign(symbol=lst.symbol, currency=lst.currency)

        return self._each(STOCK_PRICES, symbols, one)

    def _with_bonus_issues(self, frame: pd.DataFrame, code: str, start: date, end: date, what: str) -> pd.DataFrame:
        """The prices with the A-share's bonus issues of the window beside the bar of their ex-date, as a
        split ratio (10送3转4.9: 10 shares become 17.9). eastmoney's prices are as traded (adjust=""):
        nothing to undo, the split goes to raw.corporate_actions for the audits. The plans are a second
        request: when it fails the prices still load, and a split is recognised from the share count."""

        def call() -> pd.DataFrame:
            raw = self._call(BONUS_EM.function, symbol=code)
            if raw is None or raw.empty:
                return pd.DataFrame(columns=["ex_date", "per_10"])
            return pd.DataFrame({"ex_date": pd.to_datetime(raw["除权除息日"], errors="coerce").dt.date,
                                 "per_10": pd.to_numeric(raw["送转股份-送转总比例"], errors="coerce")})

        try:
            plans = call_with_retry(call, self._policy(), f"{what} bonus issues")
        except Exception as exc:  # noqa: BLE001 - the prices do not depend on it
            log.warning("%s: bonus issues not read (%s); a split is recognised from the share count alone",
                        what, describe(exc))
            return frame
        plans = plans[plans["ex_date"].notna() & (plans["per_10"] > 0)]
        plans = plans[(plans["ex_date"] >= start - PAD) & (plans["ex_date"] <= end)]
        if plans.empty:
            return frame
        ratio = dict(zip(plans["ex_date"], 1 + plans["per_10"] / 10))
        return frame.assign(split_ratio=frame["trade_date"].map(ratio), split_source=BONUS_EM.source)

    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> FetchResult:
        def one(currency: str) -> pd.DataFrame:
            code, per_usd = fx_eastmoney_code(currency)
            frame = within(
                self._first(f"fx {currency} ({code})", (FX_EM, {"symbol": code})), "trade_date", start, end
            )
            return frame.assign(
                currency=currency, usd_per_unit=1.0 / frame["rate"] if per_usd else frame["rate"]
            )

        return self._each(FX_RATES, currencies, one)

    def shares_outstanding(self, symbols: Sequence[str], start: date, end: date) -> FetchResult:
        def one(symbol: str) -> pd.DataFrame:
            lst, what = listing(symbol), f"shares {symbol}"
            if lst.is_a_share:
                # Every change in [start, end] as dated; the count in force at `start` is the carry-in
                # rule's job (MarketDataProvider.fetch widens the window and restamps it).
                history = self._first(what, (A_SHARES_EM, {"symbol": lst.eastmoney_secucode}))
                frame = within(history, "as_of_date", start, end)
            elif lst.is_hk:  # eastmoney publishes only the latest issued-share count for HK
                latest = self._first(what, (HK_SHARES_EM, {"symbol": lst.akshare_code})).head(1)
                frame = latest.assign(as_of_date=_latest_only_date(lst.timezone, start, end, what))
            else:
                raise ProviderError(f"{what}: akshare share counts cover only A-shares and Hong Kong")
            return frame.assign(symbol=lst.symbol)

        return self._each(SHARES_OUTSTANDING, symbols, one)

    def index_constituents(self, index_ids: Sequence[str], start: date, end: date) -> FetchResult:
        def one(index_id: str) -> pd.DataFrame:
            c, what = index_codes(index_id), f"constituents {index_id}"
            if c.market == "HK":
                raise ProviderError(
                    f"{what}: akshare has no Hang Seng index constituent function (Hang Seng Indexes publishes "
                    "them only on its own site); supply index_constituents.csv in a snapshot folder instead"
                )
            if c.market != "CN" or not c.akshare or c.akshare.startswith("399"):
                raise ProviderError(
                    f"{what}: csindex publishes only CSI/SSE indices; no akshare source configured"
                )
            frame = self._first(what, (CONSTITUENTS_CSINDEX, {"symbol": c.akshare}))
            exchanges = frame["exchange"] if "exchange" in frame else [None] * len(frame)
            symbols = [
                a_share_symbol(code, ex if isinstance(ex, str) else None)
                for code, ex in zip(frame["code"], exchanges)
            ]
            frame = frame.assign(index_id=index_id, symbol=symbols)
            # csindex serves only its latest list, dated by the file itself: a window ending before that
            # date cannot be served from it (that would backdate the list), and history accumulates run by run.
            published = frame["as_of_date"].max()
            if published > end:
                raise ProviderError(
                    f"{what}: csindex publishes only its latest list (dated {published}); it cannot serve "
                    f"{start}..{end}"
                )
            return within(frame, "as_of_date", start, end)

        return self._each(INDEX_CONSTITUENTS, index_ids, one)


def _latest_only_date(tz: str, start: date, end: date, what: str) -> date:
    today = today_in(tz)
    if end < today - LATEST_ONLY_GRACE or start > today:
        raise ProviderError(
            f"{what}: the source publishes only the current value (today {today}); it cannot be "
            f"backdated to {start}..{end}"
        )
    return min(today, end)
