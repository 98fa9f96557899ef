"""Shared payload loaders, URL patterns and replay helpers for the provider tests."""

from __future__ import annotations

import json
import re
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import responses

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
# Tiny backoff and no throttling: retries are observed without slowing the suite.
FAST = {
    "max_attempts": 3,
    "backoff_initial_s": 0.001,
    "backoff_max_s": 0.005,
    "requests_per_second": 0.0,
    "request_timeout_s": 2.0,
    "max_concurrency": 4,
}

EM_KLINE = re.compile(r"https://(\d+\.)?push2his\.eastmoney\.com/api/qt/stock/kline/get")
EM_CLIST = re.compile(r"https://\d+\.push2\.eastmoney\.com/api/qt/clist/get")
EM_DATACENTER = "https://datacenter.eastmoney.com/securities/api/data/v1/get"
CSINDEX = re.compile(r"https://oss-ch\.csindex\.com\.cn/static/.*/(\d{6})closeweight\.xls")


def yahoo_chart_url(ticker: str) -> re.Pattern:
    return re.compile(
        r"https://query\d\.finance\.yahoo\.com/v8/finance/chart/"
        + re.escape(ticker).replace(r"\^", r"(\^|%5E)")
        + r"(\?|$)"
    )


YAHOO_SHARES = re.compile(
    r"https://query\d\.finance\.yahoo\.com/ws/fundamentals-timeseries/v1/finance/timeseries/"
)


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def csindex_xls_bytes(name: str = "csindex_000688_closeweight.csv") -> bytes:
    """csindex serves an Excel sheet; pandas reads by content, so an xlsx with the same cells parses alike."""
    buf = BytesIO()
    pd.read_csv(FIXTURES / name, dtype=str).to_excel(buf, index=False)
    return buf.getvalue()


def secid(request) -> str:
    return parse_qs(urlsplit(request.url).query)["secid"][0]


def serve_klines(http, by_secid: dict[str, str | dict], missing=(200, {"rc": 0, "data": None})) -> list[str]:
    """Answer eastmoney kline requests per secid with a fixture name or payload; returns the secids asked."""
    asked = []

    def reply(request):
        asked.append(secid(request))
        doc = by_secid.get(asked[-1])
        status, body = (200, load(doc) if isinstance(doc, str) else doc) if doc is not None else missing
        return status, {}, body if isinstance(body, str) else json.dumps(body)

    http.add_callback(responses.GET, EM_KLINE, callback=reply)
    return asked


def em_close(fixture: str, day: str) -> float:
    """The close (third field) of an eastmoney kline fixture on `day`."""
    line = next(x for x in load(fixture)["data"]["klines"] if x.startswith(day))
    return float(line.split(",")[2])


def _is_history(request):
    return ("period1" in request.url, "a history request")


def _is_tz_lookup(request):
    return ("range=1d" in request.url, "a timezone lookup")


def serve_chart(http, ticker: str, *history_replies: tuple[int, dict | str]) -> None:
    """Yahoo chart: timezone lookups always get the first 200 payload; history requests get
    `history_replies` in turn (the last one repeats)."""
    url = yahoo_chart_url(ticker)
    first_ok = next(body for status, body in history_replies if status == 200)
    http.add(responses.GET, url, json=first_ok, match=[_is_tz_lookup])
    for status, body in history_replies:
        kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
        http.add(responses.GET, url, status=status, match=[_is_history], **kwargs)


def chart_closes(fixture: str) -> list[float]:
    return load(fixture)["chart"]["result"][0]["indicators"]["quote"][0]["close"]
