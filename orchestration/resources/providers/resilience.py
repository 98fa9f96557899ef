"""What the live providers share to survive flaky upstreams: bounded concurrency, per-host rate limits,
retries with exponential backoff and jitter for transient errors only, and per-id outcomes so one bad
symbol never fails the others."""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from urllib.parse import urlsplit

import pandas as pd
from pydantic import Field
from tenacity import Retrying, stop_after_attempt, wait_exponential_jitter

from orchestration.datasets import Dataset
from orchestration.resources.providers.base import (
    FetchResult,
    MarketDataProvider,
    ProviderError,
    split_actions,
)
from orchestration.resources.providers.symbols import bar_calendar, drop_unfinished_session, unique

log = logging.getLogger("orchestration.providers")

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_TRANSIENT_NAMES = frozenset(
    {
        "Timeout",
        "ConnectTimeout",
        "ReadTimeout",
        "TimeoutError",
        "ConnectionError",
        "ChunkedEncodingError",
        "RemoteDisconnected",
        "ProtocolError",
        "IncompleteRead",
        # yfinance raises this for HTTP 429; matched by name so this module need not import yfinance.
        "YFRateLimitError",
    }
)


class TransientError(ProviderError):
    """An upstream hiccup worth retrying (raised by adapters that detect one the libraries hide)."""


class EmptyAnswer(ProviderError):
    """An upstream answered, but with no rows at all for an id the project is configured to load (so known
    to have data: the window is padded by a month, a holiday cannot empty it). Upstreams do this now and
    then under load; it is asked once more before the next upstream is tried."""


# One more try after an empty answer: a second empty answer is believed.
EMPTY_ANSWER_RETRIES = 1


def _status_of(exc: BaseException) -> int | None:
    return getattr(getattr(exc, "response", None), "status_code", None)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, ProviderError):  # empty frame, schema drift, unknown symbol: retrying won't help
        return False
    status = _status_of(exc)
    # curl_cffi attaches a response with status 0 to a timeout or reset: that says nothing about the host.
    if isinstance(status, int) and status >= 100:
        return status in TRANSIENT_STATUS
    if isinstance(exc, (TimeoutError, ConnectionError)):  # builtins, incl. ConnectionResetError
        return True
    if isinstance(exc, json.JSONDecodeError):  # an HTML throttle/error page where JSON was expected
        return True
    return any(c.__name__ in _TRANSIENT_NAMES for c in type(exc).__mro__)


def describe(exc: BaseException, limit: int = 400) -> str:
    text = str(exc) if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    # The longest a Retry-After header may make us wait (CTR_RETRY_AFTER_MAX_SECONDS): a host asking for
    # an hour would otherwise stall the whole run; beyond the cap we wait the cap and try again.
    retry_after_max_s: float = 120.0


# The Retry-After of the last 429/503 a guarded curl_cffi request received in this thread: yfinance
# turns a 429 into YFRateLimitError without the response, so the guard keeps the header for the wait.
_RETRY_AFTER: ContextVar[float | None] = ContextVar("ctr_retry_after", default=None)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after(exc: BaseException | None) -> float | None:
    """The wait a rate-limited or unavailable host asked for, if it said."""
    if exc is None:
        return None
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None and _status_of(exc) in (429, 503):
        return parse_retry_after(headers.get("Retry-After"))
    if any(c.__name__ == "YFRateLimitError" for c in type(exc).__mro__):
        return _RETRY_AFTER.get()
    return None


def call_with_retry(fn: Callable[[], pd.DataFrame], policy: RetryPolicy, what: str) -> pd.DataFrame:
    backoff = wait_exponential_jitter(
        initial=policy.backoff_initial_s, max=policy.backoff_max_s, jitter=policy.backoff_initial_s
    )
    empties = [0]

    def wait(state) -> float:
        asked = retry_after(state.outcome.exception())
        return backoff(state) if asked is None else min(asked, policy.retry_after_max_s)

    def retry(state) -> bool:
        exc = state.outcome.exception()
        if isinstance(exc, EmptyAnswer):
            empties[0] += 1
            return empties[0] <= EMPTY_ANSWER_RETRIES
        return exc is not None and is_transient(exc)

    def before_sleep(state) -> None:
        exc = state.outcome.exception()
        asked = retry_after(exc)
        kind = (
            "empty answer" if isinstance(exc, EmptyAnswer)
            else f"rate limited, Retry-After {asked:g} s (waiting {min(asked, policy.retry_after_max_s):g} s)"
            if asked is not None else "transient error"
        )
        log.warning("%s: %s, retry %d/%d: %s", what, kind, state.attempt_number, policy.attempts - 1,
                    describe(exc))

    retrying = Retrying(
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=wait,
        retry=retry,
        before_sleep=before_sleep,
        reraise=True,
    )
    _RETRY_AFTER.set(None)
    try:
        return retrying(fn)
    except EmptyAnswer as exc:
        if empties[0] <= 1:
            raise
        raise EmptyAnswer(f"{exc} (asked {empties[0]} times, every answer empty)") from exc


