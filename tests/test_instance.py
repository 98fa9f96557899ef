"""The Dagster instance's configuration follows the settings: PostgreSQL storage, and the run limit the
warehouse allows (orchestration/instance.py)."""

from __future__ import annotations

import pytest
import yaml

from orchestration.instance import instance_config, write_instance_yaml
from orchestration.settings import PROJECT_ROOT, Settings

BASE = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
PG_URL = "postgresql+psycopg2://u@127.0.0.1:5432/d"


def test_the_project_instance_is_dagsters_own_storage():
    # No storage class of the project's: Dagster's SQLite files, or dagster-postgres with DAGSTER_PG_URL.
    assert "event_log_storage" not in BASE and "storage" not in BASE
    assert instance_config(BASE, Settings())["concurrency"]["runs"]["max_concurrent_runs"] == 1


def test_postgres_storage_and_the_lake_run_limit_come_from_the_settings(tmp_path):
    lake = Settings(CTR_WAREHOUSE="ducklake", CTR_MAX_CONCURRENT_RUNS=3, DAGSTER_PG_URL=PG_URL)
    written = yaml.safe_load(write_instance_yaml(tmp_path, lake).read_text())
    assert written["storage"] == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    assert written["concurrency"]["runs"]["max_concurrent_runs"] == 3
    assert PG_URL not in (tmp_path / "dagster.yaml").read_text()  # the password stays an env reference
    # The DuckDB file takes one writer process, whatever CTR_MAX_CONCURRENT_RUNS says.
    on_file = instance_config(BASE, Settings(CTR_MAX_CONCURRENT_RUNS=3))
    assert on_file["concurrency"]["runs"]["max_concurrent_runs"] == 1


def test_a_postgres_url_without_the_psycopg2_driver_is_refused():
    with pytest.raises(ValueError, match="must start with postgresql"):
        instance_config(BASE, Settings(DAGSTER_PG_URL="postgresql://u@127.0.0.1:5432/d"))
