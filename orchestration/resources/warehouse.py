"""The Warehouse port: the one resource that knows where the warehouse is and how to reach it.

Everything that reads or writes the warehouse from Python (raw loads, checks, UI metadata, the report,
publication, the CLI summary) goes through a `Warehouse`, never through a connection it opened
itself, so a second target (DuckLake) is one more implementation of this class, not edits across the
tree. Both targets are DuckDB engines, so SQL is shared; what differs is how a session is opened,
how writers are coordinated and what "publish" means.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd
from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field

from orchestration import audit_log
from orchestration.datasets import RAW_TABLES, Dataset
from orchestration.resources.leases import (
    RUN_LEASE_PREFIX,
    Holder,
    current_holder,
    fail_abandoned,
    fail_dead_run,
    hold,
)
from orchestration.resources.providers.base import FetchResult, QueryFetch
from orchestration.settings import default_memory_limit

T = TypeVar("T")

RAW_SCHEMA = "raw"
# What readers of the published copy get: the stable interface of docs/warehouse.md (marts and the seeds),
# and the audit log that says which run the copy comes from (orchestration/audit_log.py).
PUBLISHED_SCHEMAS = ("reference", "marts", audit_log.AUDIT_SCHEMA)
_COPY = "published_copy"


def published_path_for(database: str | Path) -> Path:
    """Where the read-only copy of a DuckDB file warehouse goes: `published/` beside it, same file name
    (DuckDB names the catalog after the file, and the staging views refer to it by that name)."""
    database = Path(database)
    return database.parent / "published" / database.name


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")


def _file_stamp(path: Path) -> str:
    """What changes when anything writes the file: its inode, size and modification time."""
    st = path.stat()
    return f"{st.st_ino} {st.st_size} {st.st_mtime_ns}"


@dataclass(frozen=True)
class _Generation:
    """One of the two files that take turns as the published copy (DuckDBFileWarehouse.publish), and its
    stamp: the file's inode, size and mtime when it was published, and when (audit.publications)."""

    target: Path
    name: str

    @property
    def path(self) -> Path:
        return self.target.parent / f".{self.target.name}.{self.name}"

    @property
    def stamp(self) -> Path:
        return self.target.parent / f".{self.target.name}.{self.name}.stamp"

    @classmethod
    def published(cls, target: Path) -> _Generation | None:
        """The generation the published name links to (None: neither, as before the first publication)."""
        if not target.is_file():
            return None
        inode = target.stat().st_ino
        return next((g for g in (cls(target, "a"), cls(target, "b"))
                     if g.path.is_file() and g.path.stat().st_ino == inode), None)

    def untouched_since(self) -> datetime | None:
        """When this generation was published, if nothing wrote to it since (None: unknown or written)."""
        try:
            stamp, published_at = self.stamp.read_text().rsplit(" ", 1)
            return datetime.fromisoformat(published_at) if stamp == _file_stamp(self.path) else None
        except (OSError, ValueError):
            return None

    def forget(self) -> None:
        self.stamp.unlink(missing_ok=True)

    def remember(self, published_at: datetime) -> None:
        self.stamp.write_text(f"{_file_stamp(self.path)} {published_at.isoformat()}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _table_columns(conn: duckdb.DuckDBPyConnection, database: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Each table of the published schemas in `database`, with its columns and their types in order."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, kind in conn.execute(
        "select c.schema_name, c.table_name, c.column_name, c.data_type from duckdb_columns() as c"
        " join duckdb_tables() as t using (database_name, schema_name, table_name)"
        " where c.database_name = ? and c.schema_name in (select unnest(?::varchar[]))"
        " order by c.schema_name, c.table_name, c.column_index",
        [database, list(PUBLISHED_SCHEMAS)],
    ).fetchall():
        found.setdefault((schema, table), []).append((column, kind))
    return found


def _bring_in_step(conn: duckdb.DuckDBPyConnection, copy: str, since: date | None = None) -> None:
    """Make every table of the published schemas in the attached database `copy` hold exactly the
    warehouse's rows, rewriting as little as it can.

    A table dated by trade_date keeps the days whose rows are the same on both sides: a day's rows are
    compared by their count and the sum of their row hashes (a multiset digest; a 64-bit hash per row),
    and only the days that differ are deleted and inserted. Whatever changed them (an incremental run,
    a late correction, a full refresh, a failed run before the last publication) is found from the data
    itself. A table without trade_date, with other columns or types, or new, is copied whole; a table
    gone from the warehouse is dropped.

    `since`: the earliest day any dbt build rewrote since `copy` was published (audit.rewrites); the
    days before it are compared no more, so a daily publication reads its window, not the history."""
    here = conn.execute("select current_database()").fetchone()[0]
    source, target = _table_columns(conn, here), _table_columns(conn, copy)
    for schema, table in sorted(set(target) - set(source)):
        conn.execute(f'drop table "{copy}"."{schema}"."{table}"')
    # What an analyst who opened the copy read-write added elsewhere: the copy holds the interface only.
    for kind, schema, name in conn.execute(
        "select 'view', schema_name, view_name from duckdb_views() where database_name = $1 and not internal"
        " union all select 'table', schema_name, table_name from duckdb_tables() where database_name = $1"
        " and schema_name not in (select unnest($2::varchar[]))",
        [copy, list(PUBLISHED_SCHEMAS)],
    ).fetchall():
        conn.execute(f'drop {kind} "{copy}"."{schema}"."{name}"')
    for schema in PUBLISHED_SCHEMAS:
        conn.execute(f'create schema if not exists "{copy}"."{schema}"')
    # A date, not user text: its ISO form is safe inside the SQL.
    dated = f"where trade_date >= date '{since.isoformat()}'" if since else ""
    digest = "select trade_date, count(*) as n, sum(hash(t)::hugeint) as h from {} as t " + dated + " group by trade_date"
    for (schema, table), columns in sorted(source.items()):
        mine, theirs = f'"{schema}"."{table}"', f'"{copy}"."{schema}"."{table}"'
        changed = None  # None: copy the table whole
        if target.get((schema, table)) == columns and ("trade_date", "DATE") in columns:
            changed = [day for (day,) in conn.execute(
                f"select coalesce(a.trade_date, b.trade_date) from ({digest.format(mine)}) as a"
                f" full join ({digest.format(theirs)}) as b on a.trade_date is not distinct from b.trade_date"
                " where a.n is distinct from b.n or a.h is distinct from b.h"
            ).fetchall()]
        if changed is None or None in changed:
            conn.execute(f"create or replace table {theirs} as select * from {mine}")
        elif changed:
            days = "trade_date in (select unnest(?::date[]))"
            conn.execute(f"delete from {theirs} where {days}", [changed])
            conn.execute(f"insert into {theirs} select * from {mine} where {days}", [changed])


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """begin ... commit, rolled back on any error. A commit that fails (a DuckLake conflict, a full disk)
    has already ended the transaction, so the rollback's own "no transaction is active" is dropped:
    it must never replace the error that says what happened."""
    conn.execute("begin transaction")
    try:
        yield
        conn.execute("commit")
    except BaseException:
        with suppress(duckdb.Error):
            conn.execute("rollback")
        raise


class WarehouseLockedError(RuntimeError):
    """Another process holds the warehouse file for writing."""


@dataclass(frozen=True)
class WriteSummary:
    rows_written: int
    rows_replaced: int
    ids_replaced: list[str]  # every id whose window was replaced, with rows or without
    ids_loaded: list[str]  # those of them that have rows in the window
    first_date: date | None
    last_date: date | None


class WarehouseSession:
    """One open connection, with the few read shapes the checks, metadata and report need."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        return self._conn.execute(sql, params or [])

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Expose a frame to SQL as `name` for this session (a view on it, not a copy)."""
        self._conn.register(name, frame)

    def unregister(self, name: str) -> None:
        self._conn.unregister(name)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple]]:
        cursor = self.execute(sql, params)
        return [d[0] for d in cursor.description], cursor.fetchall()

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def frame(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        return self.execute(sql, params).df()

    def relation_exists(self, schema: str, name: str) -> bool:
        return bool(
            self.scalar(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, name],
            )
        )

    def table_rows(self, schema: str, table: str) -> int | None:
        """Row count, or None when the relation does not exist."""
        if not self.relation_exists(schema, table):
            return None
        return self.scalar(f'select count(*) from "{schema}"."{table}"')

    def columns(self, schema: str, name: str) -> list[tuple[str, str, str]]:
        """(column, type, relation type) of one relation, in column order; empty when it does not exist."""
        return self.rows(
            "select c.column_name, c.data_type, t.table_type from information_schema.columns as c"
            " join information_schema.tables as t using (table_catalog, table_schema, table_name)"
            " where c.table_schema = ? and c.table_name = ? order by c.ordinal_position",
            [schema, name],
        )

    def tables(self, schema: str) -> list[str]:
        return [
            r[0]
            for r in self.rows(
                "select table_name from information_schema.tables"
                " where table_schema = ? and table_type = 'BASE TABLE' order by 1",
                [schema],
            )
        ]


