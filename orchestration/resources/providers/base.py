"""The interface every market-data provider implements.

Each fetch takes the ids to load and an inclusive date range and returns one frame in the normalised
shape of its dataset (the snapshot columns of docs/warehouse.md), plus a per-id outcome so that one bad
symbol never fails the others: the raw asset writes what it got and reports what is missing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
from dagster import ConfigurableResource

from orchestration.datasets import (
    CORPORATE_ACTIONS,
    FX_RATES,
    INDEX_CONSTITUENTS,
    INDEX_PRICES,
    MAX_ABS_VALUE,
    SHARES_OUTSTANDING,
    STOCK_PRICES,
    Dataset,
)


class ProviderError(Exception):
    """Input from a provider that cannot be used; the message names where (file, line, column, symbol)."""


class SourceUnreachableError(ProviderError):
    """The provider's hosts cannot be reached at all: fail fast rather than fall back silently."""


@dataclass
class FetchResult:
    dataset: Dataset
    frame: pd.DataFrame
    source: str
    # id -> reason, for every requested id the provider could not deliver.
    failures: dict[str, str] = field(default_factory=dict)
    # Ids the source holds but nobody asked for (a symbol missing from the seeds): logged, never loaded.
    ignored_ids: list[str] = field(default_factory=list)
    # Splits the source reported with its prices (CORPORATE_ACTIONS columns), for raw.corporate_actions.
    actions: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        self.frame = conform(self.dataset, self.frame)
        if self.actions is not None:
            self.actions = conform(CORPORATE_ACTIONS, self.actions)

    @property
    def loaded_ids(self) -> list[str]:
        return sorted(self.frame[self.dataset.entity_column].unique().tolist())