class _Throttle:
    """Spaces calls to one host at least 1/rps apart, across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self, rps: float) -> None:
        if rps <= 0:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / rps
        if slot > now:
            time.sleep(slot - now)


_THROTTLES: dict[str, _Throttle] = {}
_THROTTLES_LOCK = threading.Lock()


def site(url_or_host: str) -> str:
    """The rate-limited unit: the registrable domain, so push2his. and 33.push2his.eastmoney.com share one."""
    host = (urlsplit(url_or_host).hostname or url_or_host).lower()
    labels = host.split(".")
    keep = (
        3
        if len(labels) >= 3 and labels[-2] in {"com", "net", "org", "gov", "edu"} and len(labels[-1]) == 2
        else 2
    )
    return ".".join(labels[-keep:])


def throttle(host: str, requests_per_second: float) -> None:
    key = site(host)
    with _THROTTLES_LOCK:
        t = _THROTTLES.setdefault(key, _Throttle())
    t.wait(requests_per_second)


# The project's one patch of a library, a pinned workaround: akshare calls requests.get without a timeout
# (reported upstream as akfamily/akshare#7244; 1.19.5 still does, or uses its own: 15 s for HK history, 30 s
# for the share structure), offers no session to pass in, and parses bodies without checking the status, so a 429 would surface as a JSON error and a
# stalled host would hang for as long as akshare chose. Inside http_guard() every requests call waits its
# turn for the host, gets at most the guard's timeout, and raises HTTPError on 429/5xx. The patch on
# requests.Session.request is installed by the first guard (importing this module changes nothing), is
# inert outside a guard, and the guard is per thread (a ContextVar).
_GUARD: ContextVar[tuple[float, float] | None] = ContextVar("ctr_http_guard", default=None)
_INSTALL_LOCK = threading.Lock()
_REQUESTS_GUARD_INSTALLED: list[bool] = []
# requests.Session.request(method, url, params, data, headers, cookies, files, auth, timeout, ...)
_TIMEOUT_ARG = 6


@contextmanager
def http_guard(timeout_s: float, requests_per_second: float):
    _install_requests_guard()
    token = _GUARD.set((timeout_s, requests_per_second))
    try:
        yield
    finally:
        _GUARD.reset(token)


def capped_timeout(given, limit: float):
    """The stricter of a caller's timeout and ours; a (connect, read) pair is capped part by part."""
    if given is None:
        return limit
    if isinstance(given, tuple):
        return tuple(limit if part is None else min(part, limit) for part in given)
    return min(given, limit)


def _install_requests_guard() -> None:
    import requests

    with _INSTALL_LOCK:
        if _REQUESTS_GUARD_INSTALLED:
            return
        original = requests.Session.request

        def request(self, method, url, *args, **kwargs):
            guard = _GUARD.get()
            if guard is None:
                return original(self, method, url, *args, **kwargs)
            timeout_s, rps = guard
            throttle(str(url), rps)
            if len(args) > _TIMEOUT_ARG:
                args = (
                    *args[:_TIMEOUT_ARG],
                    capped_timeout(args[_TIMEOUT_ARG], timeout_s),
                    *args[_TIMEOUT_ARG + 1 :],
                )
            else:
                kwargs["timeout"] = capped_timeout(kwargs.get("timeout"), timeout_s)
            response = original(self, method, url, *args, **kwargs)
            if response.status_code in TRANSIENT_STATUS:
                raise requests.HTTPError(
                    f"HTTP {response.status_code} from {urlsplit(str(url)).hostname}", response=response
                )
            return response

        requests.Session.request = request
        _REQUESTS_GUARD_INSTALLED.append(True)


# yfinance sends its requests through a curl_cffi session with timeouts of its own choosing (10 s for the
# time-zone lookup, 30 s for share counts and the cookie/crumb handshake). It takes a session of ours
# (`Ticker(symbol, session=...)`, yfinance's documented option): every request through this one waits its
# turn for the host and gets at most our timeout, and a 429/503 leaves its Retry-After for the retry's
# wait. Statuses are left to yfinance, which turns them into its typed errors.
@cache
def guarded_curl_session(timeout_s: float, requests_per_second: float):
    from curl_cffi import requests as curl_requests

    class GuardedCurlSession(curl_requests.Session):
        def request(self, method, url, *args, **kwargs):
            throttle(str(url), requests_per_second)
            given = kwargs.get("timeout")
            # curl_cffi's "not set" sentinel means the session default (30 s): cap that as well.
            kwargs["timeout"] = capped_timeout(given if isinstance(given, (int, float, tuple)) else None, timeout_s)
            response = super().request(method, url, *args, **kwargs)
            if response.status_code in (429, 503):
                _RETRY_AFTER.set(parse_retry_after(response.headers.get("Retry-After")))
            return response

    # The browser yfinance itself impersonates when it opens its own session.
    return GuardedCurlSession(impersonate="chrome")


