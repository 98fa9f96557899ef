"""Value-level quarantine of a live source's answer: the values that cannot be loaded are set aside,
one by one, instead of the whole window of their id.

It runs on what is left after the live provider's second opinion (LiveProvider._second_opinion): an
id whose answer held such a value has already been asked from the next source of its chain, and kept
that source's whole window when it was clean. What reaches this point had no clean alternative.

A live source answers per id and per day, and one broken day (a zero close, an infinite rate, two
different closes for the same day) must not cost the id its other days. The rules, applied to each
answer before it is written:

- a required value (a close, a rate, a share count) that is not a positive finite number below
  MAX_ABS_VALUE withholds its row's day for that id: nothing of that (id, day) is written, and the row
  the warehouse already holds for it (from an earlier run) is kept;
- an optional value (open, high, low, volume, a constituent weight) that is not usable is written as
  NULL, and the rest of its row loads;
- duplicate keys within one answer: rows identical in every column are one row; rows that differ
  (two closes for one day) withhold that (id, day) as above, since nothing says which is right.

- a daily bar (an index or stock price) dated on a day its exchange held no session (a weekend, a
  holiday of its calendar) is not written: a close that never happened would be carried into the
  marts as that day's value;
- a session of the id's exchange inside the window with no bar in the answer, from the id's listing
  date (or the window's start) to the window's last closed session, is reported (log, the raw asset's
  `bars_missing` metadata, and a row with value NULL): the marts would otherwise carry the previous
  close over it without a word. An id the source failed on is reported as a failure instead.

Every value set aside (and every missing bar) is a row of `audit.quarantine` (id, date, column, value,
source, reason, run id), published with the marts. A snapshot file is not quarantined: it is one export, checked whole, and a
bad row stops all of it (docs/warehouse.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from orchestration.calendars import get_calendar, session_days
from orchestration.datasets import MAX_ABS_VALUE, Dataset
from orchestration.resources.providers.base import FetchResult
from orchestration.resources.providers.symbols import bar_calendar, utcnow

COLUMNS = ("id", "trade_date", "column_name", "value", "source", "reason")


@dataclass(frozen=True)
class Quarantined:
    rows: pd.DataFrame  # COLUMNS
    withheld: list[tuple[str, date]]  # (id, day) pairs not written: their stored rows stay
    missing: dict[str, list[date]] = field(default_factory=dict)  # id -> sessions without a bar

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def values(self) -> int:
        """Values set aside, not counting the missing bars reported beside them."""
        return len(self.rows) - sum(len(days) for days in self.missing.values())

    def records(self) -> list[tuple]:
        """The rows as tuples for audit.quarantine; a missing value is NULL there, not NaN."""
        return [tuple(None if isinstance(v, float) and np.isnan(v) else v for v in row)
                for row in self.rows.itertuples(index=False, name=None)]

    def summary(self, limit: int = 5) -> str:
        shown = "; ".join(
            f"{r.id} {r.trade_date} {r.column_name} = {'no bar' if pd.isna(r.value) else repr(r.value)}: {r.reason}"
            for r in self.rows.head(limit).itertuples()
        )
        return shown + (f"; and {len(self.rows) - limit} more" if len(self.rows) > limit else "")


def _number(value) -> float | None:
    try:
        return None if value is None or pd.isna(value) else float(value)
    except (TypeError, ValueError):
        return None


def _daily_bars(dataset: Dataset) -> bool:
    """Datasets of one bar per session of the id's exchange (not as-of values, which hold over days)."""
    return not dataset.as_of and dataset.date_column == "trade_date"


@lru_cache(maxsize=256)
def _sessions(calendar: str, first: date, last: date) -> tuple[date, ...]:
    # Cached: every id of a calendar asks for the same span, and each answer builds a calendar.
    # exchange_calendars builds no calendar for a span of one day: ask for two, keep the one.
    if first > last:
        return ()
    return tuple(d for d in session_days(calendar, first, last + timedelta(days=1)) if d <= last)


def _closed_sessions(calendar: str, first: date, last: date) -> list[date]:
    """The sessions of [first, last] whose close has passed: today's session counts once it closed."""
    days = list(_sessions(calendar, first, last))
    if days:
        session = get_calendar(calendar).session_on(days[-1])
        if session is not None and session.close > utcnow():
            days = days[:-1]
    return days


