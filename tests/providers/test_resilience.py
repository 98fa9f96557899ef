import json
import subprocess
import sys
import time

import pandas as pd
import pytest
import requests
import responses

from orchestration.resources.providers.base import ProviderError
from orchestration.resources.providers.resilience import (
    RetryPolicy,
    TransientError,
    call_with_retry,
    capped_timeout,
    fetch_each,
    first_success,
    http_guard,
    is_transient,
    site,
    throttle,
    tidy,
)

FAST = RetryPolicy(attempts=3, backoff_initial_s=0.001, backoff_max_s=0.005)


def _http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status}", response=response)


class YFRateLimitError(Exception):  # same name as yfinance's: matched by name
    pass


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (requests.Timeout("read timed out"), True),
        (requests.ConnectionError("reset"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (_http_error(429), True),
        (_http_error(503), True),
        (_http_error(404), False),
        (YFRateLimitError(), True),
        (json.JSONDecodeError("Expecting value", "<html>busy</html>", 0), True),
        (TransientError("x"), True),
        (ProviderError("unknown symbol"), False),
        (KeyError("data"), False),
        (ValueError("Length mismatch"), False),
    ],
)
def test_transient_classification(exc, transient):
    assert is_transient(exc) is transient


def test_retries_transient_errors_then_succeeds():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _http_error(429)
        return pd.DataFrame({"x": [1]})

    assert call_with_retry(flaky, FAST, "t")["x"].tolist() == [1]
    assert len(calls) == 3


def test_permanent_errors_are_not_retried():
    calls = []

    def broken():
        calls.append(1)
        raise ProviderError("no such symbol")

    with pytest.raises(ProviderError):
        call_with_retry(broken, FAST, "t")
    assert len(calls) == 1


def test_first_success_falls_back_and_names_every_upstream():
    frame = first_success(
        "s",
        [("a", lambda: (_ for _ in ()).throw(KeyError("data"))), ("b", lambda: pd.DataFrame({"x": [2]}))],
        FAST,
    )
    assert frame["x"].tolist() == [2]
    with pytest.raises(ProviderError, match=r"^s: a: KeyError: 'data'; b: gone$"):
        first_success(
            "s",
            [
                ("a", lambda: (_ for _ in ()).throw(KeyError("data"))),
                ("b", lambda: (_ for _ in ()).throw(ProviderError("gone"))),
            ],
            FAST,
        )


def test_fetch_each_isolates_a_failing_id_and_bounds_concurrency():
    active, peak = [0], [0]

    def one(i: str) -> pd.DataFrame:
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        active[0] -= 1
        if i == "BAD":
            raise ProviderError("BAD: unknown")
        return pd.DataFrame({"id": [i]})

    frames, failures = fetch_each(["A", "BAD", "B", "C", "A"], one, max_concurrency=2)
    assert sorted(f["id"][0] for f in frames) == ["A", "B", "C"]
    assert failures == {"BAD": "BAD: unknown"}
    assert peak[0] <= 2


def test_throttle_spaces_calls_per_site():
    assert site("https://33.push2his.eastmoney.com/x") == site("push2his.eastmoney.com") == "eastmoney.com"
    assert site("https://oss-ch.csindex.com.cn/a") == "csindex.com.cn"
    t0 = time.monotonic()
    for _ in range(3):
        throttle("https://throttle-test.example.org/", 20.0)
    assert time.monotonic() - t0 >= 0.09


def test_http_guard_raises_on_429_and_sets_a_default_timeout():
    seen = {}
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, "https://api.example.com/busy", status=429, body="Too Many Requests")
        mock.add(responses.GET, "https://api.example.com/ok", json={"ok": 1})
        with http_guard(timeout_s=3.0, requests_per_second=0):
            with pytest.raises(requests.HTTPError) as err:
                requests.get("https://api.example.com/busy")
            assert err.value.response.status_code == 429 and is_transient(err.value)
            original = requests.adapters.HTTPAdapter.send

            def spy(self, request, **kwargs):
                seen["timeout"] = kwargs.get("timeout")
                return original(self, request, **kwargs)

            requests.adapters.HTTPAdapter.send, saved = spy, requests.adapters.HTTPAdapter.send
            try:
                requests.get("https://api.example.com/ok")
            finally:
                requests.adapters.HTTPAdapter.send = saved
        # Outside the guard the same 429 is handed back untouched.
        assert requests.get("https://api.example.com/busy").status_code == 429
    assert seen["timeout"] == 3.0


def test_tidy_rejects_empty_frames_renamed_columns_and_nans():
    shape = {"日期": "trade_date", "收盘": "close"}
    with pytest.raises(ProviderError, match=r"stock X: upstream returned no rows \(columns seen: \[\]\)"):
        tidy(pd.DataFrame(), shape, ("日期", "收盘"), "stock X")
    with pytest.raises(ProviderError, match=r"\['收盘'\] not found; columns seen: \['日期', '收盘价'\]"):
        tidy(pd.DataFrame({"日期": ["2026-01-05"], "收盘价": [1.0]}), shape, ("日期", "收盘"), "stock X")
    with pytest.raises(
        ProviderError, match=r"1 row\(s\) without a usable close \(e.g. at \[datetime.date\(2026, 1, 6\)\]"
    ):
        tidy(
            pd.DataFrame({"日期": ["2026-01-05", "2026-01-06"], "收盘": [1.0, None]}),
            shape,
            ("日期", "收盘"),
            "X",
        )


def test_a_callers_own_timeout_is_capped_by_the_setting():
    assert capped_timeout(None, 2.0) == 2.0
    assert capped_timeout(30, 2.0) == 2.0 and capped_timeout(0.5, 2.0) == 0.5
    assert capped_timeout((3.05, 27), 2.0) == (2.0, 2.0)


def test_curl_timeout_with_its_status_0_response_is_transient():
    from curl_cffi.requests.exceptions import Timeout

    class Blank:
        status_code = 0

    assert is_transient(Timeout("Operation timed out", 28, Blank()))


def test_only_akshare_guard_patches_a_library_and_only_when_used():
    # requests.Session.request is patched by the first http_guard (akshare offers no session to pass in);
    # curl_cffi is never patched: yfinance is handed a session subclass of ours.
    code = (
        "import requests, curl_cffi.requests as c\n"
        "original_requests, original_curl = requests.Session.request, c.Session.request\n"
        "import orchestration.resources.providers.live\n"
        "from orchestration.resources.providers.resilience import guarded_curl_session, http_guard\n"
        "assert requests.Session.request is original_requests\n"
        "session = guarded_curl_session(1.0, 0)\n"
        "with http_guard(1.0, 0):\n"
        "    pass\n"
        "assert requests.Session.request is not original_requests\n"
        "assert c.Session.request is original_curl and isinstance(session, c.Session)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
