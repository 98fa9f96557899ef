"""The five datasets every provider returns and the raw schema stores: one definition, used by the
snapshot validator, the providers, the warehouse DDL and the raw assets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["text", "date", "double"]

_SQL_TYPES = {"text": "VARCHAR", "date": "DATE", "double": "DOUBLE"}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool
    description: str


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    # The id a provider is asked for (index_id, symbol, currency); a write replaces rows per entity.
    entity_column: str
    date_column: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # Columns that must hold a strictly positive number when present.
    positive_columns: tuple[str, ...] = ()
    # An as-of dataset holds values "in force from date d until the next row" (share counts, FX rates,
    # constituent lists), so a window must start with the value in force at its first day: see carry_in.
    as_of: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def table(self) -> str:
        return f"raw.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def ddl(self) -> str:
        cols = [f"{c.name} {_SQL_TYPES[c.type]}" for c in self.columns]
        cols += ["source VARCHAR NOT NULL", "loaded_at TIMESTAMP NOT NULL"]
        return f"create table if not exists {self.table} ({', '.join(cols)})"


_OHLCV = (
    Column("open", "double", False, "Opening price in the listing currency."),
    Column("high", "double", False, "Intraday high."),
    Column("low", "double", False, "Intraday low."),
    Column("volume", "double", False, "Traded volume (shares or index units as the source reports)."),
)


def _daily_prices(name: str, description: str, entity: Column, close: str, *extra: Column) -> Dataset:
    """A daily close-and-OHLCV series per entity: index levels and stock prices differ only in these."""
    return Dataset(
        name=name,
        description=description,
        entity_column=entity.name,
        date_column="trade_date",
        key=(entity.name, "trade_date"),
        columns=(
            entity,
            Column("trade_date", "date", True, "Exchange-local trading date."),
            Column("close", "double", True, close),
            *extra,
            *_OHLCV,
        ),
        positive_columns=("close", "open", "high", "low"),
    )


def _as_of_values(name: str, description: str, entity: Column, since: Column, value: Column) -> Dataset:
    """One positive value per entity, in force from its date until the entity's next row."""
    return Dataset(
        name=name,
        description=description,
        entity_column=entity.name,
        date_column=since.name,
        key=(entity.name, since.name),
        columns=(entity, since, value),
        positive_columns=(value.name,),
        as_of=True,
    )


INDEX_PRICES = _daily_prices(
    "index_prices",
    "Daily index levels, one row per index and exchange-local trading date.",
    Column("index_id", "text", True, "Index id from the index catalog (STAR50, HSTECH, NDX...)."),
    "Closing level.",
)

STOCK_PRICES = _daily_prices(
    "stock_prices",
    "Daily unadjusted stock prices in the listing currency.",
    Column("symbol", "text", True, "Yahoo-style listing symbol (688256.SS, 0700.HK, NVDA)."),
    "Unadjusted close in the listing currency.",
    Column("currency", "text", True, "ISO 4217 listing currency."),
)

FX_RATES = _as_of_values(
    "fx_rates",
    "Daily FX: US dollars per one unit of the currency.",
    Column("currency", "text", True, "ISO 4217 currency code."),
    Column("trade_date", "date", True, "Date of the rate."),
    Column("usd_per_unit", "double", True, "US dollars per one unit of the currency."),
)

SHARES_OUTSTANDING = _as_of_values(
    "shares_outstanding",
    "Shares outstanding per symbol, effective from as_of_date until the next row.",
    Column("symbol", "text", True, "Yahoo-style listing symbol."),
    Column("as_of_date", "date", True, "Date from which the count applies."),
    Column("shares_outstanding", "double", True, "Total shares outstanding."),
)

INDEX_CONSTITUENTS = Dataset(
    name="index_constituents",
    description="Index membership snapshots: the constituents of an index as of a date, with weights.",
    entity_column="index_id",
    date_column="as_of_date",
    key=("index_id", "symbol", "as_of_date"),
    columns=(
        Column("index_id", "text", True, "Index id from the index catalog."),
        Column("symbol", "text", True, "Yahoo-style listing symbol of the constituent."),
        Column("as_of_date", "date", True, "Date of the constituent list."),
        Column("name", "text", False, "Constituent name."),
        Column("weight", "double", False, "Index weight in percent (a snapshot sums to about 100)."),
    ),
    as_of=True,
)

CORPORATE_ACTIONS = Dataset(
    name="corporate_actions",
    description="Corporate actions a live source reported with its prices: splits and bonus issues, by"
    " ex-date. Not a snapshot file: written beside raw.stock_prices by the same load.",
    entity_column="symbol",
    date_column="ex_date",
    key=("symbol", "ex_date", "action"),
    columns=(
        Column("symbol", "text", True, "Yahoo-style listing symbol."),
        Column("ex_date", "date", True, "Exchange-local date from which prices trade on the new basis."),
        Column("action", "text", True, "'split' (a bonus issue is a split: new shares for old)."),
        Column("ratio", "double", True, "Shares after per share before (10 for a 10:1 split, 0.1 for 1:10)."),
    ),
    positive_columns=("ratio",),
)

# No market value, volume or share count reaches this; a larger one is a broken export (1e308 would
# overflow to inf once multiplied into a market cap), rejected like a non-number.
MAX_ABS_VALUE = 1e15

DATASETS: tuple[Dataset, ...] = (INDEX_PRICES, STOCK_PRICES, FX_RATES, SHARES_OUTSTANDING, INDEX_CONSTITUENTS)
DATASETS_BY_NAME = {d.name: d for d in DATASETS}
# Every table of the raw schema: the datasets, and what a load writes beside them.
RAW_TABLES: tuple[Dataset, ...] = (*DATASETS, CORPORATE_ACTIONS)
