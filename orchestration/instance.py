"""The Dagster instance's configuration: the project's dagster.yaml, adapted to where runs keep their
records and what the warehouse lets them do at once. `python -m orchestration.instance [DAGSTER_HOME]`
writes it into DAGSTER_HOME (the make targets do).

- `DAGSTER_PG_URL` set (`postgresql+psycopg2://user@host:port/db`): runs, events and schedules are
  stored in that PostgreSQL database rather than in SQLite files under DAGSTER_HOME, so a webserver,
  a daemon and run workers on other machines share one instance (docs/scale-out.md). The URL stays
  an env reference in the file: a password never lands on disk.
- `CTR_WAREHOUSE=ducklake`: the lake takes many writers, so the run queue allows
  `CTR_MAX_CONCURRENT_RUNS` (default 4) at once; on the DuckDB file it stays at 1.

dagster.yaml itself stays the file's configuration, so `make demo` and `make ui` read it unchanged.
It names the event log storage below, which keeps Dagster's SQLite files and layout.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from dagster import Field, StringSource
from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster_shared.serdes import serialize_value

from orchestration.settings import PROJECT_ROOT

DEFAULT_LAKE_CONCURRENCY = 4
# Dagster hands a step's per-partition events to storage in batches of this size when it is set.
EVENT_BATCH_SIZE = "1000"
_BATCHED_EVENTS = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION}
# What a run intends to do, announced in one batch when it starts: an event per asset and per check.
_PLANNED_EVENTS = {DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, storing a ranged run's per-partition materialisations in one
    transaction per batch, as dagster-postgres does.

    A backfill run of a daily-partitioned asset records one materialisation per day. The stock SQLite
    storage falls back to one store_event per event (a new engine and two commits each, about 12 ms):
    15 years of 5 raw assets cost 5 minutes of bookkeeping; batched, about 5 seconds. Every row is the
    same as before; the asset's latest-materialisation index is updated from the batch's last event.
    """

    def __init__(self, base_dir: str | None = None, inst_data=None):
        # Read by Dagster at each event, not at start: the storage that can batch turns batching on.
        os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
        self._pending_inst_data = inst_data
        if base_dir:
            super().__init__(base_dir, inst_data=inst_data)

    def register_instance(self, instance) -> None:
        # Without a base_dir, Dagster's own place: history/runs of the instance's home, which is only
        # known here (an instance opened with from_config(home) need not be DAGSTER_HOME).
        if not hasattr(self, "_base_dir"):
            runs = os.path.join(instance.root_directory, "history", "runs")
            super().__init__(runs, inst_data=self._pending_inst_data)
        super().register_instance(instance)

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def store_event_batch(self, events) -> None:
        kinds = {event.dagster_event_type for event in events}
        if len({event.run_id for event in events}) != 1:
            return super().store_event_batch(events)
        if kinds and kinds <= _PLANNED_EVENTS:
            return self._store_planned_batch(events)
        if len(kinds) != 1 or not kinds <= _BATCHED_EVENTS:
            return super().store_event_batch(events)
        with self._stored(events) as (conn, ids):
            self._store_asset_event_tags(conn, events, ids)
            self._store_asset_event(conn, events[-1], ids[-1])

    def _store_planned_batch(self, events) -> None:
        """A run's planned assets and checks (a dbt project's tests make hundreds) in one transaction per
        database, not three commits each: the rows store_event() writes for each, in the same order."""
        with self._stored(events) as (conn, ids):
            checks = []
            for event, event_id in zip(events, ids):
                if event.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
                    self._store_asset_event_tags(conn, [event], [event_id])
                    self._store_asset_event(conn, event, event_id)
                    continue
                planned = event.dagster_event.event_specific_data
                keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
                checks += [
                    {
                        "asset_key": planned.asset_key.to_string(),
                        "check_name": planned.check_name,
                        "partition": partition_key,
                        "run_id": event.run_id,
                        "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
                        "evaluation_event": serialize_value(event),
                        "evaluation_event_timestamp": self._event_insert_timestamp(event),
                        "evaluation_event_storage_id": event_id,
                    }
                    for partition_key in keys
                ]
            if checks:
                conn.execute(AssetCheckExecutionsTable.insert(), checks)  # executemany: no bound on the rows

    @contextmanager
    def _stored(self, events) -> Iterator[tuple[Any, list[int]]]:
        """The events' rows written to their run's shard, then to the index shard (asset events are
        mirrored there, where cross-run queries find them): yields the index transaction and the rows'
        ids in it, for what else the index keeps of them."""
        rows = [self._event_to_row(event) for event in events]
        table = SqlEventLogStorageTable
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(table.insert(), rows)
        with self.index_transaction() as conn:
            inserted = conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows)
            yield conn, [row[0] for row in inserted]


def instance_config(base: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    config = copy.deepcopy(dict(base))
    if env.get("DAGSTER_PG_URL"):
        url = env["DAGSTER_PG_URL"]
        if not url.startswith("postgresql+psycopg2://"):
            # dagster-postgres on SQLAlchemy 2.1 picks psycopg 3 for a bare postgresql:// URL, which
            # breaks its LISTEN/NOTIFY path (run and event watching).
            raise ValueError(f"DAGSTER_PG_URL must start with postgresql+psycopg2://, got {url.split('@')[-1]!r}")
        config["storage"] = {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
        # dagster-postgres batches on its own; `storage` excludes a per-store setting.
        config.pop("event_log_storage", None)
    if env.get("CTR_WAREHOUSE", "duckdb").strip().lower() == "ducklake":
        limit = int(env.get("CTR_MAX_CONCURRENT_RUNS") or DEFAULT_LAKE_CONCURRENCY)
        config.setdefault("concurrency", {}).setdefault("runs", {})["max_concurrent_runs"] = limit
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
