"""A fake network under the real HTTP clients: `requests` (akshare) and `curl_cffi` (yfinance's default
session) run their own request and response code; only the wire is replaced.

- requests: `HTTPAdapter.send`, the transport every requests.Session uses, answers from the routes.
- curl_cffi: `Curl.perform` (libcurl's curl_easy_perform) writes the routed answer into the buffers
  curl_cffi registered with setopt, and `Curl.getinfo` reports its status and URL; curl_cffi parses the
  headers, builds the Response and maps errors exactly as it does for a real transfer.

Routes answer by URL (a regex searched in the full URL, query included). A URL no route matches fails at
once with a connection error, and is recorded in `unexpected`. A reply can stall: it then answers only
if the client's timeout is longer than the stall, else the client gets its own timeout error after
waiting its timeout (the real behaviour of a host that accepted the connection and went quiet).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    content_type: str | None = None
    stall_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Retry-After

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body, ensure_ascii=False).encode(), self.content_type or "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/html; charset=utf-8"
        return self.body, self.content_type or "application/octet-stream"


@dataclass
class Call:
    method: str
    url: str
    transport: str  # "requests" or "curl"
    timeout_s: float | None
    status: int | None = None  # None: no answer (timeout, unknown URL)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}


Handler = Callable[[Call], Reply]


@dataclass
class Route:
    pattern: re.Pattern
    replies: list[Reply | Handler]
    when: Callable[[Call], bool] | None = None
    served: int = 0

    def reply(self, call: Call) -> Reply:
        # Replies are served in turn; the last one repeats.
        r = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return r(call) if callable(r) else r


class UnexpectedRequest(Exception):
    pass


@dataclass
class FakeNet:
    routes: list[Route] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, pattern: str | re.Pattern, *replies: Reply | Handler, when=None) -> Route:
        """Later routes win over earlier ones, so a test can override a default answer."""
        r = Route(
            re.compile(pattern) if isinstance(pattern, str) else pattern, list(replies) or [Reply()], when
        )
        with self._lock:
            self.routes.insert(0, r)
        return r

    def to(self, pattern: str) -> list[Call]:
        rx = re.compile(pattern)
        return [c for c in self.calls if rx.search(c.url)]

    def answer(self, call: Call) -> Reply | None:
        with self._lock:
            self.calls.append(call)
            route = next(
                (r for r in self.routes if r.pattern.search(call.url) and (r.when is None or r.when(call))),
                None,
            )
            if route is None:
                self.unexpected.append(call.url)
                return None
            reply = route.reply(call)
        if reply.stall_s:
            waited = reply.stall_s if call.timeout_s is None else min(reply.stall_s, call.timeout_s)
            time.sleep(waited)
            if waited < reply.stall_s:
                return Reply(status=0, stall_s=reply.stall_s)  # status 0: the client's timeout fired
        call.status = reply.status
        return reply


# --- requests -------------------------------------------------------------------------------------


def _seconds(timeout) -> float | None:
    if isinstance(timeout, tuple):
        parts = [t for t in timeout if t is not None]
        return max(parts) if parts else None
    return timeout


def install_requests(net: FakeNet, monkeypatch) -> None:
    import requests
    from requests.adapters import HTTPAdapter
    from requests.structures import CaseInsensitiveDict

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        call = Call(request.method, request.url, "requests", _seconds(timeout))
        reply = net.answer(call)
        if reply is None:
            raise requests.ConnectionError(f"fake network: nothing serves {request.url}", request=request)
        if reply.status == 0:
            raise requests.ReadTimeout(
                f"fake network: {call.host} stalled past {call.timeout_s} s", request=request
            )
        body, content_type = reply.payload()
        response = requests.Response()
        response.status_code = reply.status
        response.headers = CaseInsensitiveDict(
            {"Content-Type": content_type, "Content-Length": str(len(body)), **reply.headers}
        )
        response.raw = BytesIO(body)
        response.url = request.url
        response.request = request
        response.reason = "OK" if reply.status < 400 else "Error"
        response.encoding = "utf-8" if "charset=utf-8" in content_type or "json" in content_type else None
        response.connection = self
        return response

    monkeypatch.setattr(HTTPAdapter, "send", send)


# --- curl_cffi ------------------------------------------------------------------------------------


def install_curl(net: FakeNet, monkeypatch) -> None:
    from curl_cffi.const import CurlECode, CurlInfo, CurlOpt
    from curl_cffi.curl import Curl, CurlError

    original_setopt, original_reset = Curl.setopt, Curl.reset

    def state(curl) -> dict:
        if not hasattr(curl, "_fake"):
            curl._fake = {}
        return curl._fake

    def setopt(self, option, value):
        s = state(self)
        if option == CurlOpt.URL:
            s["url"] = value.decode() if isinstance(value, bytes) else value
        elif option == CurlOpt.WRITEDATA:
            s["body"] = value
        elif option == CurlOpt.HEADERDATA:
            s["headers"] = value
        elif option == CurlOpt.TIMEOUT_MS:
            s["timeout_s"] = value / 1000 if value else None
        elif option == CurlOpt.CUSTOMREQUEST:
            s["method"] = value.decode() if isinstance(value, bytes) else value
        elif option == CurlOpt.POSTFIELDS:
            s.setdefault("method", "POST")
        elif option == CurlOpt.NOBODY and value:
            s["method"] = "HEAD"
        return original_setopt(self, option, value)

    def reset(self):
        self._fake = {}
        return original_reset(self)

    def perform(self, clear_headers: bool = True, clear_resolve: bool = True) -> None:
        s = state(self)
        url = s.get("url", "")
        call = Call(s.get("method", "GET"), url, "curl", s.get("timeout_s"))
        s["info"] = {CurlInfo.EFFECTIVE_URL: url.encode(), CurlInfo.RESPONSE_CODE: 0}
        reply = net.answer(call)
        if reply is None:
            raise CurlError(
                f"Failed to perform, curl: (7) fake network: nothing serves {url}", CurlECode.COULDNT_CONNECT
            )
        if reply.status == 0:
            raise CurlError(
                f"Failed to perform, curl: (28) Operation timed out after {int((call.timeout_s or 0) * 1000)} "
                "milliseconds with 0 bytes received",
                CurlECode.OPERATION_TIMEDOUT,
            )
        body, content_type = reply.payload()
        extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
        head = (f"HTTP/2 {reply.status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
                f"{extra}\r\n")
        if "headers" in s:
            s["headers"].write(head.encode())
        if "body" in s:
            s["body"].write(body)
        s["info"][CurlInfo.RESPONSE_CODE] = reply.status

    def getinfo(self, option):
        info = state(self).get("info", {})
        if option in info:
            return info[option]
        kind = option & 0xF00000
        return {0x100000: b"", 0x300000: 0.0, 0x400000: []}.get(kind, 0)

    monkeypatch.setattr(Curl, "setopt", setopt)
    monkeypatch.setattr(Curl, "reset", reset)
    monkeypatch.setattr(Curl, "perform", perform)
    monkeypatch.setattr(Curl, "getinfo", getinfo)
