"""Every session of every calendar the project prices on, over the span of the loaded prices.

A Python model because exchange_calendars (with the project's explicit weekday fallback past its
bounds, orchestration/calendars.py) is the one source of trading days; the SQL that counts sessions
(how far behind a side of the headline report is) reads this table.

Incremental by calendar: a calendar whose stored sessions already cover the span is left as it is, and
one that does not is recomputed whole (delete+insert on `calendar`). Building a calendar costs seconds
(Korea's lunar holidays about four), so a build whose span has not grown builds none."""

from datetime import date, timedelta

import pandas as pd


def _end_of_month(day: date) -> date:
    # The span ends at the month's end, not today: a daily run extends it twelve times a year, not daily.
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key="calendar")
    from orchestration.calendars import WEEKDAYS, session_days

    calendars = set(dbt.ref("exchanges").project("calendar").df().calendar.dropna())
    calendars |= set(dbt.ref("index_catalog").project("calendar").df().calendar.dropna())
    calendars.add(WEEKDAYS)  # FX, and any listing whose exchange has no calendar
    first, last = dbt.source("raw", "index_prices").aggregate("min(trade_date), max(trade_date)").fetchone()
    stock_first, stock_last = dbt.source("raw", "stock_prices").aggregate("min(trade_date), max(trade_date)").fetchone()
    firsts = [d for d in (first, stock_first) if d is not None]
    # Up to today as well: a report may be asked for a date the data has not reached (it then says how
    # many sessions the data is behind).
    lasts = [d for d in (last, stock_last) if d is not None] + [date.today()]
    covered = {}
    if dbt.is_incremental:
        stored = session.sql(f"select calendar, min(session_date), max(session_date) from {dbt.this} group by 1")
        covered = {calendar: (lo, hi) for calendar, lo, hi in stored.fetchall()}
    rows = []
    if firsts:
        span = (min(firsts), _end_of_month(max(lasts)))
        for calendar in sorted(calendars):
            lo, hi = covered.get(calendar, (None, None))
            # Sessions, not days, are stored. The span's end is a month end, so a last session within a
            # week of it is of the same month; at the start only an exact bound is safe (a calendar closed
            # on the span's first day is rebuilt each time: slower, never wrong).
            if lo is not None and lo <= span[0] and hi >= span[1] - timedelta(days=7):
                continue
            rows += [(calendar, day) for day in session_days(calendar, *span)]
    frame = pd.DataFrame(rows, columns=["calendar", "session_date"], dtype="object")
    # Typed here: an empty frame would otherwise give DuckDB columns of no type.
    return session.from_df(frame).project("cast(calendar as varchar) as calendar, cast(session_date as date) as session_date")