def carry_in(dataset: Dataset, frame: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """The rows of [start, end], plus, per id without a row on `start`, its latest rows before `start`
    restamped to `start`: the value in force when the window opens.

    One rule for every provider. Without it a window that opens between two share counts (or on a
    holiday without an FX row, or between two constituent lists) has no value for its first days, and
    "latest as_of_date <= d" finds nothing until the next change. Restamping keeps raw partitioned by
    date: the row belongs to the window that loaded it, and re-running that window replaces it.
    """
    entity, when = dataset.entity_column, dataset.date_column
    in_window = frame[(frame[when] >= start) & (frame[when] <= end)]
    opened = set(in_window.loc[in_window[when] == start, entity])
    before = frame[(frame[when] < start) & ~frame[entity].isin(opened)]
    if before.empty:
        return in_window.reset_index(drop=True)
    # Per id, every row of its latest date: one row for a rate or a count, the whole list for constituents.
    latest = before[when] == before.groupby(entity)[when].transform("max")
    carried = before[latest].assign(**{when: start})
    return pd.concat([carried, in_window], ignore_index=True)


def conform(dataset: Dataset, frame: pd.DataFrame) -> pd.DataFrame:
    """Order, type and complete the dataset's columns; a missing required column is an error."""
    missing = [c for c in dataset.required_columns if c not in frame.columns]
    if missing:
        raise ProviderError(
            f"{dataset.name}: provider frame lacks required column(s) {missing}; columns seen: {list(frame.columns)}"
        )
    out = pd.DataFrame(index=frame.index)
    for col in dataset.columns:
        values = frame[col.name] if col.name in frame.columns else pd.Series(None, index=frame.index)
        if col.type == "date":
            out[col.name] = pd.to_datetime(values).dt.date
        elif col.type == "double":
            out[col.name] = pd.to_numeric(values).astype("float64")
        else:
            out[col.name] = values.astype("object").where(values.notna(), None)
    if "source" in frame.columns:  # per-row provenance (which upstream produced the row) rides along
        out["source"] = frame["source"].astype("object").where(frame["source"].notna(), None)
    return out.reset_index(drop=True)


def unusable_values(
    dataset: Dataset, frame: pd.DataFrame, currency_of: dict[str, str] | None = None
) -> dict[str, str]:
    """id -> why its rows cannot be loaded: a value that is not a finite number in range, a
    non-positive price, rate or count, or a price labelled in another currency than the one its
    listing is configured in (a CNY stock priced "USD" would be worth about 7x in the marts)."""
    problems: dict[str, list[str]] = {}
    entity, when = dataset.entity_column, dataset.date_column

    def flag(mask: pd.Series, what: Callable[[pd.Series], str]) -> None:
        for _, row in frame[mask].iterrows():
            problems.setdefault(str(row[entity]), []).append(f"{row[when]}: {what(row)}")

    for col in (c.name for c in dataset.columns if c.type == "double"):
        values = frame[col].astype("float64")
        present = values.notna() if col not in dataset.required_columns else pd.Series(True, index=frame.index)
        bad = present & ~(np.isfinite(values) & (values.abs() < MAX_ABS_VALUE))
        if col in dataset.positive_columns:
            bad |= present & (values <= 0)
        flag(bad, lambda row, col=col: f"{col} = {row[col]!r} is not a usable positive finite number")
    if currency_of and "currency" in frame.columns:
        expected = frame[entity].map(currency_of)
        mislabelled = expected.notna() & (frame["currency"] != expected)
        flag(
            mislabelled,
            lambda row: f"priced in {row['currency']} but its listing is configured in {currency_of[row[entity]]}"
            " (dbt_project/seeds/ai_basket_members.csv)",
        )
    return {i: f"{len(p)} unusable row(s), e.g. " + "; ".join(p[:3]) for i, p in problems.items()}


def _split_source(rows: pd.DataFrame) -> pd.Series | None:
    # The upstream that reported the split, where another than the prices' (a second request).
    source = rows.get("source")
    if "split_source" not in rows:
        return source
    return rows["split_source"] if source is None else rows["split_source"].fillna(source)


def split_actions(frame: pd.DataFrame, entity: str) -> pd.DataFrame | None:
    """The splits an adapter reported on its price rows (a `split_ratio` beside the bar of the ex-date),
    as CORPORATE_ACTIONS rows; None when the adapter reports none."""
    if "split_ratio" not in frame.columns:
        return None
    rows = frame[frame["split_ratio"].notna() & (frame["split_ratio"] > 0) & (frame["split_ratio"] != 1)]
    return pd.DataFrame({
        "symbol": rows[entity], "ex_date": rows["trade_date"], "action": "split",
        "ratio": rows["split_ratio"], "source": _split_source(rows),
    })


def suspect_ids(dataset: Dataset, frame: pd.DataFrame) -> dict[str, str]:
    """id -> why some of its rows would be set aside (orchestration/quarantine.py): an unusable value, or
    two different answers for one key. The live provider asks the next source for such an id's window
    before any of its rows is dropped."""
    found = unusable_values(dataset, frame)
    answers = frame[[*dataset.column_names]].drop_duplicates()
    conflicting = answers[answers.duplicated(list(dataset.key), keep=False)]
    for entity_id, rows in conflicting.groupby(dataset.entity_column, sort=True):
        days = sorted(set(rows[dataset.date_column]))
        found[entity_id] = "; ".join(
            filter(None, [found.get(entity_id), f"different answers for the same day on {', '.join(map(str, days[:3]))}"]))
    return found


@dataclass(frozen=True)
class QueryFetch:
    """A dataset's rows as DuckDB SQL over the source's files rather than a frame: what a large snapshot
    export hands to the warehouse, which then reads it itself without a pandas copy of 20M rows."""

    dataset: Dataset
    sql: str  # selects the dataset's columns, typed, of the requested ids and window
    params: list
    source: str
    failures: dict[str, str] = field(default_factory=dict)
    ignored_ids: list[str] = field(default_factory=list)


class MarketDataProvider(ConfigurableResource, ABC):
    """A source of the five datasets. Implementations: snapshot folder, akshare, yfinance."""

    # A snapshot file is one export: one bad row makes the whole file suspect, so nothing of it loads.
    # A live source answers per id: one bad symbol must not stop the others.
    all_or_nothing: bool = False

    @property
    @abstractmethod
    def source_name(self) -> str: ...

    @abstractmethod
    def index_prices(self, index_ids: Sequence[str], start: date, end: date) -> FetchResult: ...

    @abstractmethod
    def stock_prices(self, symbols: Sequence[str], start: date, end: date) -> FetchResult: ...

    @abstractmethod
    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> FetchResult: ...

    @abstractmethod
    def shares_outstanding(self, symbols: Sequence[str], start: date, end: date) -> FetchResult: ...

    @abstractmethod
    def index_constituents(self, index_ids: Sequence[str], start: date, end: date) -> FetchResult: ...

    def check_reachable(self, timeout_s: float = 20.0) -> None:
        """Raise SourceUnreachableError quickly when the provider's hosts cannot be reached."""

    def date_range(self) -> tuple[date, date] | None:
        """The span of dates the provider holds, where that is knowable (a snapshot folder); else None."""
        return None

    def fetch_query(self, dataset: Dataset, ids: Sequence[str], start: date, end: date) -> QueryFetch | None:
        """The rows `fetch` would return, as SQL the warehouse can run, where the provider can say so
        (a checked snapshot file of a dated, not as-of, dataset); else None, and `fetch` is used."""
        return None

    def as_of_lookback(self, dataset: Dataset) -> timedelta | None:
        """How far before a window to look for the value in force at its start (None: all history).

        A live upstream is asked for a bounded span: a rate a month old, a share count ten years old
        and a constituent list a year old are still the ones in force."""
        return {"fx_rates": timedelta(days=31), "shares_outstanding": timedelta(days=3660)}.get(
            dataset.name, timedelta(days=400)
        )

    def fetch(self, dataset: Dataset, ids: Sequence[str], start: date, end: date) -> FetchResult:
        """The dataset's rows in [start, end]; for an as-of dataset, plus the value in force at start."""
        if not dataset.as_of:
            return self.fetch_span(dataset, ids, start, end)
        lookback = self.as_of_lookback(dataset)
        fetch_start = date.min if lookback is None else max(date.min, start - lookback)
        result = self.fetch_span(dataset, ids, fetch_start, end)
        return replace(result, frame=carry_in(dataset, result.frame, start, end))

    def fetch_span(self, dataset: Dataset, ids: Sequence[str], start: date, end: date) -> FetchResult:
        """The dataset's rows in exactly [start, end], without the as-of widening of fetch()."""
        method = {
            INDEX_PRICES.name: self.index_prices,
            STOCK_PRICES.name: self.stock_prices,
            FX_RATES.name: self.fx_rates,
            SHARES_OUTSTANDING.name: self.shares_outstanding,
            INDEX_CONSTITUENTS.name: self.index_constituents,
        }[dataset.name]
        return method(ids, start, end)
