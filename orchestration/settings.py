"""The settings every entry point honours (docs/warehouse.md, "Settings"), read from the environment in this one place."""

from __future__ import annotations

import os
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
SAMPLE_DIR = PROJECT_ROOT / "sample_data"


def _project_path(value: str | Path) -> Path:
    # Relative paths mean "relative to the project", so `make` targets, the UI and tests started from
    # another directory all agree on one warehouse file.
    path = Path(value).expanduser()
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def default_memory_limit() -> str:
    # DuckDB's own default (80% of RAM), spelled out: `SET memory_limit` takes no percentages.
    return f"{int(0.8 * os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')) // 2**20}MiB"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    duckdb_database: Path = Field(
        default=Path("warehouse/china_tech_rally.duckdb"), validation_alias="DUCKDB_DATABASE"
    )
    source: Literal["snapshot", "live"] = Field(default="snapshot", validation_alias="CTR_SOURCE")
    snapshot_dir: Path = Field(default=SAMPLE_DIR, validation_alias="CTR_SNAPSHOT_DIR")
    start_date: date = Field(default=date(2024, 1, 1), validation_alias="CTR_START_DATE")
    # Unset: `reports/` in the project for the default warehouse, else `reports/` beside the warehouse.
    reports_dir: Path | None = Field(default=None, validation_alias="CTR_REPORTS_DIR")
    # The warehouse kind, which is also the name of its output in dbt_project/profiles.yml.
    warehouse: Literal["duckdb", "ducklake"] = Field(default="duckdb", validation_alias="CTR_WAREHOUSE")
    # CTR_WAREHOUSE=ducklake (docs/scale-out.md): the catalog after `ducklake:` (default: the cluster of
    # `make postgres`) and the folder or object-store URL of its Parquet files.
    ducklake_catalog: str = Field(
        default="postgres:dbname=ctr host=127.0.0.1 port=54329 user=ctr", validation_alias="CTR_DUCKLAKE_CATALOG"
    )
    ducklake_data_path: str = Field(default="warehouse/lake/", validation_alias="CTR_DUCKLAKE_DATA_PATH")
    # DuckDB's memory_limit (e.g. "2GB") and threads for every warehouse session, the snapshot reader and
    # dbt. Unset: DuckDB's defaults (80% of RAM, every core). A cap makes big joins spill to disk, not swap.
    duckdb_memory_limit: str | None = Field(default=None, validation_alias="CTR_DUCKDB_MEMORY_LIMIT")
    duckdb_threads: int | None = Field(default=None, ge=1, validation_alias="CTR_DUCKDB_THREADS")
    # How long a run waits for another run writing the same DuckDB file (a CLI run meeting a UI or
    # scheduled one) before it fails, naming that run.
    lock_wait_seconds: float = Field(default=300.0, ge=0, validation_alias="CTR_LOCK_WAIT_SECONDS")
    # Runs the instance's queue lets run at once on DuckLake (the DuckDB file takes one writer: always 1).
    max_concurrent_runs: int = Field(default=4, ge=1, validation_alias="CTR_MAX_CONCURRENT_RUNS")
    # Dagster's runs, events and schedules in PostgreSQL rather than SQLite files (docs/scale-out.md).
    dagster_pg_url: str | None = Field(default=None, validation_alias="DAGSTER_PG_URL")
    # The longest wait a live upstream's Retry-After (on a 429 or 503) is honoured for; a host asking for
    # longer is asked again after this wait, so one throttled host cannot stall a run for an hour.
    retry_after_max_seconds: float = Field(default=120.0, ge=0, validation_alias="CTR_RETRY_AFTER_MAX_SECONDS")

    @field_validator("duckdb_database", "snapshot_dir", "reports_dir", mode="after")
    @classmethod
    def _resolve(cls, value: Path | None) -> Path | None:
        return None if value is None else _project_path(value)

    @field_validator("source", "warehouse", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def ducklake_data_location(self) -> str:
        """The data path with a folder made absolute (relative to the project), a URL as given; a folder
        ends with a slash, as DuckLake expects."""
        if "://" in self.ducklake_data_path:
            return self.ducklake_data_path
        return str(_project_path(self.ducklake_data_path)).rstrip("/") + "/"

    @property
    def reports_folder(self) -> Path:
        """CTR_REPORTS_DIR; else `reports/` in the project for the project's warehouse, and beside the
        warehouse file for any other (a test's, a user's own), so that one never overwrites the other's."""
        folder = self.duckdb_database.parent
        return self.reports_dir or (PROJECT_ROOT / "reports" if folder == PROJECT_ROOT / "warehouse" else folder / "reports")

    @cached_property
    def is_bundled_sample(self) -> bool:
        return self.source == "snapshot" and self.snapshot_dir == SAMPLE_DIR.resolve()


def get_settings() -> Settings:
    return Settings()

