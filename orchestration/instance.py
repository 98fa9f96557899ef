"""The Dagster instance's configuration: the project's dagster.yaml, adapted to where runs keep their
records and what the warehouse lets them do at once. `python -m orchestration.instance [DAGSTER_HOME]`
writes it into DAGSTER_HOME (`make demo-lake` does).

- `DAGSTER_PG_URL` set (`postgresql+psycopg2://user@host:port/db`): runs, events and schedules are
  stored in that PostgreSQL database rather than in SQLite files under DAGSTER_HOME, so a webserver,
  a daemon and run workers on other machines share one instance (docs/scale-out.md), and a long
  backfill's events are written in batches (dagster-postgres does it). The URL stays an env reference
  in the file: a password never lands on disk.
- The run queue's limit is the warehouse's (Warehouse.max_concurrent_runs): 1 on the DuckDB file,
  `CTR_MAX_CONCURRENT_RUNS` (default 4) on DuckLake.

dagster.yaml itself stays the file's configuration, so `make demo` and `make ui` read it unchanged.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from orchestration.resources import build_warehouse
from orchestration.settings import PROJECT_ROOT, Settings, get_settings


def instance_config(base: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    config = copy.deepcopy(dict(base))
    if settings.dagster_pg_url:
        url = settings.dagster_pg_url
        if not url.startswith("postgresql+psycopg2://"):
            # dagster-postgres on SQLAlchemy 2.1 picks psycopg 3 for a bare postgresql:// URL, which
            # breaks its LISTEN/NOTIFY path (run and event watching).
            raise ValueError(f"DAGSTER_PG_URL must start with postgresql+psycopg2://, got {url.split('@')[-1]!r}")
        config["storage"] = {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    limit = build_warehouse(settings).max_concurrent_runs
    config.setdefault("concurrency", {}).setdefault("runs", {})["max_concurrent_runs"] = limit
    return config


def write_instance_yaml(home: Path, settings: Settings | None = None) -> Path:
    base = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    config = instance_config(base, settings or get_settings())
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    header = "# Written by `python -m orchestration.instance` from the project's dagster.yaml: edit that one.\n"
    target.write_text(header + yaml.safe_dump(config, sort_keys=False))
    return target


if __name__ == "__main__":
    print(write_instance_yaml(Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["DAGSTER_HOME"])))
