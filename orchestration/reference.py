"""Reference data read from the dbt seeds, so Python and dbt share one source of truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd

from orchestration.settings import SEEDS_DIR


@dataclass(frozen=True)
class IndexInfo:
    index_id: str
    name: str
    market: str
    currency: str
    calendar: str
    role: str
    akshare_symbol: str | None
    akshare_em_symbol: str | None
    yahoo_symbol: str | None
    # Names per constituent snapshot; set for the indices whose constituent lists are loaded.
    constituent_count: int | None = None


@dataclass(frozen=True)
class Exchange:
    calendar: str  # exchange_calendars code
    name: str
    market: str
    currency: str
    yahoo_suffixes: tuple[str, ...]  # empty for US listings
    close_group: str  # the daily market-close schedule that loads it


@dataclass(frozen=True)
class BasketMember:
    basket_id: str
    symbol: str
    name: str
    subsector: str
    currency: str
    calendar: str
    listed_on: date


def _read_seed(name: str, seeds_dir: Path) -> pd.DataFrame:
    return pd.read_csv(seeds_dir / f"{name}.csv", dtype=str, keep_default_na=False)


@lru_cache
def index_catalog(seeds_dir: Path = SEEDS_DIR) -> tuple[IndexInfo, ...]:
    rows = _read_seed("index_catalog", seeds_dir).to_dict("records")
    return tuple(
        IndexInfo(**{
            **{k: (v or None) if k.endswith("symbol") else v for k, v in r.items()},
            "constituent_count": int(r["constituent_count"]) if r.get("constituent_count") else None,
        })
        for r in rows
    )


def constituent_counts(seeds_dir: Path = SEEDS_DIR) -> dict[str, int]:
    """index_id -> names per snapshot, for the indices whose constituent lists are loaded."""
    return {i.index_id: i.constituent_count for i in index_catalog(seeds_dir) if i.constituent_count}


@lru_cache
def basket_members(seeds_dir: Path = SEEDS_DIR) -> tuple[BasketMember, ...]:
    rows = _read_seed("ai_basket_members", seeds_dir).to_dict("records")
    return tuple(BasketMember(**{**r, "listed_on": date.fromisoformat(r["listed_on"])}) for r in rows)


@lru_cache
def headline_baskets(seeds_dir: Path = SEEDS_DIR) -> tuple[str, str]:
    """(basket, compared with) of the baskets seed's headline row: the pair the report leads with."""
    rows = _read_seed("baskets", seeds_dir)
    headline = rows[rows["is_headline"].str.strip().str.lower() == "true"]
    if len(headline) != 1:
        raise ValueError(f"{seeds_dir / 'baskets.csv'}: exactly one row must have is_headline true")
    row = headline.iloc[0]
    return row["basket_id"].strip().upper(), row["compare_with"].strip().upper()


@lru_cache
def exchanges(seeds_dir: Path = SEEDS_DIR) -> tuple[Exchange, ...]:
    rows = _read_seed("exchanges", seeds_dir).to_dict("records")
    return tuple(Exchange(**{**r, "yahoo_suffixes": tuple(r["yahoo_suffixes"].split())}) for r in rows)


def exchange_of_suffix() -> dict[str, Exchange]:
    """Yahoo suffix -> exchange; "" (no suffix) -> the first US exchange, where unsuffixed symbols list."""
    by_suffix = {sfx: e for e in exchanges() for sfx in e.yahoo_suffixes}
    by_suffix[""] = next(e for e in exchanges() if not e.yahoo_suffixes)
    return by_suffix


def calendars_closing_with(close_group: str) -> tuple[str, ...]:
    """The calendars of a close group that some index or basket member trades on: a market nobody
    lists on does not make the schedule run on its own trading days."""
    used = {i.calendar for i in index_catalog()} | {m.calendar for m in basket_members()}
    return tuple(e.calendar for e in exchanges() if e.close_group == close_group and e.calendar in used)


def index_ids() -> list[str]:
    return [i.index_id for i in index_catalog()]


def stock_symbols() -> list[str]:
    return sorted({m.symbol for m in basket_members()})


def currency_of_symbol() -> dict[str, str]:
    return {m.symbol: m.currency for m in basket_members()}


def calendar_of_index() -> dict[str, str]:
    return {i.index_id: i.calendar for i in index_catalog()}


def calendar_of_symbol() -> dict[str, str]:
    return {m.symbol: m.calendar for m in basket_members()}


def fx_currencies() -> list[str]:
    """Every non-USD currency a basket member or an index is quoted in."""
    currencies = {m.currency for m in basket_members()} | {i.currency for i in index_catalog()}
    return sorted(currencies - {"USD"})
