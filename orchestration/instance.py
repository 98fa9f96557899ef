"""The Dagster instance's configuration: the project's dagster.yaml, adapted to where runs keep their
records and what the warehouse lets them do at once. `python -m orchestration.instance [DAGSTER_HOME]`
writes it into DAGSTER_HOME (the make targets do).

- `DAGSTER_PG_URL` set (`postgresql+psycopg2://user@host:port/db`): runs, events and schedules are
  stored in that PostgreSQL database rather than in SQLite files under DAGSTER_HOME, so a webserver,
  a daemon and run workers on other machines share one instance (docs/scale-out.md). The URL stays
  an env reference in the file: a password never lands on disk.
- `CTR_WAREHOUSE=ducklake`: the lake takes many writers, so the `duckdb_warehouse` pool and the run
  queue allow `CTR_MAX_CONCURRENT_RUNS` (default 4) at once; on the DuckDB file both stay at 1.

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

from orchestration.settings import PROJECT_ROOT

DEFAULT_LAKE_CONCURRENCY = 4


def instance_config(base: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    config = copy.deepcopy(dict(base))
    if env.get("DAGSTER_PG_URL"):
        url = env["DAGSTER_PG_URL"]
        if not url.startswith("postgresql+psycopg2://"):
            # dagster-postgres on SQLAlchemy 2.1 picks psycopg 3 for a bare postgresql:// URL, which
            # breaks its LISTEN/NOTIFY path (run and event watching).
            raise ValueError(f"DAGSTER_PG_URL must start with postgresql+psycopg2://, got {url.split('@')[-1]!r}")
        config["storage"] = {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    if env.get("CTR_WAREHOUSE", "duckdb").strip().lower() == "ducklake":
        limit = int(env.get("CTR_MAX_CONCURRENT_RUNS") or DEFAULT_LAKE_CONCURRENCY)
        concurrency = config.setdefault("concurrency", {})
        concurrency.setdefault("pools", {})["default_limit"] = limit
        concurrency.setdefault("runs", {})["max_concurrent_runs"] = limit
    return config


def write_instance_yaml(home: Path, env: Mapping[str, str] | None = None) -> Path:
    base = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    config = instance_config(base, os.environ if env is None else env)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    header = "# Written by `python -m orchestration.instance` from the project's dagster.yaml: edit that one.\n"
    target.write_text(header + yaml.safe_dump(config, sort_keys=False))
    return target


if __name__ == "__main__":
    home = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["DAGSTER_HOME"])
    print(write_instance_yaml(home))
