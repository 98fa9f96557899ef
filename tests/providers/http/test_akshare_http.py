"""AkshareProvider over the fake wire: akshare 1.19.5 and `requests` run for real (URLs, parameters,
JSON and spreadsheet parsing); only HTTPAdapter.send answers. Sina is not served: its fallbacks fail at
once, as an unknown host does."""

import time
from datetime import date

import pytest

from orchestration.resources.providers.akshare_provider import AkshareProvider
from tests.providers.helpers import FAST
from tests.providers.http.transport import Reply
from tests.providers.http.upstreams import CSINDEX, EM_DATACENTER, EM_KLINE, HTML_ERROR

D = date.fromisoformat
WEEK = (D("2026-01-12"), D("2026-01-16"))
# akshare's own chained assignments (silenced for akshare modules in production; pytest resets filters).
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning")


@pytest.fixture
def ak():
    return AkshareProvider(**FAST)


def served(market, key, start=WEEK[0], end=WEEK[1]):
    return [b for b in market.bars[key] if start <= b.day <= end]


def klines(net, secid):
    return [c for c in net.to(EM_KLINE) if c.params.get("secid") == secid]


def test_prices_land_in_shares_with_the_upstream_per_row(ak, net, market, clock):
    stocks = ak.stock_prices(["688256.SS", "002230.SZ", "0700.HK"], *WEEK)
    indices = ak.index_prices(["STAR50", "HSTECH"], *WEEK)
    assert stocks.failures == {} and indices.failures == {}
    # Defect 3: eastmoney serves A-share and CN index volume in lots of 100; the warehouse holds shares.
    for symbol, secid in (("688256.SS", "1.688256"), ("002230.SZ", "0.002230"), ("0700.HK", "116.00700")):
        got = stocks.frame[stocks.frame["symbol"] == symbol]
        assert list(zip(got["trade_date"], got["close"], got["volume"])) == [
            (b.day, b.close, b.volume) for b in served(market, f"em:{secid}")
        ]
    star = indices.frame[indices.frame["index_id"] == "STAR50"]
    assert star["volume"].tolist() == [b.volume for b in served(market, "em:1.000688")]
    sources = stocks.frame.groupby("symbol")["source"].unique().map(list).to_dict()
    assert sources == {
        "688256.SS": ["akshare:stock_zh_a_hist(eastmoney)"],
        "002230.SZ": ["akshare:stock_zh_a_hist(eastmoney)"],
        "0700.HK": ["akshare:stock_hk_hist(eastmoney)"],
    }
    assert set(indices.frame["source"]) == {
        "akshare:stock_zh_index_daily_em(eastmoney)",
        "akshare:stock_hk_index_daily_em(eastmoney)",
    }
    assert {c.params["secid"] for c in net.to(EM_KLINE)} >= {"1.000688", "124.HSTECH"}


def test_503_twice_then_recovery(ak, net, market, clock):
    net.route(EM_KLINE, Reply(503, HTML_ERROR), Reply(503, HTML_ERROR), market.em_kline)
    result = ak.stock_prices(["688256.SS"], *WEEK)
    assert result.failures == {} and len(result.frame) == 5
    assert [c.status for c in klines(net, "1.688256")] == [503, 503, 200]


def test_html_error_page_then_recovery(ak, net, market, clock):
    net.route(EM_KLINE, Reply(200, HTML_ERROR), market.em_kline)
    result = ak.stock_prices(["688256.SS"], *WEEK)
    assert result.failures == {} and len(klines(net, "1.688256")) == 2


def test_429_storm_fails_in_bounded_time(ak, net, clock):
    net.route(EM_KLINE, Reply(429, "Too Many Requests", "text/plain"))
    started = time.monotonic()
    result = ak.stock_prices(["688256.SS", "002230.SZ"], *WEEK)
    assert time.monotonic() - started < 3
    assert set(result.failures) == {"688256.SS", "002230.SZ"}
    assert "HTTP 429 from push2his.eastmoney.com" in result.failures["688256.SS"]
    assert len(klines(net, "1.688256")) == FAST["max_attempts"]
    assert any("sina" in url for url in net.unexpected)  # the fallback was tried and failed at once


def test_unknown_code_fails_alone_asked_once_more_not_retried(ak, net, market, clock):
    # eastmoney answers an unknown code as it answers a busy moment, with no rows: a configured code is
    # asked once more (an empty answer), never max_attempts times.
    market.unknown.add("em:1.688999")
    result = ak.stock_prices(["688256.SS", "688999.SS"], *WEEK)
    assert result.loaded_ids == ["688256.SS"]
    assert (
        "eastmoney stock_zh_a_hist: stock 688999.SS: upstream returned no rows"
        in result.failures["688999.SS"]
    )
    assert "asked 2 times" in result.failures["688999.SS"]
    assert len(klines(net, "1.688999")) == 2