def first_success(
    what: str, attempts: Sequence[tuple[str, Callable[[], pd.DataFrame]]], policy: RetryPolicy
) -> pd.DataFrame:
    """Try each upstream in turn (each with retries); the error names every upstream's failure."""
    errors = []
    for label, fn in attempts:
        try:
            return call_with_retry(fn, policy, f"{what} via {label}")
        except Exception as exc:  # noqa: BLE001 - any failure moves on to the next upstream
            errors.append(f"{label}: {describe(exc)}")
    raise ProviderError(f"{what}: " + "; ".join(errors) if errors else f"{what}: no upstream configured")


def fetch_each(
    ids: Iterable[str], fetch_one: Callable[[str], pd.DataFrame], max_concurrency: int
) -> tuple[list[pd.DataFrame], dict[str, str]]:
    """Run fetch_one per id in a bounded pool; a failing id becomes a reason, never an exception."""
    ids = unique(ids)
    if not ids:
        return [], {}
    with ThreadPoolExecutor(
        max_workers=max(1, min(max_concurrency, len(ids))), thread_name_prefix="ctr-fetch"
    ) as pool:
        futures = {i: pool.submit(fetch_one, i) for i in ids}
    frames, failures = [], {}
    for i, future in futures.items():
        try:
            frames.append(future.result())
        except Exception as exc:  # noqa: BLE001
            failures[i] = describe(exc, limit=1000)
    return frames, failures


_KNOBS = (
    "request_timeout_s",
    "max_concurrency",
    "requests_per_second",
    "max_attempts",
    "backoff_initial_s",
    "backoff_max_s",
    "retry_after_max_s",
)


class ResilientProvider(MarketDataProvider, ABC):
    """The knobs every live provider shares."""

    request_timeout_s: float = Field(default=15.0, description="Timeout of one HTTP request, in seconds.")
    max_concurrency: int = Field(default=4, description="Ids fetched in parallel.")
    requests_per_second: float = Field(default=2.0, description="Request rate limit per upstream host.")
    max_attempts: int = Field(
        default=4, description="Tries per upstream call on transient errors (timeouts, resets, HTTP 429/5xx)."
    )
    backoff_initial_s: float = Field(
        default=1.0, description="First retry delay; doubles per retry, plus jitter."
    )
    backoff_max_s: float = Field(default=30.0, description="Longest delay between retries.")
    retry_after_max_s: float = Field(
        default=120.0,
        description="Longest wait a Retry-After header of a 429/503 is honoured for (CTR_RETRY_AFTER_MAX_SECONDS).",
    )

    def _policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.backoff_initial_s, self.backoff_max_s, self.retry_after_max_s)

    def _knobs(self) -> dict:
        return {k: getattr(self, k) for k in _KNOBS}

    def _each(
        self, dataset: Dataset, ids: Iterable[str], fetch_one: Callable[[str], pd.DataFrame]
    ) -> FetchResult:
        def finished(entity_id: str) -> pd.DataFrame:
            # One rule for every adapter and upstream: a bar is stored only once its session has closed.
            frame = fetch_one(entity_id)
            return drop_unfinished_session(frame, dataset.date_column, bar_calendar(dataset.name, entity_id))

        frames, failures = fetch_each(ids, finished, self.max_concurrency)
        frame = combine(frames, dataset.column_names)
        actions = split_actions(frame, dataset.entity_column)
        return FetchResult(dataset, frame, self.source_name, failures, actions=actions)


# --- frame shape: empty frames and renamed columns are errors naming the id and the columns seen ---

_DATE_COLS = frozenset({"trade_date", "as_of_date"})
_TEXT_COLS = frozenset({"code", "name", "exchange"})


def tidy(
    raw: pd.DataFrame | None, columns: dict[str, str], required: Sequence[str], what: str
) -> pd.DataFrame:
    """Select and rename an upstream frame's columns, typed; missing or unparsable required values raise."""
    seen = [] if raw is None else [str(c) for c in raw.columns]
    if raw is None or raw.empty:
        raise EmptyAnswer(f"{what}: upstream returned no rows (columns seen: {seen})")
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise ProviderError(f"{what}: upstream columns changed, {missing} not found; columns seen: {seen}")
    present = [c for c in columns if c in raw.columns]
    out = pd.DataFrame({columns[c]: raw[c].to_numpy() for c in present})
    for col in out.columns:
        if col in _DATE_COLS:
            out[col] = pd.to_datetime(out[col], errors="coerce").dt.date
        elif col in _TEXT_COLS:
            out[col] = out[col].astype("string").str.strip()
        else:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    for col in (columns[c] for c in required):
        bad = out[col].isna()
        if bad.any():
            where = out.loc[bad, next((c for c in out.columns if c in _DATE_COLS), col)].head(5).tolist()
            raise ProviderError(
                f"{what}: {bad.sum()} row(s) without a usable {col} (e.g. at {where}); columns seen: {seen}"
            )
    return out


def within(frame: pd.DataFrame, date_col: str, start, end) -> pd.DataFrame:
    """Rows inside [start, end]; none left is fine (a holiday), the upstream frame was not empty."""
    return frame[(frame[date_col] >= start) & (frame[date_col] <= end)]


def combine(frames: Sequence[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns))
