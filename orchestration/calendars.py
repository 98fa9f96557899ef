"""Exchange calendars: which sessions exist and when they close, with an explicit weekday fallback.

exchange_calendars only knows a bounded span per calendar (its default window is twenty years back to
one year ahead of today, and XSHG holidays are only recorded to 2026: later dates raise ValueError).
Freshness checks and schedules must keep working past those bounds, so for a date the library cannot
answer we assume a Monday-Friday session closing at the exchange's regular time, and every answer
says which dates were guessed that way: a check reports it in its metadata, a schedule in its tags.

XSHG serves Shanghai (.SS) and Shenzhen (.SZ) listings alike; the seeds name it for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals

# FX trades around the clock on weekdays; a day's rate is settled at the 17:00 New York roll.
WEEKDAYS = "WEEKDAYS"
_WEEKDAYS_TZ = "America/New_York"
_WEEKDAYS_CLOSE = time(17, 0)
# Enough to step over Golden Week or Lunar New Year (about 9 calendar days) many times over.
_MAX_SCAN_DAYS = 60


@dataclass(frozen=True)
class Session:
    """One session of a calendar; `fallback` says why it was guessed rather than looked up."""

    calendar: str
    day: date
    close: datetime  # aware, UTC
    fallback: str | None = None


@dataclass(frozen=True)
class SessionLookup:
    """The answer to "which session", with every weekday guess made on the way to it."""

    calendar: str
    session: Session | None
    fallbacks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def day(self) -> date | None:
        return self.session.day if self.session else None

class TradingCalendar:
    """A named exchange calendar answering per date, falling back to weekdays where it cannot."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._xcal = None
        self._problem: str | None = None
        if name == WEEKDAYS:
            self.tz, self.regular_close = ZoneInfo(_WEEKDAYS_TZ), _WEEKDAYS_CLOSE
            return
        try:
            self._xcal = recent_calendar(name)
            if self._xcal is None:
                raise ValueError("no recorded sessions near today")
        except Exception as exc:  # noqa: BLE001 - an unknown or broken calendar must not stop a check
            self._problem = f"{name} is not an exchange_calendars calendar ({exc})"
            self.tz, self.regular_close = ZoneInfo("UTC"), time(23, 59)
            return
        self.tz = ZoneInfo(str(self._xcal.tz))
        # The latest regular close time ("None" means since the beginning; a later entry overrides).
        self.regular_close = self._xcal.close_times[-1][1]

    def _fallback_reason(self, day: date) -> str | None:
        if self.name == WEEKDAYS:
            return None
        if self._xcal is None:
            return f"{self._problem}: Mon-Fri assumed for {day}"
        first, last = self._xcal.first_session.date(), self._xcal.last_session.date()
        if first <= day <= last:
            return None
        return f"{self.name} has no calendar data for {day} (known {first}..{last}): Mon-Fri assumed"

    def session_on(self, day: date) -> Session | None:
        """The session held on `day` (exchange-local date), or None when the exchange was closed."""
        reason = self._fallback_reason(day)
        if self._xcal is not None and reason is None:
            try:
                if not self._xcal.is_session(day.isoformat()):
                    return None
                close = self._xcal.session_close(day.isoformat()).to_pydatetime().astimezone(UTC)
                return Session(self.name, day, close)
            except ValueError as exc:  # DateOutOfBounds subclasses ValueError
                reason = f"{self.name} cannot answer for {day} ({exc}): Mon-Fri assumed"
        if day.weekday() >= 5:
            return None
        close = datetime.combine(day, self.regular_close, self.tz).astimezone(UTC)
        return Session(self.name, day, close, reason)

    def latest_closed(self, as_of: datetime, lag_sessions: int = 0) -> SessionLookup:
        """The session that closed `lag_sessions` sessions before the latest one closed by `as_of`."""
        as_of = _aware(as_of)
        day = as_of.astimezone(self.tz).date()
        seen, fallbacks = 0, []
        for _ in range(_MAX_SCAN_DAYS * (lag_sessions + 1)):
            session = self.session_on(day)
            if session is not None and session.close <= as_of:
                if session.fallback:
                    fallbacks.append(session.fallback)
                if seen == lag_sessions:
                    return SessionLookup(self.name, session, tuple(fallbacks))
                seen += 1
            day -= timedelta(days=1)
        return SessionLookup(self.name, None, tuple(fallbacks))

    def first_on_or_after(self, day: date) -> SessionLookup:
        fallbacks = []
        for offset in range(_MAX_SCAN_DAYS):
            session = self.session_on(day + timedelta(days=offset))
            if session is not None:
                if session.fallback:
                    fallbacks.append(session.fallback)
                return SessionLookup(self.name, session, tuple(fallbacks))
        return SessionLookup(self.name, None, tuple(fallbacks))

    def local_date(self, instant: datetime) -> date:
        return _aware(instant).astimezone(self.tz).date()


