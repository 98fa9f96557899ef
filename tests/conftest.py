from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions, instance_for_test
from filelock import FileLock

from assets.schedules.jobs import MATERIALIZE_ALL_JOB
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG
from orchestration.settings import Settings

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """dagster-dbt loads target/manifest.json at import; `make test` prepares it, a bare pytest may not.
    Re-prepared when a project file is newer, as the Makefile rule does: a stale manifest fails the dbt
    step on a node it does not know."""
    from orchestration.dbt_project import dbt_project, prepare_manifest
    from orchestration.resources import build_warehouse

    manifest = dbt_project.manifest_path
    sources = [
        p for p in dbt_project.project_dir.rglob("*")
        if p.suffix in {".sql", ".yml", ".csv", ".py"} and dbt_project.target_path.name not in p.parts
    ]
    # One pytest-xdist worker parses; the others wait for its manifest.
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(manifest.parent / "manifest.lock"):
        if not manifest.exists() or max(p.stat().st_mtime for p in sources) > manifest.stat().st_mtime:
            prepare_manifest(build_warehouse(Settings()), always=True)
    return manifest


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        yield instance


@pytest.fixture
def settings_for(tmp_path):
    """Settings pointing at a temporary warehouse (dbt gets its env from the Warehouse they build)."""

    def make(snapshot_dir: Path, start: date = date(2024, 1, 1)) -> Settings:
        return Settings(DUCKDB_DATABASE=tmp_path / "warehouse" / "test.duckdb", CTR_SOURCE="snapshot",
                        CTR_SNAPSHOT_DIR=snapshot_dir, CTR_START_DATE=start)

    return make


def run_range(defs: Definitions, instance: DagsterInstance, start: str, end: str, selection=None):
    job = defs.resolve_job_def(MATERIALIZE_ALL_JOB)
    return job.execute_in_process(
        instance=instance,
        tags={RANGE_START_TAG: start, RANGE_END_TAG: end},
        asset_selection=selection,
        raise_on_error=False,
    )


# Modules by their cost on 2 cores, heaviest first (measured with --durations; the rest keep their
# order after these): two xdist workers then overlap the long ones instead of ending on one of them.
HEAVIEST_FIRST = [
    "tests/ducklake/test_lake.py",  # ~290 s
    "tests/test_report.py",  # ~215 s, and the first to ask for the shared build
    "tests/test_reliability.py",  # ~260 s
    "tests/test_cli.py",  # ~230 s
    "tests/browser/test_ui.py",
    "tests/browser/test_backfill.py",  # ~200 s: its own `dagster dev`, the daemon's backfill tick, one run
    "tests/test_runs_under_the_daemon.py",
    "tests/test_dbt_window.py",
    "tests/test_integration.py",
    "tests/test_incremental_marts.py",
    "tests/checks/test_partial_snapshot.py",
    "tests/checks/test_totals.py",
    "tests/test_definitions.py",
    "tests/test_add_a_basket.py",
    "tests/test_published_warehouse.py",
    "tests/test_raw_ingestion.py",
]


def pytest_collection_modifyitems(items) -> None:
    rank = {name: i for i, name in enumerate(HEAVIEST_FIRST)}
    # Stable: a module's own tests keep their order.
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
