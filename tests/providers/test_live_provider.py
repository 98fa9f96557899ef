"""LiveProvider: per-id routing between akshare and yfinance, cross-library fallback, fail-fast reachability.
Over the fake network (tests/providers/http): both libraries run on their real transports' code."""

import time
from datetime import date

import pytest

from orchestration.datasets import INDEX_CONSTITUENTS, SHARES_OUTSTANDING
from orchestration.resources.providers import live
from orchestration.resources.providers.base import SourceUnreachableError
from orchestration.resources.providers.live import LiveProvider
from tests.providers.helpers import FAST
from tests.providers.http.transport import Reply
from tests.providers.http.upstreams import EM_KLINE

D = date.fromisoformat
CHART = "yfinance:chart(query2.finance.yahoo.com)"
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning")


@pytest.fixture
def provider():
    return LiveProvider(**FAST)


def test_routes_mainland_and_hk_to_akshare_and_us_to_yfinance(provider, net, clock):
    result = provider.stock_prices(["688256.SS", "0700.HK", "NVDA"], D("2026-01-15"), D("2026-01-15"))
    assert result.failures == {}
    assert result.frame[["symbol", "currency", "source"]].values.tolist() == [
        ["688256.SS", "CNY", "akshare:stock_zh_a_hist(eastmoney)"],
        ["0700.HK", "HKD", "akshare:stock_hk_hist(eastmoney)"],
        ["NVDA", "USD", CHART],
    ]
    assert result.source == "akshare+yfinance"
    assert not any("yahoo" in c.url and "688256" in c.url for c in net.calls)


def test_index_falls_back_from_eastmoney_to_sina_to_yahoo(provider, net, market, clock):
    net.route(EM_KLINE, Reply(502, "Bad Gateway"))  # eastmoney down; sina is not served: fails at once
    result = provider.index_prices(["STAR50"], D("2026-01-14"), D("2026-01-16"))
    assert result.failures == {} and result.source == "yfinance"
    assert result.frame["trade_date"].tolist() == [D("2026-01-14"), D("2026-01-15"), D("2026-01-16")]
    assert set(result.frame["source"]) == {CHART}  # each row names the fallback that produced it
    assert any("sina" in url for url in net.unexpected)


def test_every_upstream_failing_reports_each_reason(provider, net, market, clock):
    net.route(EM_KLINE, Reply(502, "Bad Gateway"))
    market.unknown.add("yahoo:688256.SS")
    result = provider.stock_prices(["688256.SS"], D("2026-01-15"), D("2026-01-15"))
    reason = result.failures["688256.SS"]
    assert "[akshare]" in reason and "HTTP 502" in reason and "sina stock_zh_a_daily" in reason
    assert "| then [yfinance]" in reason and "delisted" in reason


def test_constituents_star50_live_and_hstech_reported_missing(provider, net, market, clock):
    result = provider.fetch(INDEX_CONSTITUENTS, ["STAR50", "HSTECH"], D("2026-01-15"), D("2026-01-20"))
    assert set(result.frame["index_id"]) == {"STAR50"} and len(result.frame) == 5
    assert set(result.frame["as_of_date"]) == {market.constituents_date}
    assert "Hang Seng" in result.failures["HSTECH"] and "snapshot folder" in result.failures["HSTECH"]


def test_fx_from_yahoo_first(provider, net, clock):
    result = provider.fx_rates(["CNY"], D("2026-01-15"), D("2026-01-16"))
    assert result.source == "yfinance" and len(result.frame) == 2
    assert set(result.frame["source"]) == {CHART}


def test_as_of_rows_are_carried_in_once_not_restamped_by_the_adapters(provider, net, market, clock):
    # The window opens between two share counts: the one in force (2025-12-31) is carried to its start.
    result = provider.fetch(SHARES_OUTSTANDING, ["688256.SS", "NVDA"], D("2026-01-12"), D("2026-01-16"))
    assert result.frame[["symbol", "as_of_date", "source"]].values.tolist() == [
        ["688256.SS", D("2026-01-12"), "akshare:stock_zh_a_gbjg_em(eastmoney)"],
        ["NVDA", D("2026-01-12"), "yfinance:timeseries(query2.finance.yahoo.com)"],
    ]


def test_check_reachable_fails_fast_when_the_network_is_blocked(provider):
    started = time.monotonic()
    with pytest.raises(SourceUnreachableError) as err:
        provider.check_reachable(timeout_s=5)
    assert time.monotonic() - started < 10
    message = str(err.value)
    assert "unreachable" in message and "make demo" in message
    assert "eastmoney" in message and "yahoo" in message


def test_partially_reachable_routes_around_the_dead_library(provider, net, monkeypatch, clock):
    monkeypatch.setattr(live, "probe", lambda url, timeout_s: None if "yahoo" in url else "DNS lookup failed")
    status = provider.check_reachable(timeout_s=1)
    assert status == {"eastmoney": "DNS lookup failed", "sina": "DNS lookup failed", "yahoo": None}
    result = provider.index_prices(["STAR50"], D("2026-01-16"), D("2026-01-16"))
    assert result.source == "yfinance" and len(result.frame) == 1
    assert not any("eastmoney" in c.url for c in net.calls)
