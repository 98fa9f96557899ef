"""Shared settings, payload loaders and replay helpers (`responses`) for the provider tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

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
EM_DATACENTER = "https://datacenter.eastmoney.com/securities/api/data/v1/get"


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


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
