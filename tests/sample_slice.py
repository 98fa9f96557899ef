"""One small materialised sample warehouse with a persistent Dagster home, shared by the checks,
report, publishing, bad-input and browser tests (materialised once per session: a full run costs
about a minute here). Tests that break something break a copy of it.

The slice of the bundled sample crosses a year end up to mid-January 2026, the period of the news the
project started from, so the year-to-date figures and charts have their base close.

The run that builds it is also the concurrent-reader experiment: a publication already exists (the
empty warehouse's, as a scheduled run finds the previous one), and a reader process hammers it from
before the run starts until after the new copy is published. What the reader saw is kept for
tests/test_published_warehouse.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance

from orchestration.datasets import DATASETS
from orchestration.definitions import build_definitions
from orchestration.resources.warehouse import DuckDBFileWarehouse, published_path_for
from orchestration.settings import PROJECT_ROOT, SAMPLE_DIR, Settings
from tests.conftest import run_range
from tests.session_once import build_once

SLICE_START = date(2025, 11, 3)
SLICE_END = date(2026, 1, 16)


def write_slice(folder: Path, start: date = SLICE_START, end: date = SLICE_END, files=None) -> Path:
    """The sample's prices in [start, end], and its as-of rows (share counts, FX, constituent lists) up
    to `end` with their history: the load carries the values in force at `start` into the window.
    `files`: the dataset names to write (default all), for a folder that lacks some."""
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as conn:
        for d in DATASETS:
            if files is not None and d.name not in files:
                continue
            src = str(SAMPLE_DIR / d.file_name)
            since = "" if d.as_of else f"{d.date_column} >= date '{start}' and "
            sql = f"""select {", ".join(d.column_names)} from read_csv('{src}', header = true)
                      where {since}{d.date_column} <= date '{end}'"""
            conn.execute(f"copy ({sql}) to '{folder / d.file_name}' (header, dateformat '%Y-%m-%d')")
    return folder


@dataclass
class SampleWarehouse:
    root: Path
    env: dict[str, str]
    dagster_home: Path
    first_run_id: str | None = None
    first_run_success: bool = False
    reader_report: dict | None = None

    @property
    def defs(self):
        return build_definitions(self.settings)

    def check_evaluations(self) -> dict[tuple[str, str], Any]:
        """(asset key path, check name) -> the check's evaluation in the first (full) run."""
        with self.instance() as instance:
            events = instance.all_logs(self.first_run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        evaluations = [e.dagster_event.event_specific_data for e in events]
        return {(e.asset_key.to_user_string(), e.check_name): e for e in evaluations}

    @property
    def settings(self) -> Settings:
        return Settings(**self.env)

    @property
    def database(self) -> Path:
        return Path(self.env["DUCKDB_DATABASE"])

    @property
    def published(self) -> Path:
        return published_path_for(self.database)

    @property
    def reports(self) -> Path:
        return self.settings.reports_folder

    @contextmanager
    def instance(self) -> Iterator[DagsterInstance]:
        with DagsterInstance.from_config(str(self.dagster_home)) as instance:
            yield instance

    def copy_to(self, root: Path) -> dict[str, str]:
        """A private copy of the build under `root` (same file name: the staging views name its catalog)
        and of its published copy; returns the env a run on it needs (without this build's Dagster home)."""
        database = root / "warehouse" / self.database.name
        database.parent.mkdir(parents=True)
        shutil.copy(self.database, database)
        published = published_path_for(database)
        published.parent.mkdir()
        shutil.copy(self.published, published)
        return {**{k: v for k, v in self.env.items() if k != "DAGSTER_HOME"}, "DUCKDB_DATABASE": str(database)}

    def materialise(self, selection=None):
        """A full run of the graph over the slice (as `make demo` does), recorded in the Dagster home."""
        with self.instance() as instance:
            return run_range(build_definitions(self.settings), instance, SLICE_START.isoformat(), SLICE_END.isoformat(), selection)


def _build(root: Path) -> dict:
    snapshot = write_slice(root / "sample_slice")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DUCKDB_DATABASE": str(root / "warehouse" / "china_tech_rally.duckdb"),
        "CTR_SOURCE": "snapshot",
        "CTR_SNAPSHOT_DIR": str(snapshot),
        "CTR_START_DATE": SLICE_START.isoformat(),
        "DAGSTER_HOME": str(home),
    }
    warehouse = SampleWarehouse(root=root, env=env, dagster_home=home)
    empty = DuckDBFileWarehouse(database=env["DUCKDB_DATABASE"])
    empty.ensure_raw_tables()
    empty.publish()
    with hammering(warehouse.published, root / "reader") as report:
        run = warehouse.materialise()
    return {"env": env, "first_run_id": run.run_id, "first_run_success": run.success, "reader_report": report()}


@contextmanager
def hammering(published: Path, workdir: Path) -> Iterator[Callable[[], dict]]:
    """Reader processes querying `published` while the block runs (tests/published_reader.py).

    Yields a function returning what each saw: {"fresh": {...}, "held": {...}}.
    """
    workdir.mkdir(parents=True)
    stop = workdir / "STOP"
    modes = ("fresh", "held")
    outs = {mode: workdir / f"{mode}.json" for mode in modes}
    log = (workdir / "readers.log").open("w")
    readers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.published_reader", str(published), str(stop), str(outs[mode]), mode],
            cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        for mode in modes
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(out.with_suffix(".ready").exists() for out in outs.values()):
            if any(r.poll() is not None for r in readers) or time.monotonic() > deadline:
                raise RuntimeError(f"a reader did not start; see {workdir}")
            time.sleep(0.1)
        yield lambda: {mode: json.loads(out.read_text()) for mode, out in outs.items()}
    finally:
        # Long enough for a few rounds on the new publication.
        time.sleep(1.5)
        stop.touch()
        for reader in readers:
            try:
                reader.wait(timeout=60)
            finally:
                if reader.poll() is None:
                    reader.kill()
        log.close()


def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> SampleWarehouse:
    """The session's shared warehouse, materialised on first use (once for all test workers)."""
    saved = build_once(tmp_path_factory, "sample_slice", _build)
    home = Path(saved["env"]["DAGSTER_HOME"])
    return SampleWarehouse(root=home.parent, dagster_home=home, env=saved["env"], first_run_id=saved["first_run_id"],
                           first_run_success=saved["first_run_success"], reader_report=saved["reader_report"])
