"""The two resources every asset reaches the outside world through, chosen by the settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from orchestration.resources.providers import MarketDataProvider
from orchestration.resources.providers.snapshot import SnapshotProvider, snapshot_last_date
from orchestration.resources.warehouse import DuckDBFileWarehouse, Warehouse
from orchestration.settings import Settings


def build_provider(settings: Settings) -> MarketDataProvider:
    if settings.source == "live":
        from orchestration.resources.providers.live import LiveProvider

        return LiveProvider(retry_after_max_s=settings.retry_after_max_seconds)
    label = "sample" if settings.is_bundled_sample else "snapshot"
    return SnapshotProvider(snapshot_dir=str(settings.snapshot_dir), label=label,
                            record_dir=str(snapshot_record_dir(settings)),
                            memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads)


def snapshot_record_dir(settings: Settings) -> Path:
    return build_warehouse(settings).state_folder / "snapshot_checks"


def last_snapshot_date(settings: Settings) -> date | None:
    """The snapshot folder's last date (None in live mode, or for a folder without dates)."""
    if settings.source != "snapshot":
        return None
    return snapshot_last_date(settings.snapshot_dir, snapshot_record_dir(settings),
                              build_provider(settings).limits)


def build_warehouse(settings: Settings) -> Warehouse:
    common = {
        "memory_limit": settings.duckdb_memory_limit, "threads": settings.duckdb_threads,
        "state_dir": str(settings.duckdb_database.parent), "lock_wait_seconds": settings.lock_wait_seconds,
    }
    if settings.warehouse == "ducklake":
        from orchestration.resources.ducklake import DuckLakeWarehouse

        return DuckLakeWarehouse(catalog=settings.ducklake_catalog, data_path=settings.ducklake_data_location,
                                 run_limit=settings.max_concurrent_runs, **common)
    return DuckDBFileWarehouse(database=str(settings.duckdb_database), **common)


__all__ = ["build_provider", "build_warehouse", "last_snapshot_date"]