class Warehouse(ConfigurableResource, ABC):
    """Where the warehouse lives and how to reach it; raw writes replace a date window in one transaction."""

    memory_limit: str | None = Field(
        default=None, description="DuckDB memory_limit for warehouse sessions (e.g. '2GB'); unset: DuckDB's default."
    )
    threads: int | None = Field(default=None, description="DuckDB threads for warehouse sessions; unset: all cores.")
    state_dir: str | None = Field(
        default=None,
        description="The folder of the warehouse's own state (run leases, run logs, snapshot check records);"
        " unset: the DuckDB file's folder.",
    )
    lock_wait_seconds: float = Field(
        default=300.0,
        description="How long a run waits for another run writing the same DuckDB file before failing in one"
        " line that names it (CTR_LOCK_WAIT_SECONDS).",
    )

    @property
    def max_concurrent_runs(self) -> int:
        """How many runs the Dagster instance lets write at once: one on a DuckDB file (one writer process)."""
        return 1

    @property
    @abstractmethod
    def dbt_target(self) -> str:
        """The target in dbt_project/profiles.yml that reaches this warehouse."""

    def dbt_env(self) -> dict[str, str]:
        """The environment dbt's profile reads: plain values, paths already absolute, so dbt (which runs
        from dbt_project/) and Python agree on one warehouse without path logic in profiles.yml. Identical
        for the parse and every run, so dbt keeps its partial-parse cache."""
        # Always set, to DuckDB's own defaults when unset: the profile cannot leave a setting out.
        return {
            "CTR_DUCKDB_MEMORY_LIMIT": self.memory_limit or default_memory_limit(),
            "CTR_DUCKDB_THREADS": str(self.threads or os.cpu_count() or 1),
        }

    @property
    @abstractmethod
    def location(self) -> str:
        """What to call the warehouse in a message (a file path, a catalog URL)."""

    @property
    def state_folder(self) -> Path:
        if self.state_dir is None:
            raise ValueError(f"{type(self).__name__} needs state_dir")
        return Path(self.state_dir)

    @property
    def lease_folder(self) -> Path:
        return self.state_folder / "leases"

    def lease_path(self, run_id: str) -> Path:
        """The lease a run holds while it runs (orchestration/resources/leases.py): its own by default,
        since a warehouse that takes many writers only needs to know which runs are alive."""
        return self.lease_folder / f"{RUN_LEASE_PREFIX}{run_id}.lock"

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[Warehouse]:
        """Held for the whole run (the in-process executor initialises resources once per run): the
        run's lease, and with it the chance to fail the runs whose process died holding theirs."""
        if context.run_id is None or context.instance is None:
            yield self  # outside a run: a sensor, a test's build_resources
            return
        def say_wait(holder: Holder | None) -> None:
            context.log.warning(
                f"Waiting up to {self.lock_wait_seconds:.0f}s for {holder.describe() if holder else 'another run'},"
                " which is writing this warehouse."
            )

        lease = self.lease_path(context.run_id)
        with hold(lease, context.run_id, self.lock_wait_seconds, say_wait) as left_behind:
            noticed_by = f"run {context.run_id}, which took the lease next"
            said = [fail_dead_run(context.instance, left_behind, noticed_by)] if left_behind else []
            said += fail_abandoned(context.instance, self.lease_folder, noticed_by)
            for line in filter(None, said):
                context.log.warning(line)
            yield self

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection whose default catalog is the warehouse: for adapters and dbt-like writers."""
        conn = self._open(read_only)
        try:
            yield conn
        finally:
            conn.close()

    @abstractmethod
    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """A new connection to the warehouse, which the caller closes."""

    @abstractmethod
    def publish(self, run_id: str | None = None, released_by: str | None = None, note: str | None = None
                ) -> dict[str, int]:
        """Make the committed state visible to readers who never wait for a writer, recording the run it
        comes from (`audit.publications`; `released_by`: an operator releasing a held-back build); returns
        each mart's row count as readers will see it. Callers publish only after the run's blocking
        audits passed (assets/publication.py)."""

    @property
    def published_path(self) -> Path | None:
        """The file readers open, when publishing writes one (a DuckDB file's copy); None when readers
        read the warehouse itself (a lake)."""
        return None

    @property
    def reader_location(self) -> str:
        """Where analysts read: the published copy of a file, the lake itself."""
        return self.location

    @property
    def reader_hint(self) -> str:
        """How to open what analysts read, for a newcomer's terminal."""
        return f".venv/bin/duckdb -readonly {self.reader_location}"

    def locked_by_another_process(self) -> str | None:
        """What holds the warehouse that is not a run, in one line; None when nothing does."""
        return None

    @contextmanager
    def reader_session(self) -> Iterator[WarehouseSession]:
        """A read-only session on what analysts read, which never waits for a writer."""
        with self.session(read_only=True) as session:
            yield session

    @contextmanager
    def exclusive(self, what: str) -> Iterator[None]:
        """Held around a step that rewrites shared tables (the dbt build, the report), so that two runs'
        rewrites take turns. Nothing to do on the file: its lease already lets one run in at a time."""
        yield

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"custom_user_agent": "china-tech-rally"}
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        if self.threads:
            config["threads"] = self.threads
        return config

    @contextmanager
    def session(self, read_only: bool = False) -> Iterator[WarehouseSession]:
        with self.connect(read_only=read_only) as conn:
            yield WarehouseSession(conn)

    def ensure_raw_tables(self) -> None:
        with self.connect() as conn:
            conn.execute(f"create schema if not exists {RAW_SCHEMA}")
            for dataset in RAW_TABLES:
                conn.execute(dataset.ddl())

    def replace_window(
        self,
        result: FetchResult,
        requested_ids: list[str],
        start: date,
        end: date,
        loaded_at: datetime,
        keep: Sequence[tuple[str, date]] = (),
    ) -> WriteSummary:
        """Replace [start, end] for every requested id the provider delivered.

        Ids the provider failed on keep their rows: a transient failure must never erase history. So do
        the (id, day) pairs in `keep`, whose answer was quarantined (orchestration/quarantine.py).
        """
        dataset = result.dataset
        ids = sorted(set(requested_ids) - set(result.failures))
        frame = result.frame
        frame = frame[
            frame[dataset.entity_column].isin(ids) & frame[dataset.date_column].between(start, end)
        ].copy()
        # A row names its own upstream where the provider knows it (a fallback, a second library).
        frame["source"] = frame["source"].fillna(result.source) if "source" in frame.columns else result.source
        frame["loaded_at"] = loaded_at
        columns = ", ".join([*dataset.column_names, "source", "loaded_at"])
        return self._replace_rows(dataset, ids, start, end, f"select {columns} from incoming", [], incoming=frame,
                                  keep=keep)

    def replace_window_from_query(
        self,
        fetch: QueryFetch,
        requested_ids: list[str],
        start: date,
        end: date,
        loaded_at: datetime,
        verify: Callable[[WarehouseSession], None] | None = None,
    ) -> WriteSummary:
        """`replace_window` for rows given as SQL (already of the window and ids): DuckDB reads the source
        into the table itself, so a 20M-row file never becomes a frame. `verify` sees the written rows
        inside the transaction; whatever it raises rolls the write back."""
        dataset = fetch.dataset
        ids = sorted(set(requested_ids) - set(fetch.failures))
        select = f"select {', '.join(dataset.column_names)}, ?, ? from ({fetch.sql})"
        return self._replace_rows(dataset, ids, start, end, select, [fetch.source, loaded_at, *fetch.params],
                                  verify=verify)

    def _replace_rows(
        self,
        dataset: Dataset,
        ids: list[str],
        start: date,
        end: date,
        select: str,
        params: list,
        incoming: pd.DataFrame | None = None,
        verify: Callable[[WarehouseSession], None] | None = None,
        keep: Sequence[tuple[str, date]] = (),
    ) -> WriteSummary:
        """One transaction: delete [start, end] of `ids`, insert what `select` returns (the dataset's
        columns, source, loaded_at), let `verify` look, commit; and what was written, per id."""
        window = f"{dataset.entity_column} in (select unnest(?::varchar[])) and {dataset.date_column} between ? and ?"
        columns = ", ".join([*dataset.column_names, "source", "loaded_at"])

        def write() -> tuple[int, int, list[tuple]]:
            self.ensure_raw_tables()
            with self.connect() as conn:
                if incoming is not None:
                    conn.register("incoming", incoming)
                try:
                    with transaction(conn):
                        kept = (f" and ({dataset.entity_column}, {dataset.date_column}) not in"
                                " (select (unnest(?::varchar[]), unnest(?::date[])))") if keep else ""
                        replaced = conn.execute(
                            f"delete from {dataset.table} where {window}{kept}",
                            [ids, start, end, *([[k[0] for k in keep], [k[1] for k in keep]] if keep else [])],
                        ).fetchone()[0]
                        written = conn.execute(f"insert into {dataset.table} ({columns}) {select}", params).fetchone()[0]
                        if verify is not None:
                            verify(WarehouseSession(conn))
                        spans = conn.execute(
                            f"select {dataset.entity_column}, min({dataset.date_column}), max({dataset.date_column})"
                            f" from {dataset.table} where {window} group by all order by 1",
                            [ids, start, end],
                        ).fetchall()
                finally:
                    if incoming is not None:
                        conn.unregister("incoming")
            return int(replaced), int(written), spans

        replaced, written, spans = self._retrying(write)
        return WriteSummary(
            rows_written=written, rows_replaced=replaced, ids_replaced=ids,
            ids_loaded=[s[0] for s in spans],
            first_date=min((s[1] for s in spans), default=None), last_date=max((s[2] for s in spans), default=None),
        )

    def _retrying(self, write: Callable[[], T]) -> T:
        """Runs a raw write transaction; a warehouse whose commits can conflict with another run's retries it."""
        return write()


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")


