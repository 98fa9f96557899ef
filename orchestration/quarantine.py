"""Value-level quarantine of a live source's answer: the values that cannot be loaded are set aside,
one by one, instead of the whole window of their id.

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

Every value set aside is a row of `audit.quarantine` (id, date, column, value, source, reason, run id),
published with the marts. A snapshot file is not quarantined: it is one export, checked whole, and a
bad row stops all of it (docs/warehouse.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from orchestration.datasets import MAX_ABS_VALUE
from orchestration.resources.providers.base import FetchResult

COLUMNS = ("id", "trade_date", "column_name", "value", "source", "reason")


@dataclass(frozen=True)
class Quarantined:
    rows: pd.DataFrame  # COLUMNS
    withheld: list[tuple[str, date]]  # (id, day) pairs not written: their stored rows stay

    def __len__(self) -> int:
        return len(self.rows)

    def summary(self, limit: int = 5) -> str:
        shown = "; ".join(
            f"{r.id} {r.trade_date} {r.column_name} = {r.value!r}: {r.reason}"
            for r in self.rows.head(limit).itertuples()
        )
        return shown + (f"; and {len(self.rows) - limit} more" if len(self.rows) > limit else "")


def _number(value) -> float | None:
    try:
        return None if value is None or pd.isna(value) else float(value)
    except (TypeError, ValueError):
        return None


def quarantine(result: FetchResult) -> tuple[FetchResult, Quarantined]:
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

    if withheld:
        keys = pd.Series(list(zip(frame[entity], frame[when])), index=frame.index)
        frame = frame[~keys.isin(withheld)].reset_index(drop=True)
    rows = pd.DataFrame(records, columns=list(COLUMNS)).sort_values(["id", "trade_date", "column_name"])
    return replace(result, frame=frame), Quarantined(rows.reset_index(drop=True), sorted(withheld))


__all__ = ["COLUMNS", "Quarantined", "quarantine"]
