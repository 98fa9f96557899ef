"""Exchange calendars from exchange_calendars' public API: a span the library cannot build to its end
is built to the last year it has recorded, and weekdays stand in beyond it, saying so."""

from datetime import date

from orchestration.calendars import exchange_calendar, exchange_timezone, session_days, session_on


def test_a_span_past_the_recorded_holidays_is_built_to_their_end():
    # XSHG's holidays are recorded to the end of 2026; a later end raises ValueError in the library.
    built = exchange_calendar("XSHG", date(2026, 11, 2), date(2027, 2, 1))
    assert (built.first, built.last) == (date(2026, 11, 2), date(2026, 12, 31))


def test_session_days_are_the_calendars_and_then_weekdays():
    days = session_days("XSHG", date(2026, 9, 28), date(2026, 10, 9))
    assert date(2026, 9, 30) in days and date(2026, 10, 1) not in days and date(2026, 10, 9) in days
    # Past the recorded span: Mon-Fri, New Year's Day 2027 included (no holiday is known there yet).
    assert session_days("XSHG", date(2026, 12, 30), date(2027, 1, 4)) == [
        date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 4)]


def test_a_session_beyond_the_calendar_says_it_was_guessed():
    assert session_on("XSHG", date(2026, 12, 31)).fallback is None
    guessed = session_on("XSHG", date(2027, 1, 4))
    assert guessed is not None and "Mon-Fri assumed" in guessed.fallback
    assert exchange_timezone("XHKG") == "Asia/Hong_Kong"
