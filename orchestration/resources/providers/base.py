"""The interface every market-data provider implements.

Each fetch takes the ids to load and an inclusive date range and returns one frame in the normalised
shape of its dataset (the snapshot columns of CONTRACT.md), plus a per-id outcome so that one bad
symbol never fails the others: the raw asset writes what it got and reports what is missing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from dagster import ConfigurableResource

from orchestration.datasets import (
    FX_RATES,
    INDEX_CONSTITUENTS,
    INDEX_PRICES,
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

    def __post_init__(self) -> None:
        self.frame = conform(self.dataset, self.frame)

    @property
    def loaded_ids(self) -> list[str]:
        return sorted(self.frame[self.dataset.entity_column].unique().tolist())


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
    return out.reset_index(drop=True)


class MarketDataProvider(ConfigurableResource, ABC):
    """A source of the five datasets. Implementations: snapshot folder, akshare, yfinance."""

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

    def fetch(self, dataset: Dataset, ids: Sequence[str], start: date, end: date) -> FetchResult:
        method = {
            INDEX_PRICES.name: self.index_prices,
            STOCK_PRICES.name: self.stock_prices,
            FX_RATES.name: self.fx_rates,
            SHARES_OUTSTANDING.name: self.shares_outstanding,
            INDEX_CONSTITUENTS.name: self.index_constituents,
        }[dataset.name]
        return method(ids, start, end)
