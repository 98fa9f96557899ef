"""The project's event log storage records a ranged run exactly as Dagster's own SQLite storage does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetKey,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    asset,
    asset_check,
    define_asset_job,
)

from orchestration.instance import BatchingSqliteEventLogStorage, instance_config
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG
from orchestration.settings import PROJECT_ROOT

DAYS = DailyPartitionsDefinition(start_date="2024-12-20", end_date="2025-01-10")


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
def prices() -> MaterializeResult:
    return MaterializeResult(metadata={"rows_written": 7})


@asset_check(asset=prices)
def prices_positive() -> AssetCheckResult:
    return AssetCheckResult(passed=True)


@asset_check(asset=prices)
def prices_fresh() -> AssetCheckResult:
    return AssetCheckResult(passed=False)


CHECKS = [AssetCheckKey(AssetKey("prices"), name) for name in ("prices_positive", "prices_fresh")]


def _ranged_run(home: Path, start: str, end: str) -> None:
    defs = Definitions(assets=[prices], asset_checks=[prices_positive, prices_fresh],
                       jobs=[define_asset_job("all", partitions_def=DAYS)])
    job = defs.resolve_job_def("all")
    with DagsterInstance.from_config(str(home)) as instance:
        tags = {RANGE_START_TAG: start, RANGE_END_TAG: end}
        assert job.execute_in_process(instance=instance, tags=tags).success


def _recorded(home: Path) -> tuple:
    with DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(AssetKey("prices"), limit=1000, ascending=True).records
        latest = instance.get_latest_materialization_event(AssetKey("prices"))
        rows = [(r.partition_key, r.asset_materialization.metadata["rows_written"].value) for r in records]
        storage = instance.event_log_storage
        # Each run's events in order, and what the index shard answers about planned and evaluated checks.
        runs = [[(e.dagster_event_type, e.dagster_event.asset_key if e.is_dagster_event else None)
                 for e in instance.all_logs(run.run_id) if e.is_dagster_event]
                for run in reversed(instance.get_runs())]
        checks = [[(c.status, c.partition) for c in storage.get_asset_check_execution_history(key, limit=10)]
                  for key in CHECKS]
        planned = storage.get_latest_planned_materialization_info(AssetKey("prices"))
        return (rows, instance.get_materialized_partitions(AssetKey("prices")), latest.dagster_event.partition,
                runs, checks, planned is not None)


@pytest.fixture
def homes(tmp_path, monkeypatch) -> dict[str, Path]:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "5")  # several batches per step, the last one partial
    # Neither home is DAGSTER_HOME: the storage must find its folder from the instance it serves.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    project, stock = tmp_path / "project", tmp_path / "stock"
    project.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", project / "dagster.yaml")
    stock.mkdir()
    config = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    config.pop("event_log_storage")
    (stock / "dagster.yaml").write_text(yaml.safe_dump(config))
    return {"project": project, "stock": stock}


def test_a_ranged_run_is_recorded_as_dagsters_own_sqlite_storage_records_it(homes):
    for home in homes.values():
        _ranged_run(home, "2024-12-20", "2025-01-02")  # 14 partitions: batches of 5, 5, 4
        _ranged_run(home, "2025-01-01", "2025-01-01")  # a single-day tick after it
    project, stock = (_recorded(home) for home in homes.values())

    assert project == stock
    rows, partitions, latest, runs, checks, planned = project
    assert len(rows) == 15 and len(partitions) == 14 and latest == "2025-01-01"
    assert len(runs) == 2 and planned and all(history for history in checks), checks
    assert (homes["project"] / "history" / "runs" / "index.db").exists()
    with DagsterInstance.from_config(str(homes["project"])) as instance:
        assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)


def test_the_postgres_instance_keeps_dagster_postgres_own_event_log():
    base = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    config = instance_config(base, {"DAGSTER_PG_URL": "postgresql+psycopg2://u@127.0.0.1:5432/d"})
    assert "event_log_storage" not in config and "postgres" in config["storage"]
    assert instance_config(base, {})["event_log_storage"]["class"] == "BatchingSqliteEventLogStorage"
