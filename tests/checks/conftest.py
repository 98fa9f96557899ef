"""The check tests' warehouses: the session's shared build of the sample slice (tests/sample_slice.py),
copied and broken one thing at a time, and hand-made tiny ones.

The slice runs from November 2025 to mid-January 2026: the December/January listings (Moore Threads,
MetaX, Biren, Zhipu, MiniMax), year-end holidays that differ by calendar (Tokyo shut Jan 1-2 and 12,
New York on Christmas, Hong Kong on Boxing Day). A second, partial build lives in test_partial_snapshot.py.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.definitions import build_definitions
from orchestration.resources.warehouse import DuckDBFileWarehouse, WarehouseSession
from orchestration.settings import Settings
from tests.conftest import run_range
from tests.sample_slice import SampleWarehouse, sample_warehouse

# The end of the slice's last day: what the EvaluationClock resolves to in snapshot mode.
AS_OF = "2026-01-16T23:59:59+00:00"


class Built:
    def __init__(self, settings: Settings, defs, instance, result) -> None:
        self.settings, self.defs, self.instance, self.result = settings, defs, instance, result

    @property
    def database(self) -> Path:
        return self.settings.duckdb_database

    def check_evaluations(self) -> dict[tuple[str, str], object]:
        """(asset key path, check name) -> the check's evaluation in the build run."""
        out = {}
        for event in self.result.get_asset_check_evaluations():
            out[(event.asset_key.to_user_string(), event.check_name)] = event
        return out


def materialise(folder: Path, workdir: Path, start: date, end: date, instance) -> Built:
    database = workdir / "warehouse.duckdb"
    env = {"DUCKDB_DATABASE": str(database), "CTR_SOURCE": "snapshot", "CTR_SNAPSHOT_DIR": str(folder),
           "CTR_START_DATE": start.isoformat()}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        settings = Settings()
        defs = build_definitions(settings)
        result = run_range(defs, instance, start.isoformat(), end.isoformat())
    # dbt is run by the job with DUCKDB_DATABASE from the environment, gone again now.
    return Built(settings, defs, instance, result)


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> SampleWarehouse:
    """The whole graph materialised over the clean slice: the session's one shared build."""
    return sample_warehouse(tmp_path_factory)


@pytest.fixture
def warehouse_copy(built, tmp_path):
    """A private copy of the clean warehouse to break; yields an open session on it."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built.database, copy)
    conn = duckdb.connect(str(copy))
    yield WarehouseSession(conn)
    conn.close()


@pytest.fixture
def tiny(tmp_path):
    """An empty warehouse with the raw tables (and schema marts), for hand-made rows."""

    database = tmp_path / "tiny.duckdb"
    DuckDBFileWarehouse(database=str(database)).ensure_raw_tables()
    conn = duckdb.connect(str(database))
    conn.execute("create schema if not exists marts")
    yield WarehouseSession(conn)
    conn.close()


def insert(conn, table: str, rows: list[tuple], columns: str) -> None:
    """Insert rows given as tuples of `columns` (comma separated); raw tables get source/loaded_at."""
    extra = ", source, loaded_at" if table.startswith("raw.") else ""
    values = ", ".join("(" + ", ".join(["?"] * len(r)) + (", 'test', now()" if extra else "") + ")" for r in rows)
    conn.execute(f"insert into {table} ({columns}{extra}) values {values}", [v for r in rows for v in r])

