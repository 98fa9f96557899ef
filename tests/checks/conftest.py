"""One small clean warehouse, materialised once and shared: a slice of the bundled sample.

The slice runs from November 2025 to mid-January 2026: the December/January listings (Moore Threads,
MetaX, Biren, Zhipu, MiniMax), year-end holidays that differ by calendar (Tokyo shut Jan 1-2 and 12,
New York on Christmas, Hong Kong on Boxing Day). Check tests copy the built warehouse file and break
one thing in the copy; a second, partial build lives in test_partial_snapshot.py.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster import instance_for_test

from orchestration.datasets import DATASETS
from orchestration.definitions import build_definitions
from orchestration.resources.warehouse import DuckDBFileWarehouse, WarehouseSession
from orchestration.settings import SAMPLE_DIR, Settings
from tests.conftest import run_range

SLICE_START = date(2025, 11, 3)
SLICE_END = date(2026, 1, 16)
# The end of the slice's last day: what the EvaluationClock resolves to in snapshot mode.
AS_OF = "2026-01-16T23:59:59+00:00"


def write_slice(folder: Path, start: date = SLICE_START, end: date = SLICE_END, files=None) -> Path:
    """The sample's rows in [start, end]; shares outstanding in force at `start` are re-dated to it."""
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as conn:
        for d in DATASETS:
            if files is not None and d.name not in files:
                continue
            src = str(SAMPLE_DIR / d.file_name)
            cols = ", ".join(d.column_names)
            if d.name == "shares_outstanding":
                sql = f"""
                    select symbol, greatest(as_of_date, date '{start}') as as_of_date, shares_outstanding
                    from read_csv('{src}', header = true)
                    where as_of_date <= date '{end}'
                    qualify as_of_date >= max(case when as_of_date <= date '{start}' then as_of_date end)
                        over (partition by symbol)
                        or max(case when as_of_date <= date '{start}' then as_of_date end)
                        over (partition by symbol) is null"""
            else:
                sql = f"""select {cols} from read_csv('{src}', header = true)
                          where {d.date_column} between date '{start}' and date '{end}'"""
            conn.execute(f"copy ({sql}) to '{folder / d.file_name}' (header, dateformat '%Y-%m-%d')")
    return folder


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
def built(tmp_path_factory) -> Built:
    """The whole graph materialised over the clean slice, once per session."""
    root = tmp_path_factory.mktemp("clean")
    folder = write_slice(root / "snapshot")
    with instance_for_test() as instance:
        yield materialise(folder, root, SLICE_START, SLICE_END, instance)


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

