"""Offline harness for the live providers: sockets are blocked, HTTP is replayed with `responses`.

akshare calls `requests` directly; yfinance gets a plain requests.Session (what YF_DISABLE_CURL_CFFI=1 would
select, but that variable is read once at import) installed on its YfData singleton, so `responses` replays
Yahoo too whatever the import order, and no environment variable leaks into the rest of the session."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime

import pytest
import requests
import responses


def _blocked(*args, **kwargs):
    raise OSError("network blocked in tests")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _blocked)
    monkeypatch.setattr(socket.socket, "connect_ex", _blocked)
    monkeypatch.setattr(socket, "getaddrinfo", _blocked)
    monkeypatch.setattr(socket, "create_connection", _blocked)


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(autouse=True)
def fresh_akshare_caches():
    yield
    import akshare.index.index_stock_hk as hk
    import akshare.index.index_zh_em as zh

    hk._symbol_code_dict.cache_clear()
    zh.index_code_id_map_em.cache_clear()


@pytest.fixture(scope="session")
def _yf_cache_dir(tmp_path_factory):
    import yfinance as yf

    path = tmp_path_factory.mktemp("yf-cache")
    yf.set_tz_cache_location(str(path))
    return path


@pytest.fixture
def yahoo(http, _yf_cache_dir):
    """A fresh yfinance session state, with the cookie and crumb endpoints answered."""
    from yfinance.data import SingletonMeta, YfData

    SingletonMeta._instances.pop(YfData, None)
    YfData(session=requests.Session())
    YfData.cache_get.cache_clear()
    http.add(responses.GET, "https://fc.yahoo.com/", body="", status=404)
    http.add(
        responses.GET, re.compile(r"https://query\d\.finance\.yahoo\.com/v1/test/getcrumb"), body="testcrumb"
    )
    yield http
    SingletonMeta._instances.pop(YfData, None)
    YfData.cache_get.cache_clear()


@pytest.fixture
def clock(monkeypatch):
    """Pin the providers' notion of now (latest-only stamping, unfinished sessions)."""
    from orchestration.resources.providers import symbols

    def pin(iso: str) -> None:
        monkeypatch.setattr(symbols, "utcnow", lambda: datetime.fromisoformat(iso).replace(tzinfo=UTC))

    pin("2026-01-20T12:00:00")
    return pin
