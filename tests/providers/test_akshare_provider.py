"""AkshareProvider against replayed eastmoney HTTP payloads (`responses`), parsed by the installed akshare:
the edge cases the fake-network tests in tests/providers/http do not cover (holiday gaps, schema drift,
the sina fallback, HK latest-only share counts).

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
    EM_DATACENTER,
    EM_KLINE,
    FAST,
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


def test_hk_stock_is_zero_padded_for_eastmoney(ak, http):
    asked = serve_klines(http, {"116.00700": "em_hk_00700.json"})
    result = ak.stock_prices(["0700.HK"], D("2026-01-14"), D("2026-01-16"))
    assert asked == ["116.00700"] and result.failures == {}
    assert set(result.frame["symbol"]) == {"0700.HK"} and set(result.frame["currency"]) == {"HKD"}
    assert http.calls[0].request.url.startswith("https://33.push2his.eastmoney.com/")


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


def test_hk_issued_shares_are_latest_only_and_stamped_today(ak, http, clock):
    http.add(responses.GET, EM_DATACENTER, json=load("em_hk_financial_00700.json"))
    now = ak.shares_outstanding(["0700.HK"], D("2026-01-01"), D("2026-01-20"))
    assert now.frame[["symbol", "as_of_date", "shares_outstanding"]].values.tolist() == [
        ["0700.HK", D("2026-01-20"), 9_150_000_000.0]
    ]
    assert '(SECUCODE="00700.HK")' in params(http.calls[0])["filter"]
    old = ak.shares_outstanding(["0700.HK"], D("2025-01-01"), D("2025-01-31"))
    assert "cannot be backdated" in old.failures["0700.HK"]