def test_stalled_request_is_cut_at_the_provider_timeout_whatever_akshare_asks(net, market, clock):
    # Defect 4: akshare passes timeout=15 for HK history and 30 for the share structure.
    ak = AkshareProvider(**{**FAST, "request_timeout_s": 0.2})
    net.route(EM_KLINE, Reply(stall_s=5), when=lambda c: c.params.get("secid") == "116.00700")
    started = time.monotonic()
    hk = ak.stock_prices(["0700.HK"], *WEEK)
    shares = ak.shares_outstanding(["688256.SS"], D("2016-01-01"), WEEK[1])
    assert time.monotonic() - started < 3
    assert "ReadTimeout" in hk.failures["0700.HK"] and shares.failures == {}
    assert len(klines(net, "116.00700")) == FAST["max_attempts"]
    assert all(c.timeout_s == 0.2 for c in net.calls if c.transport == "requests" and "eastmoney" in c.host)


def test_unfinished_session_is_not_stored(ak, net, clock):
    clock("2026-01-16T05:00:00")  # 13:00 in Shanghai and Hong Kong: Friday's sessions are still open
    result = ak.stock_prices(["688256.SS", "0700.HK"], *WEEK)
    assert set(result.frame["trade_date"]) == {D(f"2026-01-{d}") for d in (12, 13, 14, 15)}
    clock("2026-01-16T08:30:00")  # 16:30: both closed
    assert ak.stock_prices(["688256.SS", "0700.HK"], *WEEK).frame["trade_date"].max() == D("2026-01-16")


def test_unfinished_fx_day_from_eastmoney_is_not_stored(ak, net, market, clock):
    # Defect 2, on the fallback FX path: the 17:30 Hong Kong run sees Friday's CNH quote mid-London-day.
    clock("2026-01-16T09:30:00")
    result = ak.fx_rates(["CNY"], *WEEK)
    assert result.frame["trade_date"].max() == D("2026-01-15")
    clock("2026-01-16T22:05:00")
    result = ak.fx_rates(["CNY"], *WEEK)
    assert list(zip(result.frame["trade_date"], result.frame["usd_per_unit"])) == [
        (b.day, pytest.approx(1 / b.close)) for b in served(market, "em:133.USDCNH")
    ]
    assert set(result.frame["source"]) == {"akshare:forex_hist_em(eastmoney)"}


def test_dividend_is_not_adjusted_into_the_close(ak, net, market, clock):
    market.dividends["em:1.688256"] = {D("2026-01-14"): 2.5}
    result = ak.stock_prices(["688256.SS"], *WEEK)
    assert {c.params["fqt"] for c in klines(net, "1.688256")} == {"0"}
    assert result.frame["close"].tolist() == [b.close for b in served(market, "em:1.688256")]


def test_a_share_counts_are_the_changes_dated_inside_the_window(ak, net, market, clock):
    result = ak.shares_outstanding(["688256.SS"], D("2025-01-01"), WEEK[1])
    (change,) = [c for c in market.share_changes("em:688256.SH") if c[0] >= D("2025-01-01")]
    assert list(
        result.frame[["as_of_date", "shares_outstanding", "source"]].itertuples(index=False, name=None)
    ) == [(change[0], change[1], "akshare:stock_zh_a_gbjg_em(eastmoney)")]
    assert '(SECUCODE="688256.SH")' in net.to(EM_DATACENTER)[0].params["filter"]


def test_csindex_constituents_keep_the_files_own_date(ak, net, market, clock):
    # Defect 5: the run on 2026-01-20 stamped the list 2026-01-20; the file says 2026-01-15.
    result = ak.index_constituents(["STAR50", "HSTECH"], D("2025-01-01"), D("2026-01-20"))
    assert net.to(CSINDEX)[0].url.endswith("/000688closeweight.xls")
    frame = result.frame
    assert set(frame["as_of_date"]) == {D("2026-01-15")}
    assert list(zip(frame["symbol"], frame["name"], frame["weight"])) == [
        (f"{code}.SS", name, w) for code, name, w in market.CONSTITUENTS
    ]
    assert set(frame["source"]) == {"akshare:index_stock_cons_weight_csindex(csindex)"}
    assert "no Hang Seng index constituent function" in result.failures["HSTECH"]
    older = ak.index_constituents(["STAR50"], D("2025-06-01"), D("2025-06-30"))
    assert "cannot serve 2025-06-01..2025-06-30" in older.failures["STAR50"]
