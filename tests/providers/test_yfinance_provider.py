"""YFinanceProvider against replayed Yahoo v8 chart and fundamentals-timeseries payloads, parsed by the
installed yfinance (history(), get_shares_full(), cookie/crumb handling and all)."""

import copy
from datetime import date

import pytest
import responses

from orchestration.resources.providers.yfinance_provider import YFinanceProvider
from tests.providers.helpers import FAST, YAHOO_SHARES, chart_closes, load, serve_chart, yahoo_chart_url

D = date.fromisoformat


@pytest.fixture
def yfp():
    return YFinanceProvider(**FAST)


def test_us_close_after_midnight_utc_keeps_the_us_date(yfp, yahoo):
    serve_chart(yahoo, "NVDA", (200, load("yahoo_chart_NVDA.json")))
    result = yfp.stock_prices(["NVDA"], D("2026-01-13"), D("2026-01-15"))
    assert result.failures == {}
    frame = result.frame
    # The 2026-01-15 bar is stamped 2026-01-16 01:00 UTC: still the 15th in New York.
    assert frame["trade_date"].tolist() == [D("2026-01-13"), D("2026-01-14"), D("2026-01-15")]
    assert frame["close"].tolist() == chart_closes("yahoo_chart_NVDA.json")[-3:]
    assert set(frame["currency"]) == {"USD"} and result.source == "yfinance"


def test_unadjusted_close_not_adj_close(yfp, yahoo):
    serve_chart(yahoo, "NVDA", (200, load("yahoo_chart_NVDA.json")))
    frame = yfp.stock_prices(["NVDA"], D("2026-01-15"), D("2026-01-15")).frame
    doc = load("yahoo_chart_NVDA.json")["chart"]["result"][0]["indicators"]
    assert frame["close"].tolist() == [doc["quote"][0]["close"][-1]] != [doc["adjclose"][0]["adjclose"][-1]]


def test_hk_index_stamped_at_local_midnight_maps_to_hk_dates(yfp, yahoo):
    serve_chart(yahoo, "HSTECH.HK", (200, load("yahoo_chart_HSTECH.HK.json")))
    result = yfp.index_prices(["HSTECH"], D("2026-01-14"), D("2026-01-16"))
    assert result.frame["trade_date"].tolist() == [D("2026-01-14"), D("2026-01-15"), D("2026-01-16")]
    assert set(result.frame["index_id"]) == {"HSTECH"}


def test_fx_is_inverted_to_usd_per_unit(yfp, yahoo):
    serve_chart(yahoo, "CNY=X", (200, load("yahoo_chart_CNY=X.json")))
    result = yfp.fx_rates(["CNY"], D("2026-01-16"), D("2026-01-16"))
    cny_per_usd = chart_closes("yahoo_chart_CNY=X.json")[-1]
    assert result.frame[["currency", "trade_date"]].values.tolist() == [["CNY", D("2026-01-16")]]
    assert result.frame["usd_per_unit"].tolist() == [pytest.approx(1 / cny_per_usd)]


def test_rate_limit_then_success_is_retried(yfp, yahoo):
    # yfinance retries a 429 once itself, then raises YFRateLimitError: our retry gets the third reply.
    serve_chart(
        yahoo,
        "NVDA",
        (429, "Too Many Requests"),
        (429, "Too Many Requests"),
        (200, load("yahoo_chart_NVDA.json")),
    )
    result = yfp.stock_prices(["NVDA"], D("2026-01-15"), D("2026-01-15"))
    assert result.failures == {} and len(result.frame) == 1
    history = [c for c in yahoo.calls if "period1" in c.request.url]
    assert [c.response.status_code for c in history] == [429, 429, 200]


def test_unknown_ticker_fails_alone_and_loudly(yfp, yahoo):
    serve_chart(yahoo, "NVDA", (200, load("yahoo_chart_NVDA.json")))
    yahoo.add(responses.GET, yahoo_chart_url("NOPE"), status=404, json=load("yahoo_chart_not_found.json"))
    result = yfp.stock_prices(["NVDA", "NOPE"], D("2026-01-15"), D("2026-01-15"))
    assert result.loaded_ids == ["NVDA"]
    assert "NOPE" in result.failures["NOPE"] and "delisted" in result.failures["NOPE"]


@pytest.mark.filterwarnings("ignore::FutureWarning")  # yfinance's own fillna downcast on all-null volumes
def test_all_null_closes_are_an_empty_frame_error(yfp, yahoo):
    doc = copy.deepcopy(load("yahoo_chart_NVDA.json"))
    quote = doc["chart"]["result"][0]["indicators"]["quote"][0]
    for key in quote:
        quote[key] = [None] * len(quote[key])
    doc["chart"]["result"][0]["indicators"]["adjclose"][0]["adjclose"] = [None] * len(quote["close"])
    serve_chart(yahoo, "NVDA", (200, doc))
    result = yfp.stock_prices(["NVDA"], D("2026-01-13"), D("2026-01-15"))
    assert result.frame.empty
    assert "stock NVDA (NVDA): upstream returned no rows" in result.failures["NVDA"]


def test_shares_history_carried_into_the_window(yfp, yahoo):
    serve_chart(yahoo, "NVDA", (200, load("yahoo_chart_NVDA.json")))
    yahoo.add(responses.GET, YAHOO_SHARES, json=load("yahoo_shares_NVDA.json"))
    jan = yfp.shares_outstanding(["NVDA"], D("2026-01-05"), D("2026-01-16"))
    assert jan.frame[["symbol", "as_of_date", "shares_outstanding"]].values.tolist() == [
        ["NVDA", D("2026-01-05"), 24_300_000_000.0]
    ]
    h2 = yfp.shares_outstanding(["NVDA"], D("2025-07-01"), D("2025-12-31"))
    assert h2.frame["as_of_date"].tolist() == [D("2025-07-01"), D("2025-07-31"), D("2025-11-20")]


def test_no_constituents_from_yahoo(yfp):
    result = yfp.index_constituents(["STAR50"], D("2026-01-15"), D("2026-01-15"))
    assert result.frame.empty and "publishes no index constituents" in result.failures["STAR50"]
