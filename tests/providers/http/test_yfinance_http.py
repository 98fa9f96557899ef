"""YFinanceProvider over the fake wire: yfinance 1.7.0 and its default curl_cffi session run for real
(cookie and crumb handshake, time-zone lookup, v8 chart and timeseries parsing, its response cache)."""

import time
from datetime import date

import pytest

from orchestration.resources.providers.yfinance_provider import CHART_SOURCE, SHARES_SOURCE, YFinanceProvider
from tests.providers.helpers import FAST
from tests.providers.http.transport import Reply
from tests.providers.http.upstreams import HTML_ERROR, YAHOO_CHART, history_calls

D = date.fromisoformat
WEEK = (D("2026-01-12"), D("2026-01-16"))


@pytest.fixture
def yfp():
    return YFinanceProvider(**FAST)


def is_history(call) -> bool:
    return "period1" in call.url


def rows(frame, *cols):
    return [tuple(r) for r in frame[list(cols)].itertuples(index=False)]


def test_stock_rows_are_the_served_bars_in_shares_with_their_source(yfp, net, market, clock):
    result = yfp.stock_prices(["NVDA", "000660.KS"], *WEEK)
    assert result.failures == {} and net.unexpected == []
    for symbol in ("NVDA", "000660.KS"):
        served = [b for b in market.bars[f"yahoo:{symbol}"] if WEEK[0] <= b.day <= WEEK[1]]
        got = result.frame[result.frame["symbol"] == symbol]
        assert rows(got, "trade_date", "open", "high", "low", "close", "volume") == [
            (b.day, b.open, b.high, b.low, b.close, b.volume) for b in served
        ]
        assert set(got["source"]) == {CHART_SOURCE}
    assert set(result.frame.loc[result.frame["symbol"] == "000660.KS", "currency"]) == {"KRW"}


def test_503_twice_then_recovery_really_asks_again(yfp, net, market, clock):
    # Defect 1: yfinance cached the 503 page and every retry re-read it (2 requests, then failure).
    net.route(
        YAHOO_CHART + "NVDA",
        Reply(503, HTML_ERROR),
        Reply(503, HTML_ERROR),
        market.yahoo_chart,
        when=is_history,
    )
    result = yfp.stock_prices(["NVDA"], *WEEK)
    assert result.failures == {}
    assert [c.status for c in history_calls(net, "NVDA")] == [503, 503, 200]
    assert result.frame["trade_date"].tolist() == [D(f"2026-01-{d}") for d in (12, 13, 14, 15, 16)]


def test_html_error_page_then_recovery(yfp, net, market, clock):
    net.route(YAHOO_CHART + "NVDA", Reply(200, HTML_ERROR), market.yahoo_chart, when=is_history)
    result = yfp.stock_prices(["NVDA"], *WEEK)
    assert result.failures == {} and len(result.frame) == 5
    assert len(history_calls(net, "NVDA")) == 2


def test_429_storm_fails_in_bounded_time_and_requests(yfp, net, clock):
    net.route(YAHOO_CHART + "NVDA", Reply(429, "Too Many Requests", "text/plain"), when=is_history)
    started = time.monotonic()
    result = yfp.stock_prices(["NVDA"], *WEEK)
    assert time.monotonic() - started < 3
    assert "YFRateLimitError" in result.failures["NVDA"]
    # yfinance re-sends a failed request once with its other cookie strategy; each of our tries is real.
    assert len(history_calls(net, "NVDA")) == 2 * FAST["max_attempts"]


def test_stalled_request_is_cut_at_the_provider_timeout(net, market, clock):
    # Defect 4: yfinance picks its own timeouts (10 s for the time-zone lookup, 30 s for share counts).
    yfp = YFinanceProvider(**{**FAST, "request_timeout_s": 0.2})
    net.route(YAHOO_CHART + "NVDA", Reply(stall_s=30), when=is_history)
    started = time.monotonic()
    result = yfp.stock_prices(["NVDA"], *WEEK)
    shares = yfp.shares_outstanding(["NVDA"], D("2016-01-01"), WEEK[1])
    assert time.monotonic() - started < 3
    assert "Timeout" in result.failures["NVDA"] and shares.failures == {}
    assert net.calls and all(c.timeout_s is not None and c.timeout_s <= 0.2 for c in net.calls)


def test_unknown_ticker_fails_alone_without_retries(yfp, net, market, clock):
    market.unknown.add("yahoo:NOPE")
    result = yfp.stock_prices(["NVDA", "NOPE"], *WEEK)
    assert result.loaded_ids == ["NVDA"] and "delisted" in result.failures["NOPE"]


def test_dividend_leaves_the_close_unadjusted(yfp, net, market, clock):
    market.dividends["yahoo:NVDA"] = {D("2026-01-14"): 0.75}
    result = yfp.stock_prices(["NVDA"], *WEEK)
    served = {b.day: b.close for b in market.bars["yahoo:NVDA"]}
    assert dict(zip(result.frame["trade_date"], result.frame["close"])) == {
        d: c for d, c in served.items() if WEEK[0] <= d <= WEEK[1]
    }


def test_unfinished_us_session_is_not_stored(yfp, net, clock):
    clock("2026-01-16T18:00:00")  # 13:00 in New York: Friday's session is still open
    result = yfp.stock_prices(["NVDA"], *WEEK)
    assert result.frame["trade_date"].max() == D("2026-01-15")
    clock("2026-01-16T21:30:00")
    assert yfp.stock_prices(["NVDA"], *WEEK).frame["trade_date"].max() == D("2026-01-16")


def test_unfinished_fx_day_is_not_stored_until_the_new_york_close(yfp, net, market, clock):
    # Defect 2: at the Asia-close run (17:30 Hong Kong = 04:30 New York) Friday's bar is a mid-day quote.
    clock("2026-01-16T09:30:00")
    result = yfp.fx_rates(["CNY"], *WEEK)
    assert result.frame["trade_date"].tolist() == [D(f"2026-01-{d}") for d in (12, 13, 14, 15)]
    clock("2026-01-16T22:05:00")  # 17:05 New York: the day's rate is settled
    result = yfp.fx_rates(["CNY"], *WEEK)
    served = {b.day: b.close for b in market.bars["yahoo:CNY=X"]}
    assert rows(result.frame, "trade_date", "usd_per_unit") == [
        (d, pytest.approx(1 / served[d])) for d in (D(f"2026-01-{n}") for n in (12, 13, 14, 15, 16))
    ]
    assert set(result.frame["source"]) == {CHART_SOURCE}


def test_shares_are_the_counts_dated_inside_the_window(yfp, net, market, clock):
    result = yfp.shares_outstanding(["NVDA"], D("2025-01-01"), WEEK[1])
    (change,) = [c for c in market.share_changes("yahoo:NVDA") if c[0] >= D("2025-01-01")]
    assert rows(result.frame, "symbol", "as_of_date", "shares_outstanding", "source") == [
        ("NVDA", change[0], change[1], SHARES_SOURCE)
    ]
