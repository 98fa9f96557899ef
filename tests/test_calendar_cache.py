"""Built exchange calendars are kept on disk between processes, keyed so a stale one is never used."""

from datetime import date

import exchange_calendars as xcals
import pytest

from orchestration import calendars


@pytest.fixture
def builds(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    made = []
    real = xcals.get_calendar

    def counting(name, start=None, end=None):
        made.append((name, start, end))
        return real(name, start=start, end=end)

    monkeypatch.setattr(calendars.xcals, "get_calendar", counting)
    return made


def test_a_calendar_is_built_once_then_read_back_equal(builds):
    first = calendars.exchange_calendar("XHKG", date(2025, 1, 1), date(2025, 12, 31))
    again = calendars.exchange_calendar("XHKG", date(2025, 1, 1), date(2025, 12, 31))
    assert builds == [("XHKG", "2025-01-01", "2025-12-31")]
    assert again is not first
    assert list(again.sessions) == list(first.sessions)
    assert again.session_close("2025-12-24") == first.session_close("2025-12-24")


def test_another_span_or_calendar_is_built_not_reused(builds):
    calendars.exchange_calendar("XHKG", date(2025, 1, 1), date(2025, 6, 30))
    calendars.exchange_calendar("XHKG", date(2025, 1, 1), date(2025, 12, 31))
    calendars.exchange_calendar("XSHG", date(2025, 1, 1), date(2025, 12, 31))
    assert [b[0] for b in builds] == ["XHKG", "XHKG", "XSHG"]
    assert {p.name.split("-")[0] for p in calendars.calendar_cache_dir().glob("*.pickle")} == {"XHKG", "XSHG"}


def test_a_damaged_or_foreign_file_is_rebuilt(builds):
    calendars.exchange_calendar("XHKG", date(2025, 1, 1), date(2025, 3, 31))
    (cached,) = calendars.calendar_cache_dir().glob("*.pickle")
    cached.write_bytes(cached.read_bytes()[:1000])
    assert len(calendars.exchange_calendar("XHKG", date(2025, 1, 1), date(2025, 3, 31)).sessions) > 50
    # A file under XHKG's name that holds another calendar is not trusted either.
    xshg = xcals.get_calendar("XSHG", start="2025-01-01", end="2025-03-31")
    cached.write_bytes(__import__("pickle").dumps(xshg))
    assert calendars.exchange_calendar("XHKG", date(2025, 1, 1), date(2025, 3, 31)).name == "XHKG"
    assert len(builds) == 4  # three of XHKG, and the foreign XSHG made here


def test_an_unwritable_cache_still_answers(builds, tmp_path, monkeypatch):
    (tmp_path / "blocked").write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "blocked"))
    assert calendars.exchange_calendar("XHKG", date(2025, 1, 1), date(2025, 3, 31)).name == "XHKG"
