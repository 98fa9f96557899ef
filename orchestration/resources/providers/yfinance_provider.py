"""Yahoo Finance data through yfinance: US/Japan/Korea listings, FX, Nasdaq-100, and a second source for
China/HK indices and stocks.

Ticker.history is called per symbol under our own bounded pool rather than yf.download(): download() is a
thread pool over the same per-symbol chart endpoint that swallows each ticker's error (rate limits
included) into all-NaN columns, while history() with hide_exceptions off raises typed errors we can retry
(YFRateLimitError) or report (YFPricesMissingError, YFTzMissingError).

yfinance memoises responses in memory (YfData.cache_get: the time-zone lookup and share counts always, a
price window that ended more than ~30 minutes ago too), error pages included. A retry would re-read the
cached failure without sending a request, so every retry first empties that cache."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

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
    EmptyAnswer,
    ResilientProvider,
    TransientError,
    call_with_retry,
    combine,
    guarded_curl_session,
    tidy,
    within,
)
from orchestration.resources.providers.symbols import (
    FX_TIMEZONE,
    fx_yahoo_symbol,
    index_codes,
    listing,
    local_dates,
    today_in,
)

PAD = timedelta(days=31)  # see akshare_provider.PAD: tells a holiday gap from an empty answer
# The per-row `source`: yfinance's endpoint and the host it calls (yfinance.const._BASE_URL_).
CHART_SOURCE = "yfinance:chart(query2.finance.yahoo.com)"
SHARES_SOURCE = "yfinance:timeseries(query2.finance.yahoo.com)"
_HISTORY = {
    "trade_date": "trade_date",
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Volume": "volume",
    "Stock Splits": "split_ratio",
}
_PRICES = ("open", "high", "low", "close")


def unadjust_splits(frame: pd.DataFrame) -> pd.DataFrame:
    """Prices as they traded: Yahoo's chart `close` (yfinance's Close, even with auto_adjust=False) and
    its OHLC and volume are restated for every later split. Each bar before a reported split's ex-date is
    multiplied back by the split's ratio (volume divided), so raw holds the unadjusted prices the share
    counts of their day go with; the split itself goes to raw.corporate_actions."""
    splits = frame.loc[frame["split_ratio"].fillna(0) > 0, ["trade_date", "split_ratio"]] if "split_ratio" in frame else None
    if splits is None or splits.empty:
        return frame
    frame = frame.copy()
    for ex_date, ratio in splits.itertuples(index=False):
        before = frame["trade_date"] < ex_date
        for column in (c for c in _PRICES if c in frame):
            # Rounded to 1e-6: Yahoo's restated price times the ratio is the traded price up to float noise.
            frame.loc[before, column] = (frame.loc[before, column] * ratio).round(6)
        if "volume" in frame:
            frame.loc[before, "volume"] = frame.loc[before, "volume"] / ratio
    return frame


def _yf():
    import yfinance as yf  # slow import (~2 s): only when live data is requested

    # Raise instead of logging and returning an empty frame, so unknown symbols and rate limits are seen.
    yf.config.debug.hide_exceptions = False
    return yf


def forget_cached_responses() -> None:
    """Empty yfinance's in-memory response cache, so the next call really asks Yahoo again."""
    from yfinance.data import YfData

    YfData.cache_get.cache_clear()


def open_persistent_caches() -> None:
    """Create yfinance's on-disk caches (time zones, cookies: SQLite in WAL mode) from this one thread.

    Opened lazily instead, the pool's first requests each switch a new file to WAL at the same moment, and
    SQLite answers that race with "database is locked" at once, without waiting."""
    from yfinance import cache

    for opened in (cache.get_tz_cache(), cache.get_cookie_cache()):
        initialise = getattr(opened, "initialise", None)  # the dummy caches (no writable folder) have none
        if initialise is not None:
            initialise()


def _retrying(fn, what: str = "yfinance"):
    """fn on the first try; on every later try (a retry) yfinance's response cache is emptied first, and
    Yahoo's "down" page, which yfinance reports as a data error, counts as transient."""
    tries = [0]

    def call():
        tries[0] += 1
        if tries[0] > 1:
            forget_cached_responses()
        try:
            return fn()
        except Exception as exc:
            # A chart answer without bars and without Yahoo's own reason is an empty answer, not the
            # "possibly delisted" yfinance speculates: an unknown symbol comes with Yahoo's error text.
            if type(exc).__name__ == "YFPricesMissingError" and getattr(exc, "yahoo_reason", "") is None:
                raise EmptyAnswer(f"{what}: Yahoo answered with no bars{getattr(exc, 'debug_info', '')}") from exc
            if "CURRENTLY DOWN" in str(exc):
                raise TransientError(f"Yahoo Finance is down: {exc}") from exc
            if "database is locked" in str(exc):  # yfinance's cache file, busy in another process
                raise TransientError(f"yfinance's cache is busy: {exc}") from exc
            raise

    return call


