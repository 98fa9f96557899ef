"""Offline harness for the live providers: sockets are blocked; HTTP is answered either by `responses`
(the `http` fixture, akshare only) or by the fake network of tests/providers/http (the `net` fixture),
which sits under both real transports: `requests` for akshare and yfinance's own curl_cffi session."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
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


@pytest.fixture
def market():
    from tests.providers.http.upstreams import Market

    return Market()


@pytest.fixture
def net(monkeypatch, market, tmp_path):
    """Both transports faked, every upstream served from `market`, yfinance started afresh on its default
    curl_cffi session with empty caches (persistent ones in this test's folder)."""
    import yfinance as yf
    from yfinance import cache as yf_cache
    from yfinance.data import SingletonMeta, YfData

    from tests.providers.http.transport import FakeNet, install_curl, install_requests
    from tests.providers.http.upstreams import serve

    fake = FakeNet()
    install_requests(fake, monkeypatch)
    install_curl(fake, monkeypatch)
    serve(fake, market)
    monkeypatch.setattr(yf_cache._TzCacheManager, "_tz_cache", None)
    monkeypatch.setattr(yf_cache._CookieCacheManager, "_Cookie_cache", None)
    monkeypatch.setattr(yf_cache._ISINCacheManager, "_isin_cache", None)
    yf.set_tz_cache_location(str(tmp_path / "yf-cache"))
    SingletonMeta._instances.pop(YfData, None)
    YfData.cache_get.cache_clear()
    yield fake
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
