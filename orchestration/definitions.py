"""The code location: everything Dagster loads, built from the settings in one call."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from dagster import Definitions, in_process_executor

from assets.checks import build_asset_checks, with_mart_freshness_policy
from assets.dbt import build_dbt_assets, build_dbt_resource
from assets.publish import PublishedWarehouse, publish_warehouse, published_path_for
from assets.raw import build_raw_assets
from assets.report import ReportOutput, default_reports_dir, rpt_headline
from orchestration.calendars import EvaluationClock
from orchestration.jobs import build_jobs
from orchestration.partitions import daily_partitions
from orchestration.resources.providers import MarketDataProvider
from orchestration.resources.providers.snapshot import SnapshotProvider
from orchestration.resources.warehouse import DuckDBFileWarehouse, Warehouse
from orchestration.schedules import build_schedules
from orchestration.settings import Settings, get_settings


def build_provider(settings: Settings) -> MarketDataProvider:
    if settings.source == "live":
        from orchestration.resources.providers.live import LiveProvider

        return LiveProvider()
    label = "sample" if settings.is_bundled_sample else "snapshot"
    return SnapshotProvider(snapshot_dir=str(settings.snapshot_dir), label=label)


def build_warehouse(settings: Settings) -> Warehouse:
    if settings.warehouse == "ducklake":
        from orchestration.resources.ducklake import DuckLakeWarehouse

        return DuckLakeWarehouse(catalog=settings.ducklake_catalog, data_path=settings.ducklake_data_location)
    return DuckDBFileWarehouse(database=str(settings.duckdb_database))


def dbt_executable() -> str:
    # The venv's dbt, even when the venv is not activated (make targets call .venv/bin/... directly).
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def build_clock(settings: Settings) -> EvaluationClock:
    # A snapshot is judged as of the end of its last date (so the bundled sample is fresh), live data
    # as of now; the snapshot's end is read when a check runs, so a broken file fails a check, not the load.
    return EvaluationClock(data_end=settings.source == "snapshot")


def build_definitions(settings: Settings) -> Definitions:
    partitions_def = daily_partitions(settings.start_date)
    checks = build_asset_checks(settings)
    return Definitions(
        assets=with_mart_freshness_policy(
            [*build_raw_assets(partitions_def), build_dbt_assets(settings), rpt_headline, publish_warehouse]
        ),
        asset_checks=checks,
        jobs=build_jobs(partitions_def),
        schedules=build_schedules(partitions_def, running=settings.source == "live"),
        resources={
            "provider": build_provider(settings),
            "warehouse": build_warehouse(settings),
            "dbt": build_dbt_resource(settings, dbt_executable()),
            "clock": build_clock(settings),
            "report_output": ReportOutput(
                directory=str(settings.reports_dir or default_reports_dir(settings.duckdb_database)),
                synthetic_sample=settings.is_bundled_sample,
            ),
            "published": PublishedWarehouse(path=str(published_path_for(settings.duckdb_database))),
        },
        # DuckDB takes one writer process; the multiprocess executor would open the file from several.
        executor=in_process_executor,
    )


defs = build_definitions(get_settings())
