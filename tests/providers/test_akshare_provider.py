"""AkshareProvider against replayed eastmoney/csindex HTTP payloads, parsed by the installed akshare.

Sina's upstream sends JavaScript-obfuscated payloads that akshare decodes in V8, so the sina fallbacks are
replaced at the library-function boundary with frames in the shape those functions return."""

from datetime import date
from urllib.parse import parse_qs, urlsplit

import akshare
import pandas as pd
import pytest
import responses

from orchestration.resources.providers.akshare_provider import AkshareProvider
from tests.providers.helpers import (
    CSINDEX,
    EM_CLIST,
    EM_DATACENTER,
    EM_KLINE,
    FAST,
    csindex_xls_bytes,
    em_close,
    load,
    serve_klines,
)

D = date.fromisoformat
# akshare's own chained assignments (silenced for akshare modules in production; pytest resets filters).
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning")


@pytest.fixture
def ak():
    return AkshareProvider(**FAST)


def params(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def sina_frame(dates: list[str], closes: list[float]) -> pd.DataFrame:
    """The shape of stock_zh_a_daily / stock_zh_index_daily / stock_hk_daily with adjust=''."""
    return pd.DataFrame(
        {
            "date": [D(d) for d in dates],
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "volume": [1e6] * len(closes),
        }
    )


def test_a_shares_normal_day_routed_to_their_exchange_unadjusted(ak, http):
    asked = serve_klines(
        http,
        {
            "1.688256": "em_stock_688256.json",
            "0.002230": "em_stock_002230.json",
            "0.300308": "em_stock_300308.json",
        },
    )
    result = ak.stock_prices(["688256.SS", "002230.SZ", "300308.SZ"], D("2026-01-15"), D("2026-01-15"))
    assert result.failures == {}
    assert sorted(asked) == ["0.002230", "0.300308", "1.688256"]  # 6xxxxx Shanghai, 0/3xxxxx Shenzhen
    assert {params(c)["fqt"] for c in http.calls} == {"0"}  # adjust='' -> unadjusted
    rows = result.frame.set_index("symbol")
    assert rows.loc["688256.SS", "trade_date"] == D("2026-01-15")
    assert rows.loc["688256.SS", "close"] == em_close("em_stock_688256.json", "2026-01-15")
    assert rows.loc["002230.SZ", "close"] == em_close("em_stock_002230.json", "2026-01-15")
    assert set(rows["currency"]) == {"CNY"} and result.source == "akshare"


def test_holiday_gap_is_not_a_failure_and_no_rows_are_invented(ak, http):
    serve_klines(http, {"1.688256": "em_stock_688256.json"})
    closed = ak.stock_prices(["688256.SS"], D("2026-02-16"), D("2026-02-23"))  # Spring Festival
    assert closed.failures == {} and closed.frame.empty
    around = ak.stock_prices(["688256.SS"], D("2026-02-13"), D("2026-02-24"))
    assert around.frame["trade_date"].tolist() == [D("2026-02-13"), D("2026-02-24")]


def test_empty_frame_is_an_error_naming_the_symbol(ak, http, monkeypatch):
    serve_klines(http, {"1.688256": {"rc": 0, "data": {"code": "688256", "klines": []}}})
    monkeypatch.setattr(akshare, "stock_zh_a_daily", lambda **kw: pd.DataFrame())
    result = ak.stock_prices(["688256.SS"], D("2026-01-15"), D("2026-01-15"))
    assert result.frame.empty
    reason = result.failures["688256.SS"]
    assert (
        "stock 688256.SS" in reason
        and "eastmoney stock_zh_a_hist: stock 688256.SS: upstream returned no rows" in reason
    )
    assert "sina stock_zh_a_daily" in reason


def test_renamed_column_is_an_error_with_the_columns_seen(ak, monkeypatch):
    drifted = pd.DataFrame(
        {
            "日期": [D("2026-01-15")],
            "股票代码": ["688256"],
            "开盘": [1.0],
            "收盘价": [1.0],
            "最高": [1.0],
            "最低": [1.0],
            "成交量": [1.0],
        }
    )
    monkeypatch.setattr(akshare, "stock_zh_a_hist", lambda **kw: drifted)
    monkeypatch.setattr(akshare, "stock_zh_a_daily", lambda **kw: drifted.rename(columns={"日期": "date"}))
    result = ak.stock_prices(["688256.SS"], D("2026-01-15"), D("2026-01-15"))
    reason = result.failures["688256.SS"]
    assert "['收盘'] not found; columns seen: ['日期', '股票代码', '开盘', '收盘价'" in reason
    assert "['date', 'close'] not found" in reason or "['close'] not found" in reason


def test_payload_drift_at_the_http_layer_is_reported_not_retried(ak, http, monkeypatch):
    doc = load("em_stock_688256.json")
    doc["data"]["klines"] = [line + ",0.0" for line in doc["data"]["klines"]]  # a 12th field appears
    asked = serve_klines(http, {"1.688256": doc})
    monkeypatch.setattr(akshare, "stock_zh_a_daily", lambda **kw: (_ for _ in ()).throw(KeyError("date")))
    result = ak.stock_prices(["688256.SS"], D("2026-01-15"), D("2026-01-15"))
    assert "Length mismatch" in result.failures["688256.SS"]
    assert len(asked) == 1


def test_429_then_success_is_retried(ak, http):
    http.add(responses.GET, EM_KLINE, status=429, body="Too Many Requests")
    http.add(responses.GET, EM_KLINE, json=load("em_stock_688256.json"))
    result = ak.stock_prices(["688256.SS"], D("2026-01-15"), D("2026-01-16"))
    assert result.failures == {}
    assert [c.response.status_code for c in http.calls] == [429, 200]
    assert result.frame["close"].tolist() == [
        em_close("em_stock_688256.json", d) for d in ("2026-01-15", "2026-01-16")
    ]


def test_one_unknown_symbol_among_many_fails_alone(ak, http, monkeypatch):
    asked = serve_klines(http, {"1.688256": "em_stock_688256.json", "0.002230": "em_stock_002230.json"})
    monkeypatch.setattr(akshare, "stock_zh_a_daily", lambda **kw: (_ for _ in ()).throw(KeyError("date")))
    result = ak.stock_prices(["688256.SS", "688999.SS", "002230.SZ"], D("2026-01-14"), D("2026-01-15"))
    assert result.loaded_ids == ["002230.SZ", "688256.SS"]
    assert list(result.failures) == ["688999.SS"]
    assert "upstream returned no rows" in result.failures["688999.SS"]
    assert asked.count("1.688999") == 1  # permanent: no retry


def test_hk_stock_is_zero_padded_for_eastmoney(ak, http):
    asked = serve_klines(http, {"116.00700": "em_hk_00700.json"})
    result = ak.stock_prices(["0700.HK"], D("2026-01-14"), D("2026-01-16"))
    assert asked == ["116.00700"] and result.failures == {}
    assert set(result.frame["symbol"]) == {"0700.HK"} and set(result.frame["currency"]) == {"HKD"}
    assert http.calls[0].request.url.startswith("https://33.push2his.eastmoney.com/")


def test_star50_index_is_fetched_as_shanghai_000688(ak, http):
    asked = serve_klines(http, {"1.000688": "em_index_000688.json"})
    result = ak.index_prices(["STAR50"], D("2026-01-12"), D("2026-01-16"))
    assert asked == ["1.000688"]  # not 0.000688, the Shenzhen stock
    assert result.frame["trade_date"].tolist() == [D(f"2026-01-{d}") for d in (12, 13, 14, 15, 16)]
    assert set(result.frame["index_id"]) == {"STAR50"}


def test_hstech_from_eastmoney_maps_latest_to_close(ak, http):
    http.add(responses.GET, EM_CLIST, json=load("em_hk_index_spot.json"))
    asked = serve_klines(http, {"124.HSTECH": "em_hk_index_HSTECH.json"})
    result = ak.index_prices(["HSTECH"], D("2026-01-15"), D("2026-01-16"))
    assert asked == ["124.HSTECH"] and result.failures == {}
    expected = [em_close("em_hk_index_HSTECH.json", d) for d in ("2026-01-15", "2026-01-16")]
    assert result.frame["close"].tolist() == expected


def test_index_falls_back_to_sina_when_eastmoney_keeps_failing(ak, http, monkeypatch):
    http.add(responses.GET, EM_KLINE, status=502)
    seen = {}

    def sina(symbol):
        seen["symbol"] = symbol
        return sina_frame(["2026-01-14", "2026-01-15"], [1450.0, 1460.0])

    monkeypatch.setattr(akshare, "stock_zh_index_daily", sina)
    result = ak.index_prices(["STAR50"], D("2026-01-15"), D("2026-01-15"))
    assert result.failures == {} and result.frame["close"].tolist() == [1460.0]
    assert seen["symbol"] == "sh000688"
    assert len(http.calls) == FAST["max_attempts"]  # 5xx retried, then the other upstream


def test_a_share_shares_history_carried_into_the_window(ak, http):
    http.add(responses.GET, EM_DATACENTER, json=load("em_gbjg_688256.json"))
    jan = ak.shares_outstanding(["688256.SS"], D("2026-01-05"), D("2026-01-16"))
    assert jan.frame[["as_of_date", "shares_outstanding"]].values.tolist() == [
        [D("2026-01-05"), 421_000_000.0]
    ]
    assert '(SECUCODE="688256.SH")' in params(http.calls[0])["filter"]
    h2 = ak.shares_outstanding(["688256.SS"], D("2025-06-01"), D("2025-12-31"))
    assert h2.frame["as_of_date"].tolist() == [D("2025-06-01"), D("2025-06-30"), D("2025-10-27")]
    assert h2.frame["shares_outstanding"].tolist() == [417_500_000.0, 418_000_000.0, 421_000_000.0]


def test_hk_issued_shares_are_latest_only_and_stamped_today(ak, http, clock):
    http.add(responses.GET, EM_DATACENTER, json=load("em_hk_financial_00700.json"))
    now = ak.shares_outstanding(["0700.HK"], D("2026-01-01"), D("2026-01-20"))
    assert now.frame[["symbol", "as_of_date", "shares_outstanding"]].values.tolist() == [
        ["0700.HK", D("2026-01-20"), 9_150_000_000.0]
    ]
    assert '(SECUCODE="00700.HK")' in params(http.calls[0])["filter"]
    old = ak.shares_outstanding(["0700.HK"], D("2025-01-01"), D("2025-01-31"))
    assert "cannot be backdated" in old.failures["0700.HK"]


def test_star50_constituents_from_csindex_and_no_hstech_source(ak, http, clock):
    http.add(responses.GET, CSINDEX, body=csindex_xls_bytes())
    result = ak.index_constituents(["STAR50", "HSTECH"], D("2026-01-20"), D("2026-01-20"))
    assert http.calls[0].request.url.endswith("/000688closeweight.xls")
    frame = result.frame
    assert frame["symbol"].tolist()[:2] == ["688256.SS", "688041.SS"]
    assert set(frame["as_of_date"]) == {D("2026-01-20")} and set(frame["index_id"]) == {"STAR50"}
    assert frame["weight"].sum() == pytest.approx(36.6) and frame["name"].iloc[0] == "寒武纪"
    assert "no Hang Seng index constituent function" in result.failures["HSTECH"]


def test_fx_from_eastmoney_is_inverted_to_usd_per_unit(ak, http):
    asked = serve_klines(http, {"133.USDCNH": "em_forex_USDCNH.json"})
    result = ak.fx_rates(["CNY"], D("2026-01-16"), D("2026-01-16"))
    rate = em_close("em_forex_USDCNH.json", "2026-01-16")
    assert asked == ["133.USDCNH"]
    assert result.frame[["currency", "usd_per_unit"]].values.tolist() == [["CNY", pytest.approx(1 / rate)]]
