"""Fault 1 of the reliability suite (docs/reliability.md): a request that times out, or a connection
reset by the peer, is retried and the fetch then delivers exactly the bars the upstream serves, none
lost and none twice. Over the fake wire, both real transports: `requests` (akshare) and
curl_cffi (yfinance)."""

import time
from datetime import date

import pandas as pd
import pytest
import requests
from urllib3.exceptions import ProtocolError

from orchestration.resources.providers.akshare_provider import AkshareProvider
from orchestration.resources.providers.yfinance_provider import YFinanceProvider
from tests.providers.helpers import FAST
from tests.providers.http.transport import Reply
from tests.providers.http.upstreams import EM_KLINE, YAHOO_CHART, history_calls

D = date.fromisoformat
WEEK = (D("2026-01-12"), D("2026-01-16"))
# Short enough to keep the stalls cheap, long enough for a busy machine to answer a healthy request.
TIMEOUT = {**FAST, "request_timeout_s": 0.3}
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning")


def _requests_reset(call):
    # What requests raises when the peer resets an established connection mid-request.
    raise requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))


def _curl_reset(call):
    from curl_cffi.const import CurlECode
    from curl_cffi.curl import CurlError

    raise CurlError("Failed to perform, curl: (56) Recv failure: Connection reset by peer", CurlECode.RECV_ERROR)


def _every_served_bar_once(frame: pd.DataFrame, market, served_key: dict[str, str]) -> None:
    assert not frame.duplicated(["symbol", "trade_date"]).any()
    for symbol, key in served_key.items():
        got = frame[frame["symbol"] == symbol].sort_values("trade_date")
        served = [b for b in market.bars[key] if WEEK[0] <= b.day <= WEEK[1]]
        assert list(zip(got["trade_date"], got["close"])) == [(b.day, b.close) for b in served]


def _eastmoney_klines(net, secid):
    return [c for c in net.to(EM_KLINE) if c.params.get("secid") == secid]


@pytest.mark.parametrize("fault", ["timeout", "reset"])
def test_akshare_retries_a_timeout_or_reset_then_loads_every_row_once(net, market, clock, fault):
    ak = AkshareProvider(**TIMEOUT)
    first = Reply(stall_s=5) if fault == "timeout" else _requests_reset
    net.route(EM_KLINE, first, market.em_kline, when=lambda c: c.params.get("secid") == "1.688256")
    started = time.monotonic()
    result = ak.stock_prices(["688256.SS", "002230.SZ"], *WEEK)

    assert result.failures == {}
    assert time.monotonic() - started < 3
    # One failed attempt, one retry that succeeded: no hammering.
    assert len(_eastmoney_klines(net, "1.688256")) == 2
    _every_served_bar_once(result.frame, market, {"688256.SS": "em:1.688256", "002230.SZ": "em:0.002230"})


@pytest.mark.parametrize("fault", ["timeout", "reset"])
def test_yfinance_retries_a_timeout_or_reset_then_loads_every_row_once(net, market, clock, fault):
    yfp = YFinanceProvider(**TIMEOUT)
    first = Reply(stall_s=5) if fault == "timeout" else _curl_reset
    net.route(YAHOO_CHART + "NVDA", first, market.yahoo_chart, when=lambda c: "period1" in c.url)
    started = time.monotonic()
    result = yfp.stock_prices(["NVDA", "AMD"], *WEEK)

    assert result.failures == {}
    assert time.monotonic() - started < 3
    assert len(history_calls(net, "NVDA")) == 2
    _every_served_bar_once(result.frame, market, {"NVDA": "yahoo:NVDA", "AMD": "yahoo:AMD"})