class YFinanceProvider(ResilientProvider):
    """yfinance adapter. Unadjusted OHLC (auto_adjust=False), exchange-local dates."""

    @property
    def source_name(self) -> str:
        return "yfinance"

    def _session(self):
        """Every request yfinance sends (time zone, cookie, crumb, data) goes through this session: throttled
        per host and bounded by request_timeout_s, whatever timeout yfinance picked for it."""
        return guarded_curl_session(self.request_timeout_s, self.requests_per_second)

    def _each(self, dataset, ids, fetch_one):
        _yf()
        open_persistent_caches()
        return super()._each(dataset, ids, fetch_one)

    def _ticker(self, symbol: str):
        return _yf().Ticker(symbol, session=self._session())

    def _history(self, ticker: str, start: date, end: date, tz: str, what: str) -> pd.DataFrame:
        # Asked through today, not just to `end`: Yahoo's close is split-adjusted for every split up to
        # now, and only the splits the answer reports can undo that (see unadjust_splits).
        through = max(end, today_in(tz))

        def call() -> pd.DataFrame:
            raw = self._ticker(ticker).history(
                start=(start - PAD).isoformat(),
                end=(through + timedelta(days=1)).isoformat(),  # end is exclusive
                interval="1d",
                auto_adjust=False,
                actions=True,
                # repair=False (the default), on purpose: docs/data-quality.md, "yfinance's repair".
                repair=False,
                timeout=self.request_timeout_s,
            )
            if raw is not None and not raw.empty:
                # history() stamps daily bars at exchange-local midnight; convert explicitly, never via UTC.
                raw = raw.assign(trade_date=local_dates(raw.index, str(raw.index.tz or tz)))
            return unadjust_splits(tidy(raw, _HISTORY, ("trade_date", "Close"), f"{what} ({ticker})"))

        frame = call_with_retry(_retrying(call, f"{what} ({ticker})"), self._policy(), what)
        return within(frame, "trade_date", start, end).assign(source=CHART_SOURCE)

    def index_prices(self, index_ids: Sequence[str], start: date, end: date) -> FetchResult:
        def one(index_id: str) -> pd.DataFrame:
            codes = index_codes(index_id)
            if not codes.yahoo:
                raise ProviderError(f"index {index_id}: no Yahoo symbol in the index catalog")
            frame = self._history(codes.yahoo, start, end, codes.timezone, f"index {index_id}")
            return frame.assign(index_id=index_id)

        return self._each(INDEX_PRICES, index_ids, one)

    def stock_prices(self, symbols: Sequence[str], start: date, end: date) -> FetchResult:
        def one(symbol: str) -> pd.DataFrame:
            lst = listing(symbol)
            frame = self._history(lst.symbol, start, end, lst.timezone, f"stock {symbol}")
            return frame.assign(symbol=lst.symbol, currency=lst.currency)

        return self._each(STOCK_PRICES, symbols, one)

    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> FetchResult:
        def one(currency: str) -> pd.DataFrame:
            if currency.upper() == "USD":
                raise ProviderError("fx USD: the base currency needs no rate")
            frame = self._history(fx_yahoo_symbol(currency), start, end, FX_TIMEZONE, f"fx {currency}")
            # CNY=X is CNY per US dollar; the warehouse stores US dollars per unit.
            return frame.assign(currency=currency.upper(), usd_per_unit=1.0 / frame["close"])

        return self._each(FX_RATES, currencies, one)

    def shares_outstanding(self, symbols: Sequence[str], start: date, end: date) -> FetchResult:
        def one(symbol: str) -> pd.DataFrame:
            lst, what = listing(symbol), f"shares {symbol}"

            def call() -> pd.DataFrame:
                series = self._ticker(lst.symbol).get_shares_full(
                    start=start.isoformat(), end=(end + timedelta(days=1)).isoformat()
                )
                if series is None or len(series) == 0:
                    raise EmptyAnswer(f"{what}: Yahoo returned no share-count history")
                index = pd.DatetimeIndex(series.index)
                raw = pd.DataFrame(
                    {
                        "as_of_date": local_dates(index, str(index.tz or lst.timezone)),
                        "shares_outstanding": series.to_numpy(),
                    }
                )
                return tidy(
                    raw,
                    {"as_of_date": "as_of_date", "shares_outstanding": "shares_outstanding"},
                    ("as_of_date", "shares_outstanding"),
                    what,
                )

            # Every count dated in [start, end]; the count in force at `start` is the carry-in rule's job
            # (MarketDataProvider.fetch widens the window and restamps it).
            frame = call_with_retry(_retrying(call, what), self._policy(), what)
            frame = frame.sort_values("as_of_date").drop_duplicates("as_of_date", keep="last")
            return within(frame, "as_of_date", start, end).assign(symbol=lst.symbol, source=SHARES_SOURCE)

        return self._each(SHARES_OUTSTANDING, symbols, one)

    def index_constituents(self, index_ids: Sequence[str], start: date, end: date) -> FetchResult:
        failures = {i: f"constituents {i}: Yahoo Finance publishes no index constituents" for i in index_ids}
        return FetchResult(
            INDEX_CONSTITUENTS, combine([], INDEX_CONSTITUENTS.column_names), self.source_name, failures
        )
