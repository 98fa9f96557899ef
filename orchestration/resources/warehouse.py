"""The warehouse connection: the one resource that knows where the DuckDB file is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from dagster_duckdb import DuckDBResource

from orchestration.datasets import DATASETS
from orchestration.resources.providers.base import FetchResult

RAW_SCHEMA = "raw"


@dataclass(frozen=True)
class WriteSummary:
    rows_written: int
    rows_replaced: int
    ids_replaced: list[str]


class Warehouse(DuckDBResource):
    """DuckDB warehouse; raw writes are idempotent replacements of a date window, one transaction each."""

    def ensure_raw_tables(self) -> None:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with self.get_connection() as conn:
            conn.execute(f"create schema if not exists {RAW_SCHEMA}")
            for dataset in DATASETS:
                conn.execute(dataset.ddl())

    def replace_window(
        self,
        result: FetchResult,
        requested_ids: list[str],
        start: date,
        end: date,
        loaded_at: datetime,
    ) -> WriteSummary:
        """Replace [start, end] for every requested id the provider delivered.

        Ids the provider failed on keep their rows: a transient failure must never erase history.
        """
        dataset = result.dataset
        ids = sorted(set(requested_ids) - set(result.failures))
        frame = result.frame
        frame = frame[
            frame[dataset.entity_column].isin(ids) & frame[dataset.date_column].between(start, end)
        ].copy()
        # A row that names its upstream keeps it; the fetch's label covers the rest.
        rows_source = frame["source"] if "source" in frame.columns else None
        frame["source"] = result.source if rows_source is None else rows_source.fillna(result.source)
        frame["loaded_at"] = loaded_at
        columns = ", ".join([*dataset.column_names, "source", "loaded_at"])
        self.ensure_raw_tables()
        with self.get_connection() as conn:
            conn.register("incoming", frame)
            conn.execute("begin transaction")
            try:
                replaced = conn.execute(
                    f"delete from {dataset.table} where {dataset.entity_column} in (select unnest(?::varchar[]))"
                    f" and {dataset.date_column} between ? and ?",
                    [ids, start, end],
                ).fetchone()[0]
                conn.execute(f"insert into {dataset.table} ({columns}) select {columns} from incoming")
                conn.execute("commit")
            except BaseException:
                conn.execute("rollback")
                raise
            finally:
                conn.unregister("incoming")
        return WriteSummary(rows_written=len(frame), rows_replaced=int(replaced), ids_replaced=ids)
