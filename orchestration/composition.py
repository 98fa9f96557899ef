"""What the definitions are built with: the Settings, read once, and the one Warehouse and provider
built from them. The composition root (orchestration/definitions.py) names them for the length of a
load of the defs folder; each concern's `@definitions` function (dg loads those without arguments)
takes them from here, so a test's Settings(...) reaches every concern and every concern shares the
root's Warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from dagster import PartitionsDefinition

from orchestration.partitions import daily_partitions
from orchestration.resources import build_provider, build_warehouse, last_snapshot_date
from orchestration.resources.providers import MarketDataProvider
from orchestration.resources.warehouse import Warehouse
from orchestration.settings import Settings, get_settings


@dataclass(frozen=True)
class Composition:
    settings: Settings
    warehouse: Warehouse
    provider: MarketDataProvider
    # The raw assets' and the jobs' partitions: one object, so both end on the same day (the snapshot's
    # last date, read once per load).
    partitions_def: PartitionsDefinition

    @classmethod
    def of(cls, settings: Settings) -> Composition:
        partitions_def = daily_partitions(settings.start_date, last_snapshot_date(settings))
        return cls(settings, build_warehouse(settings), build_provider(settings), partitions_def)


_LOADING: ContextVar[Composition | None] = ContextVar("ctr_composition", default=None)


@contextmanager
def composing(composition: Composition) -> Iterator[Composition]:
    token = _LOADING.set(composition)
    try:
        yield composition
    finally:
        _LOADING.reset(token)


def current() -> Composition:
    """The composition being loaded; the environment's Settings when dg loads a defs module by itself."""
    return _LOADING.get() or Composition.of(get_settings())