# TradingCalendar answers from a calendar built for this span around today: the freshness checks and the
# schedules ask about recent sessions, and a span of a few years builds in a fraction of the library's
# default twenty years (older dates fall back to weekdays, saying so).
SPAN_BACK_DAYS = 3 * 366
SPAN_AHEAD_DAYS = 60


@dataclass(frozen=True)
class BuiltCalendar:
    """An exchange_calendars calendar and the span [first, last] it was built for."""

    calendar: xcals.ExchangeCalendar
    first: date
    last: date


@cache
def exchange_calendar(name: str, start: date, end: date) -> BuiltCalendar | None:
    """xcals.get_calendar(name, start, end), or the calendar for the longest leading part of the span the
    library has recorded (XSHG's holidays stop at a year's end and later ends raise ValueError); None when
    it has none of it. Built once per process and span: XKRX takes about 4 s on any span (the library
    converts Korea's lunar holidays for 1970-2200 on every build), the others well under a second."""
    while start <= end:
        try:
            return BuiltCalendar(xcals.get_calendar(name, start=start.isoformat(), end=end.isoformat()), start, end)
        except ValueError:  # DateOutOfBounds and "holidays only recorded to" both subclass ValueError
            end = date(end.year - 1, 12, 31)
    return None


def recent_calendar(name: str) -> xcals.ExchangeCalendar | None:
    today = date.today()
    built = exchange_calendar(name, today - timedelta(days=SPAN_BACK_DAYS), today + timedelta(days=SPAN_AHEAD_DAYS))
    return built.calendar if built else None


@cache
def exchange_timezone(name: str) -> str:
    """An exchange's time zone as exchange_calendars defines it."""
    if name == WEEKDAYS:
        return _WEEKDAYS_TZ
    today = date.today()
    built = exchange_calendar(name, today - timedelta(days=14), today)
    return str(built.calendar.tz) if built is not None else str(get_calendar(name).tz)


@cache
def get_calendar(name: str) -> TradingCalendar:
    return TradingCalendar(name)


def latest_closed_session(calendar: str, as_of: datetime, lag_sessions: int = 0) -> SessionLookup:
    """The latest session of `calendar` closed by `as_of` (or `lag_sessions` before it)."""
    return get_calendar(calendar).latest_closed(as_of, lag_sessions)


def session_on(calendar: str, day: date) -> Session | None:
    return get_calendar(calendar).session_on(day)


def session_days(calendar: str, first: date, last: date) -> list[date]:
    """The days in [first, last] on which `calendar` holds a session, Mon-Fri where exchange_calendars
    cannot answer. In bulk (the report's session table): a calendar is built for just this span, which
    costs a fraction of the default twenty-year one that session_on() answers from."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    weekdays = [d for d in days if d.weekday() < 5]
    if calendar == WEEKDAYS or calendar not in xcals.get_calendar_names():
        return weekdays
    built = exchange_calendar(calendar, first, last)
    if built is None:
        return weekdays
    lo, hi = built.first, built.last
    held = {ts.date() for ts in built.calendar.sessions}
    return [d for d in days if d in held or (not lo <= d <= hi and d.weekday() < 5)]


def first_session_on_or_after(calendar: str, day: date) -> SessionLookup:
    return get_calendar(calendar).first_on_or_after(day)


def _aware(instant: datetime) -> datetime:
    # A naive instant is read as UTC: the warehouse stores loaded_at that way too.
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def parse_instant(text: str) -> datetime:
    return _aware(datetime.fromisoformat(text))


def end_of_day_utc(day: date) -> datetime:
    """The last second of `day` in UTC: after every session dated `day` from Tokyo to New York closed."""
    return datetime.combine(day, time(23, 59, 59), UTC)


@dataclass(frozen=True)
class Instant:
    at: datetime
    basis: str
