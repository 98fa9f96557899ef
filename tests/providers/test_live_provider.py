"""LiveProvider: per-id routing between akshare and yfinance, cross-library fallback, fail-fast reachability."""

import time
from datetime import date

import akshare
import pandas as pd
import pytest
import responses

from orchestration.resources.providers import live
from orchestration.resources.providers.base import SourceUnreachableError
from orchestration.resources.providers.live import LiveProvider
from tests.providers.helpers import (
    CSINDEX,
    FAST,
    csindex_xls_bytes,
    load,
    serve_chart,
    serve_klines,
    yahoo_chart_url,
)

D = date.fromisoformat
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning")


@pytest.fixture
def provider():
    return LiveProvider(**FAST)


def test_routes_mainland_and_hk_to_akshare_and_us_to_yfinance(provider, yahoo):
    serve_klines(yahoo, {"1.688256": "em_stock_688256.json", "116.00700": "em_hk_00700.json"})
    serve_chart(yahoo, "NVDA", (200, load("yahoo_chart_NVDA.json")))
    result = provider.stock_prices(["688256.SS", "0700.HK", "NVDA"], D("2026-01-15"), D("2026-01-15"))
    assert result.failures == {}
    assert result.frame[["symbol", "currency"]].values.tolist() == [
        ["688256.SS", "CNY"],
        ["0700.HK", "HKD"],
        ["NVDA", "USD"],
    ]
    assert result.source == "akshare+yfinance"
    assert not any("yahoo" in c.request.url and "688256" in c.request.url for c in yahoo.calls)


def test_index_falls_back_from_eastmoney_to_sina_to_yahoo(provider, yahoo, monkeypatch):
    serve_klines(yahoo, {}, missing=(502, "Bad Gateway"))  # eastmoney answers 502 for everything
    monkeypatch.setattr(
        akshare, "stock_zh_index_daily", lambda symbol: (_ for _ in ()).throw(KeyError("date"))
    )
    serve_chart(yahoo, "000688.SS", (200, load("yahoo_chart_000688.SS.json")))
    result = provider.index_prices(["STAR50"], D("2026-01-14"), D("2026-01-16"))
    assert result.failures == {} and result.source == "yfinance"
    assert result.frame["trade_date"].tolist() == [D("2026-01-14"), D("2026-01-15"), D("2026-01-16")]


def test_every_upstream_failing_reports_each_reason(provider, yahoo, monkeypatch):
    serve_klines(yahoo, {}, missing=(502, "Bad Gateway"))
    monkeypatch.setattr(akshare, "stock_zh_a_daily", lambda **kw: pd.DataFrame())
    yahoo.add(
        responses.GET, yahoo_chart_url("688256.SS"), status=404, json=load("yahoo_chart_not_found.json")
    )
    result = provider.stock_prices(["688256.SS"], D("2026-01-15"), D("2026-01-15"))
    reason = result.failures["688256.SS"]
    assert "[akshare]" in reason and "HTTP 502" in reason and "sina stock_zh_a_daily" in reason
    assert "| then [yfinance]" in reason


def test_constituents_star50_live_and_hstech_reported_missing(provider, http, clock):
    http.add(responses.GET, CSINDEX, body=csindex_xls_bytes())
    result = provider.index_constituents(["STAR50", "HSTECH"], D("2026-01-20"), D("2026-01-20"))
    assert set(result.frame["index_id"]) == {"STAR50"} and len(result.frame) == 5
    assert "Hang Seng" in result.failures["HSTECH"] and "snapshot folder" in result.failures["HSTECH"]


def test_fx_from_yahoo_first(provider, yahoo):
    serve_chart(yahoo, "CNY=X", (200, load("yahoo_chart_CNY=X.json")))
    result = provider.fx_rates(["CNY"], D("2026-01-15"), D("2026-01-16"))
    assert result.source == "yfinance" and len(result.frame) == 2
    assert (result.frame["usd_per_unit"] < 0.2).all()


def test_check_reachable_fails_fast_when_the_network_is_blocked(provider):
    started = time.monotonic()
    with pytest.raises(SourceUnreachableError) as err:
        provider.check_reachable(timeout_s=5)
    assert time.monotonic() - started < 10
    message = str(err.value)
    assert "unreachable" in message and "make demo" in message
    assert "eastmoney" in message and "yahoo" in message


def test_partially_reachable_routes_around_the_dead_library(provider, yahoo, monkeypatch):
    monkeypatch.setattr(live, "probe", lambda url, timeout_s: None if "yahoo" in url else "DNS lookup failed")
    status = provider.check_reachable(timeout_s=1)
    assert status == {"eastmoney": "DNS lookup failed", "sina": "DNS lookup failed", "yahoo": None}
    serve_chart(yahoo, "000688.SS", (200, load("yahoo_chart_000688.SS.json")))
    result = provider.index_prices(["STAR50"], D("2026-01-16"), D("2026-01-16"))
    assert result.source == "yfinance" and len(result.frame) == 1
    assert not any("eastmoney" in c.request.url for c in yahoo.calls)
