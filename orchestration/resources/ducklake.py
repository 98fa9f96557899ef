"""The Warehouse port on DuckLake: the same DuckDB engine and SQL, the tables in a lake whose catalog is a
PostgreSQL database and whose data is Parquet files in a folder or an object store (docs/scale-out.md).

Why it exists: a DuckDB file takes one writer process. A lake takes many: each writer commits a
snapshot to the catalog, readers read the latest committed snapshot (or an older one) without ever
waiting, and a writer that dies before its commit leaves no trace in the catalog.

The extensions (ducklake, postgres_scanner) come from PyPI packages pinned with duckdb, installed
into an extension folder inside the environment: DuckDB's own installer would download them at run
time, which a machine without internet (or CI) cannot.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb
from pydantic import Field

from orchestration import audit_log
from orchestration.duckdb_extensions import extension_directory
from orchestration.resources.warehouse import Warehouse, WarehouseSession, transaction

# The catalog name every session gives the lake; dbt_project/profiles.yml attaches it under the same
# name, so the staging views (which name their catalog) resolve from Python and from dbt alike.
LAKE_ALIAS = "lake"

# The table `publish` appends to: one row per publication, naming the snapshot it published, so a
# reader can pin what the last finished run left (`AT (VERSION => snapshot_id)`).
PUBLICATIONS_TABLE = "published.publications"

T = TypeVar("T")

def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_SECRET = re.compile(r"(password\s*=\s*)(\S+)", re.IGNORECASE)


def is_conflict(exc: BaseException) -> bool:
    """A DuckLake commit that lost the race to another writer's conflicting snapshot."""
    return isinstance(exc, duckdb.Error) and "conflict" in str(exc).lower()


class DuckLakeWarehouse(Warehouse):
    """The scale-out target: a DuckLake with a PostgreSQL catalog; many writer and reader processes."""

    catalog: str = Field(
        description="The DuckLake catalog after `ducklake:` (CTR_DUCKLAKE_CATALOG), e.g."
        " `postgres:dbname=ctr host=127.0.0.1 port=54329 user=ctr`."
    )
    data_path: str = Field(
        description="Where the Parquet files go (CTR_DUCKLAKE_DATA_PATH): an absolute folder, or an object-store"
        " URL (s3://bucket/prefix/) in production."
    )
    conflict_retries: int = Field(
        default=5,
        description="How often a raw write that conflicts with another writer's commit is redone from the start.",
    )
    run_limit: int = Field(default=4, description="Runs the instance lets write the lake at once (CTR_MAX_CONCURRENT_RUNS).")

    @property
    def max_concurrent_runs(self) -> int:
        return self.run_limit

    @property
    def dbt_target(self) -> str:
        return "ducklake"

    def dbt_env(self) -> dict[str, str]:
        return {
            **super().dbt_env(),
            "CTR_DUCKLAKE_CATALOG": self.catalog,
            "CTR_DUCKLAKE_DATA_PATH": self.data_path,
            # dbt-duckdb installs the extensions it is told to load: from here, never the internet.
            "CTR_DUCKDB_EXTENSION_DIR": str(extension_directory()),
        }

    @property
    def location(self) -> str:
        catalog = _SECRET.sub(r"\1***", self.catalog)
        return f"ducklake:{catalog} (data: {self.data_path})"

    @property
    def reader_hint(self) -> str:
        catalog = _SECRET.sub(r"\1***", self.catalog)
        return (f".venv/bin/duckdb -cmd \"SET extension_directory = '{extension_directory()}';"
                f" ATTACH 'ducklake:{catalog}' AS lake (READ_ONLY); USE lake;\" (docs/scale-out.md)")

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if "://" not in self.data_path:
            Path(self.data_path).mkdir(parents=True, exist_ok=True)
        config = {
            **self._config(),
            "extension_directory": str(extension_directory()),
            "autoinstall_known_extensions": False,
        }
        conn = duckdb.connect(":memory:", config=config)
        try:
            options = [f"DATA_PATH {_quote(self.data_path)}"] + (["READ_ONLY"] if read_only else [])
            conn.execute(f"attach {_quote('ducklake:' + self.catalog)} as {LAKE_ALIAS} ({', '.join(options)})")
            conn.execute(f"use {LAKE_ALIAS}")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def exclusive(self, what: str) -> Iterator[None]:
        """A PostgreSQL advisory lock on the catalog database, per `what`: two runs' dbt builds rewrite
        the same tables, and DuckLake would abort the second to commit (a conflict, not a wait). The
        lock belongs to a database session, so a writer that dies releases it with its connection."""
        if not self.catalog.startswith("postgres:"):
            # A DuckDB or SQLite catalog file takes one writer process anyway.
            yield
            return
        import psycopg2

        key = zlib.crc32(f"china-tech-rally:{what}".encode())
        conn = psycopg2.connect(self.catalog.removeprefix("postgres:"))
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute("select pg_advisory_lock(%s)", [key])
            yield
        finally:
            conn.close()

    def _retrying(self, write: Callable[[], T]) -> T:
        # Another run's write to the same table may commit first; redoing the whole transaction against
        # the new snapshot is correct because the write replaces its window (idempotent).
        delay = 0.2
        for attempt in range(self.conflict_retries + 1):
            try:
                return write()
            except duckdb.Error as exc:
                if not is_conflict(exc) or attempt == self.conflict_retries:
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def publish(self, run_id: str | None = None, released_by: str | None = None, note: str | None = None
                ) -> dict[str, int]:
        """Readers read the lake itself, at its latest snapshot, so nothing is copied: this records which
        snapshot the run finished on (a row of `published.publications`, itself a snapshot with the
        commit message `publish`) and returns each mart's row count at that snapshot."""
        with self.connect() as conn, transaction(conn):
            session = WarehouseSession(conn)
            snapshot = session.scalar(f"select max(snapshot_id) from {LAKE_ALIAS}.snapshots()")
            counts = {m: session.table_rows("marts", m) or 0 for m in session.tables("marts")}
            conn.execute("create schema if not exists published")
            conn.execute(
                f"create table if not exists {PUBLICATIONS_TABLE}"
                " (snapshot_id bigint, published_at timestamp, mart_rows json)"
            )
            conn.execute(
                f"insert into {PUBLICATIONS_TABLE} values (?, now()::timestamp, ?)", [snapshot, json.dumps(counts)]
            )
            audit_log.record_publication(conn, run_id, released_by, note)
            conn.execute(f"call {LAKE_ALIAS}.set_commit_message('china-tech-rally', 'publish')")
        return counts

    def snapshot_id(self) -> int:
        """The lake's latest committed snapshot."""
        with self.session(read_only=True) as session:
            return int(session.scalar(f"select max(snapshot_id) from {LAKE_ALIAS}.snapshots()"))
