"""Transient answers treated as transient, over the fake wire (the real yfinance and akshare parsing
running): a one-off empty answer is asked once more before the next upstream, and a 429's Retry-After is
honoured, capped by retry_after_max_s (CTR_RETRY_AFTER_MAX_SECONDS)."""

import logging
import time
from datetime import date

import pytest

from orchestration.resources.providers.akshare_provider import AkshareProvider
from orchestration.resources.providers.yfinance_provider import YFinanceProvider
from tests.providers.helpers import FAST
from tests.providers.http.transport import Reply
from tests.providers.http.upstreams import EM_KLINE, YAHOO_CHART, history_calls

D = date.fromisoformat
WEEK = (D("2026-01-12"), D("2026-01-16"))
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning")


def _closes(frame, symbol):
    got = frame[frame["symbol"] == symbol].sort_values("trade_date")
    return list(zip(got["trade_date"], got["close"]))


def _served(market, key):
    return [(b.day, b.close) for b in market.bars[key] if WEEK[0] <= b.day <= WEEK[1]]


def _empty_chart(market):
    """Yahoo's 200 answer for a span without bars: the meta, no `timestamp`, an empty quote object."""

    def reply(call):
        body = market.yahoo_chart(call).body
        result = body["chart"]["result"][0]
        result.pop("timestamp", None)
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return Reply(body=body)

    return reply


def test_a_one_off_empty_yahoo_answer_is_asked_once_more(net, market, clock, caplog):
    net.route(YAHOO_CHART + "NVDA", _empty_chart(market), market.yahoo_chart, when=lambda c: "period1" in c.url)
    with caplog.at_level(logging.WARNING, "orchestration.providers"):
        result = YFinanceProvider(**FAST).stock_prices(["NVDA"], *WEEK)
    assert result.failures == {}
    assert _closes(result.frame, "NVDA") == _served(market, "yahoo:NVDA")
    assert len(history_calls(net, "NVDA")) == 2
    assert any("empty answer, retry 1" in r.getMessage() for r in caplog.records)
    assert not any("delisted" in r.getMessage() for r in caplog.records)


def test_two_empty_yahoo_answers_fail_the_symbol_without_calling_it_delisted(net, market, clock):
    net.route(YAHOO_CHART + "NVDA", _empty_chart(market), when=lambda c: "period1" in c.url)
    result = YFinanceProvider(**FAST).stock_prices(["NVDA", "AMD"], *WEEK)
    assert set(result.failures) == {"NVDA"}
    reason = result.failures["NVDA"]
    assert "Yahoo answered with no bars" in reason and "asked 2 times" in reason
    assert "delisted" not in reason
    assert len(history_calls(net, "NVDA")) == 2  # once more, not max_attempts times
    assert _closes(result.frame, "AMD") == _served(market, "yahoo:AMD")


def test_a_one_off_empty_eastmoney_answer_is_asked_once_more_before_sina(net, market, clock):
    empty = Reply(body={"rc": 0, "rt": 17, "svr": 1, "lt": 1, "full": 0, "dlmkts": "", "data": None})
    net.route(EM_KLINE, empty, market.em_kline, when=lambda c: c.params.get("secid") == "1.688256")
    result = AkshareProvider(**FAST).stock_prices(["688256.SS"], *WEEK)
    assert result.failures == {}
    assert _closes(result.frame, "688256.SS") == _served(market, "em:1.688256")
    assert set(result.frame["source"]) == {"akshare:stock_zh_a_hist(eastmoney)"}
    assert [c.params["secid"] for c in net.to(EM_KLINE)] == ["1.688256", "1.688256"]


@pytest.mark.parametrize("asked, cap, waited", [(1, 5.0, 1.0), (3600, 0.4, 0.4)])
def test_a_429_with_retry_after_waits_what_yahoo_asked_capped(net, market, clock, asked, cap, waited):
    limited = Reply(429, "Too Many Requests", "text/plain", headers={"Retry-After": str(asked)})
    # yfinance asks a 429 twice (a second cookie strategy) before raising its rate-limit error.
    net.route(YAHOO_CHART + "NVDA", limited, limited, market.yahoo_chart, when=lambda c: "period1" in c.url)
    began = time.monotonic()
    result = YFinanceProvider(**{**FAST, "retry_after_max_s": cap}).stock_prices(["NVDA"], *WEEK)
    took = time.monotonic() - began
    assert result.failures == {}
    assert _closes(result.frame, "NVDA") == _served(market, "yahoo:NVDA")
    # FAST's own backoff is milliseconds: only the Retry-After explains the wait.
    assert waited <= took < waited + 1.5


def test_a_429_with_retry_after_from_eastmoney_is_honoured(net, market, clock):
    limited = Reply(429, "busy", "text/plain", headers={"Retry-After": "1"})
    net.route(EM_KLINE, limited, market.em_kline, when=lambda c: c.params.get("secid") == "1.688256")
    began = time.monotonic()
    result = AkshareProvider(**{**FAST, "retry_after_max_s": 0.5}).stock_prices(["688256.SS"], *WEEK)
    assert 0.5 <= time.monotonic() - began < 2.0
    assert _closes(result.frame, "688256.SS") == _served(market, "em:1.688256")
