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

import fcntl
import importlib.util
import json
import re
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb
from pydantic import Field

from orchestration import audit_log
from orchestration.resources.warehouse import Warehouse, WarehouseSession

# The catalog name every session gives the lake; dbt_project/profiles.yml attaches it under the same
# name, so the staging views (which name their catalog) resolve from Python and from dbt alike.
LAKE_ALIAS = "lake"

# The table `publish` appends to: one row per publication, naming the snapshot it published, so a
# reader can pin what the last finished run left (`AT (VERSION => snapshot_id)`).
PUBLICATIONS_TABLE = "published.publications"

T = TypeVar("T")

_EXTENSIONS = {"ducklake": "duckdb_extension_ducklake", "postgres_scanner": "duckdb_extension_postgres_scanner"}


def extension_directory() -> Path:
    """DuckDB's extension folder for this environment, filled from the duckdb-extension-* packages.

    Inside the environment (sys.prefix), so it goes with the packages it was made from, and dbt (run from
    the same environment) finds the same one."""
    folder = Path(sys.prefix) / "duckdb_extensions"
    platform_dir = folder / f"v{duckdb.__version__}"
    if all(next(platform_dir.glob(f"*/{name}.duckdb_extension"), None) for name in _EXTENSIONS):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    # Several run workers may start at once on a fresh environment.
    with (folder / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with duckdb.connect(config={"extension_directory": str(folder), "autoinstall_known_extensions": False}) as conn:
            for name, package in _EXTENSIONS.items():
                spec = importlib.util.find_spec(package)
                if spec is None or spec.origin is None:
                    raise RuntimeError(f"The Python package {package.replace('_', '-')} is missing: run `make setup`.")
                files = sorted(Path(spec.origin).parent.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))
                if not files:
                    raise RuntimeError(
                        f"{package.replace('_', '-')} has no {name} extension for duckdb {duckdb.__version__}:"
                        " pin both to the same version."
                    )
                conn.execute(f"install '{files[0]}'")
    return folder


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

    @property
    def location(self) -> str:
        catalog = _SECRET.sub(r"\1***", self.catalog)
        return f"ducklake:{catalog} (data: {self.data_path})"

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
        with self.connect() as conn:
            conn.execute("begin transaction")
            try:
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
                conn.execute("commit")
            except BaseException:
                conn.execute("rollback")
                raise
        return counts

    def snapshot_id(self) -> int:
        """The lake's latest committed snapshot."""
        with self.session(read_only=True) as session:
            return int(session.scalar(f"select max(snapshot_id) from {LAKE_ALIAS}.snapshots()"))


def print_summary() -> None:
    """`python -m orchestration.resources.ducklake`: what `make demo-lake` ends with, read from the lake
    (the CLI's summary reads the file's published copy, which a lake has none of)."""
    from orchestration.definitions import build_warehouse
    from orchestration.settings import get_settings

    settings = get_settings()
    if settings.warehouse != "ducklake":
        raise SystemExit("CTR_WAREHOUSE is not ducklake")
    # Built by definitions, not this module's class: run as __main__, this module is a second copy.
    warehouse = build_warehouse(settings)
    with warehouse.session(read_only=True) as wh:
        print(f"\nLake: {warehouse.location}, snapshot {warehouse.snapshot_id()}")
        for schema in ("raw", "marts"):
            counts = ", ".join(f"{t} {wh.table_rows(schema, t):,}" for t in wh.tables(schema)) or "no tables"
            print(f"  {schema}: {counts}")
        rows = wh.rows("select headline from marts.rpt_headline order by line") if wh.relation_exists(
            "marts", "rpt_headline"
        ) else []
    for (line,) in rows:
        print(f"  {line}")
    print(
        f"Query it: .venv/bin/duckdb -cmd \"SET extension_directory = '{extension_directory()}';"
        f" ATTACH 'ducklake:{settings.ducklake_catalog}' AS lake (READ_ONLY); USE lake;\" (docs/scale-out.md)"
    )


if __name__ == "__main__":
    print_summary()