def quarantine(result: FetchResult, start: date | None = None, end: date | None = None,
               first_days: dict[str, date] | None = None) -> tuple[FetchResult, Quarantined]:
    """The answer with its unusable rows set aside. With the window (`start`, `end`), daily bars are also
    checked against their exchange's calendar: bars on closed days are set aside, and the sessions an
    id has no bar for are reported, from its day in `first_days` (its listing; default: the ids the
    answer holds, from `start`)."""
    dataset = result.dataset
    entity, when = dataset.entity_column, dataset.date_column
    frame = result.frame.drop_duplicates().reset_index(drop=True)  # identical answers are one answer
    source = frame["source"] if "source" in frame.columns else pd.Series(result.source, index=frame.index)
    source = source.fillna(result.source)
    records: list[tuple] = []
    withheld: set[tuple[str, date]] = set()

    values = [c for c in dataset.column_names if c not in dataset.key]
    conflicting = frame.duplicated(list(dataset.key), keep=False)
    for _, group in frame[conflicting].groupby(list(dataset.key), sort=True):
        differ = [c for c in values if group[c].astype(object).nunique(dropna=False) > 1] or values[:1]
        for i, row in group.iterrows():
            records.append((row[entity], row[when], differ[0], _number(row[differ[0]]), source[i],
                            f"{len(group)} different answers for the same key ({', '.join(differ)} differ)"))
            withheld.add((row[entity], row[when]))

    required = set(dataset.required_columns)
    for column in (c.name for c in dataset.columns if c.type == "double"):
        numbers = frame[column].astype("float64")
        present = numbers.notna() | (column in required)
        bad = present & ~(np.isfinite(numbers) & (numbers.abs() < MAX_ABS_VALUE))
        if column in dataset.positive_columns:
            bad |= present & (numbers <= 0)
        for i in frame.index[bad]:
            row = frame.loc[i]
            records.append((row[entity], row[when], column, _number(row[column]), source[i],
                            f"{column} is not a positive finite number"
                            + ("; the day is not written" if column in required else "; written as NULL")))
            if column in required:
                withheld.add((row[entity], row[when]))
        if column not in required:
            frame.loc[bad, column] = None

    missing: dict[str, list[date]] = {}
    if start is not None and end is not None and _daily_bars(dataset):
        closed_day = pd.Series(False, index=frame.index)
        for entity_id, rows in frame.groupby(entity, sort=True):
            calendar = bar_calendar(dataset.name, entity_id)
            if calendar is None:
                continue
            days = set(rows[when])
            sessions = set(_sessions(calendar, min(days), max(days)))
            for i in rows.index[~rows[when].isin(sessions)]:
                row = frame.loc[i]
                records.append((entity_id, row[when], "close", _number(row["close"]), source[i],
                                f"a bar on a day {calendar} held no session; the day is not written"))
                closed_day[i] = True
        frame = frame[~closed_day]
        # Every id the source answered for (a failed id is reported as such), from the day it can have
        # a bar: a one-day window whose only bar is missing has no row of the id at all.
        expected = first_days if first_days is not None else {i: start for i in frame[entity].unique()}
        labels = dict(zip(frame[entity], source[frame.index]))
        for entity_id, first in sorted(expected.items()):
            calendar = bar_calendar(dataset.name, entity_id)
            if calendar is None or entity_id in result.failures:
                continue
            days = set(frame.loc[frame[entity] == entity_id, when])
            gaps = [d for d in _closed_sessions(calendar, max(first, start), end) if d not in days]
            if gaps:
                missing[entity_id] = gaps
                # A bar the answer lacks never erases one the warehouse holds for that day.
                withheld.update((entity_id, d) for d in gaps)
                why = f"no bar in the answer for a {calendar} session; the marts carry the previous close over it"
                label = labels.get(entity_id, result.source)
                records += [(entity_id, d, "close", None, label, why) for d in gaps]

    if withheld:
        keys = pd.Series(list(zip(frame[entity], frame[when])), index=frame.index)
        frame = frame[~keys.isin(withheld)]
    frame = frame.reset_index(drop=True)
    rows = pd.DataFrame(records, columns=list(COLUMNS)).sort_values(["id", "trade_date", "column_name"])
    return replace(result, frame=frame), Quarantined(rows.reset_index(drop=True), sorted(withheld), missing)

