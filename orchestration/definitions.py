"""The code location: everything Dagster loads, built from the settings in one call."""

from __future__ import annotations

from dagster import Definitions, in_process_executor
from dagster_dbt import DbtCliResource

from assets.dbt import build_dbt_assets, dbt_project
from assets.raw import build_raw_assets
from orchestration.jobs import build_jobs
from orchestration.partitions import daily_partitions
from orchestration.resources.providers import MarketDataProvider
from orchestration.resources.providers.snapshot import SnapshotProvider
from orchestration.resources.warehouse import Warehouse
from orchestration.settings import Settings, get_settings


def build_provider(settings: Settings) -> MarketDataProvider:
    if settings.source == "live":
        from orchestration.resources.providers.live import LiveProvider

        return LiveProvider()
    label = "sample" if settings.is_bundled_sample else "snapshot"
    return SnapshotProvider(snapshot_dir=str(settings.snapshot_dir), label=label)


def build_definitions(settings: Settings) -> Definitions:
    partitions_def = daily_partitions(settings.start_date)
    return Definitions(
        assets=[*build_raw_assets(partitions_def), build_dbt_assets(partitions_def)],
        jobs=build_jobs(partitions_def),
        resources={
            "provider": build_provider(settings),
            "warehouse": Warehouse(database=str(settings.duckdb_database)),
            "dbt": DbtCliResource(project_dir=dbt_project),
        },
        # DuckDB takes one writer process; the multiprocess executor would open the file from several.
        executor=in_process_executor,
    )


defs = build_definitions(get_settings())