class DuckDBFileWarehouse(Warehouse):
    """The embedded target: one DuckDB file, one writer process at a time."""

    database: str = Field(description="Absolute path of the DuckDB file (DUCKDB_DATABASE).")
    lock_wait_s: float = Field(
        default=10.0,
        description="How long to wait for another process's lock on the file before failing with a clear error.",
    )

    @property
    def dbt_target(self) -> str:
        return "duckdb"

    def dbt_env(self) -> dict[str, str]:
        return {**super().dbt_env(), "DUCKDB_DATABASE": self.database}

    @property
    def location(self) -> str:
        return self.database

    @property
    def state_folder(self) -> Path:
        return Path(self.state_dir) if self.state_dir else Path(self.database).parent

    def lease_path(self, run_id: str) -> Path:
        # One writer process at a time: every run of this file shares one lease, and waits for it.
        return self.lease_folder / f"{Path(self.database).name}.lock"

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if not read_only:
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        # A short bounded wait covers a reader closing its connection; a notebook left open would
        # otherwise hold a scheduled run for minutes without a word.
        deadline = time.monotonic() + self.lock_wait_s
        delay = 0.2
        while True:
            try:
                return duckdb.connect(self.database, read_only=read_only, config=self._config())
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    holder = _LOCK_HOLDER.search(str(exc))
                    who = f"process {holder.group(2)} ({holder.group(1)})" if holder else "another process"
                    raise WarehouseLockedError(
                        f"The warehouse {self.database} is locked by {who}. Close that process (or its"
                        f" connection), and query the published copy {self.published_path} instead, which never"
                        " takes the lock; then run again."
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def locked_by_another_process(self) -> str | None:
        """A process that is no run (a DuckDB shell, a notebook) holding the file, said in one line before a
        run starts rather than when its first write has waited. A run holding it is waited for instead,
        through its lease."""
        if not Path(self.database).exists() or current_holder(self.lease_path("")) is not None:
            return None
        try:
            self._open(read_only=False).close()
        except WarehouseLockedError as exc:
            return str(exc)
        return None

    @property
    def published_path(self) -> Path:
        return published_path_for(self.database)

    def publish(self, run_id: str | None = None, released_by: str | None = None, note: str | None = None
                ) -> dict[str, int]:
        """Bring the published file's other generation in step with the stable interface
        (PUBLISHED_SCHEMAS), check it opens, and link it in as the published file. A reader that has the
        old generation open keeps reading it (a rename does not touch open files); the next connection
        sees the new one.

        Two generations (`.<file>.a`, `.<file>.b`) take turns behind the published name (a hard link to
        one of them): the one not published was published the time before, so bringing it in step
        rewrites only the days changed since then (_bring_in_step) instead of copying gigabytes. Only
        the marts and the seeds are published, not the whole file. Copied whole instead, from the current
        generation: a generation missing, written to since it was published (an analyst's read-write
        session), or still held open by a reader (its lock)."""
        target = self.published_path
        folder = target.parent
        folder.mkdir(parents=True, exist_ok=True)
        # Left behind only by a publisher that died mid-copy; never opened by readers (other name).
        for stale in folder.glob(f".{target.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        current = _Generation.published(target)
        slot = _Generation(target, "b" if current is not None and current.name == "a" else "a")
        tmp = folder / f".{target.name}.{os.getpid()}.tmp"
        link = folder / f".{target.name}.{os.getpid()}.link.tmp"
        # Read before the generation's stamp is removed (it is about to be written): a publication that
        # fails halfway leaves it to be compared whole.
        published_before = slot.untouched_since()
        slot.forget()
        published_at = None
        try:
            written = slot.path
            with self.connect() as conn:
                published_at = audit_log.record_publication(conn, run_id, released_by, note)
                in_place = slot.path.is_file()
                if in_place:
                    try:
                        conn.execute(f"attach '{_sql_string(slot.path)}' as {_COPY}")
                    except duckdb.Error:  # held open by a reader, or not a DuckDB file
                        in_place = False
                if not in_place:
                    # a copy of the current generation: the days rewritten since it was published
                    written, published_before = tmp, current.untouched_since() if current else None
                    self._attach_copy(conn, tmp, base=target)
                since = audit_log.rewritten_since(conn, published_before)
                try:
                    _bring_in_step(conn, _COPY, since[1] if since[0] else None)
                finally:
                    conn.execute(f"detach {_COPY}")
            with duckdb.connect(str(written), read_only=True) as copy:
                session = WarehouseSession(copy)
                counts = {m: session.table_rows("marts", m) or 0 for m in session.tables("marts")}
            _fsync(written)
            if written != slot.path:
                os.replace(tmp, slot.path)
            try:
                os.link(slot.path, link)
            except OSError:  # a filesystem without hard links: the published name gets its own copy
                shutil.copyfile(slot.path, link)
            # A session that opened the published file read-write (the duckdb CLI's default) may have left
            # its write-ahead log beside it; DuckDB would replay that log over the new file for every
            # later reader. It belongs to the old file: removed before the rename, and again after it in
            # case that session wrote once more in between.
            wal = Path(f"{target}.wal")
            wal.unlink(missing_ok=True)
            os.replace(link, target)
            wal.unlink(missing_ok=True)
            slot.remember(published_at)
            _fsync(folder)
        except BaseException:
            if published_at is not None:
                with self.connect() as conn:
                    audit_log.forget_publication(conn, published_at)
            raise
        finally:
            for leftover in (tmp, Path(f"{tmp}.wal"), link):
                leftover.unlink(missing_ok=True)
        return counts

    @staticmethod
    def _attach_copy(conn: duckdb.DuckDBPyConnection, tmp: Path, base: Path) -> None:
        """Attach `tmp` as _COPY: a copy of `base`, or an empty file when `base` is missing or does not
        open as a DuckDB file (an analyst's session may have left it in any state)."""
        if base.is_file():
            shutil.copyfile(base, tmp)
            try:
                conn.execute(f"attach '{_sql_string(tmp)}' as {_COPY}")
                return
            except duckdb.Error:
                tmp.unlink(missing_ok=True)
        conn.execute(f"attach '{_sql_string(tmp)}' as {_COPY}")

    @property
    def reader_location(self) -> str:
        return str(self.published_path if self.published_path.exists() else self.database)

    @contextmanager
    def reader_session(self) -> Iterator[WarehouseSession]:
        with duckdb.connect(self.reader_location, read_only=True) as conn:
            yield WarehouseSession(conn)
