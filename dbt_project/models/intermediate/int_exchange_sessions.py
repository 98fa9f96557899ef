"""Every session of every calendar the project prices on, over the span of the loaded prices.

A Python model because exchange_calendars (with the project's explicit weekday fallback past its
bounds, orchestration/calendars.py) is the one source of trading days; the SQL that counts sessions
(how far behind a side of the headline report is) reads this table."""

from datetime import date

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
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
    rows = []
    if firsts:
        for calendar in sorted(calendars):
            rows += [(calendar, day) for day in session_days(calendar, min(firsts), max(lasts))]
    frame = pd.DataFrame(rows, columns=["calendar", "session_date"], dtype="object")
    # Typed here: an empty frame would otherwise give DuckDB columns of no type.
    return session.from_df(frame).project("cast(calendar as varchar) as calendar, cast(session_date as date) as session_date")
