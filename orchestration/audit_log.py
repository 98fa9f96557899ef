"""The warehouse's own record of its audits and publications: schema `audit`.

| table                | one row per                                  | written by                             |
|----------------------|----------------------------------------------|----------------------------------------|
| `audit.evaluations`  | audit evaluated in a run (with its findings) | the plausibility audits                |
| `audit.findings`     | value an audit refused (id, date, values)    | the plausibility audits                |
| `audit.publications` | publication of the warehouse                 | `Warehouse.publish` (runs, the release) |
| `audit.quarantine`   | value of a live answer set aside at the load | the raw assets (orchestration/quarantine.py) |

The schema is published with the marts, so a reader of the published copy can see which run it comes
from and what was audited. A build is *held back* when a run's audits found something after the last
publication: its rows stay in the warehouse, the published copy stays as it was, until a run passes
or an operator releases it (`python -m orchestration.release`, docs/data-quality.md).

Plain SQL on a DuckDB connection, so the file warehouse, the lake and the CLI share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

AUDIT_SCHEMA = "audit"  # every timestamp in it is UTC, whatever the machine's time zone
# A DuckDB connection or a WarehouseSession: both have execute(sql, params) and executemany.
Sql = Any

DDL = (
    f"create schema if not exists {AUDIT_SCHEMA}",
    f"""create table if not exists {AUDIT_SCHEMA}.evaluations (
        run_id varchar not null, audit varchar not null, asset varchar not null,
        window_start date, checked_at timestamp not null, findings bigint not null)""",
    f"""create table if not exists {AUDIT_SCHEMA}.findings (
        run_id varchar not null, audit varchar not null, id varchar not null, trade_date date not null,
        value double, previous_date date, previous_value double, move double, limit_move double, note varchar)""",
    f"""create table if not exists {AUDIT_SCHEMA}.publications (
        run_id varchar, published_at timestamp not null, released_by varchar, note varchar)""",
    f"""create table if not exists {AUDIT_SCHEMA}.quarantine (
        run_id varchar not null, dataset varchar not null, id varchar not null, trade_date date not null,
        column_name varchar not null, value double, source varchar, reason varchar not null,
        quarantined_at timestamp not null)""",
    # Each dbt build, before it runs: the first date it rewrites the incremental marts from (NULL: every
    # row, a full build or --full-refresh). Publication compares the days from the earliest since the
    # last publication, not every day (Warehouse.publish).
    f"""create table if not exists {AUDIT_SCHEMA}.rewrites (
        run_id varchar, window_start date, recorded_at timestamp not null)""",
)
FINDING_COLUMNS = ("id", "trade_date", "value", "previous_date", "previous_value", "move", "limit_move", "note")


def _number(v: float | None) -> str:
    if v is None:
        return "NULL"
    return f"{v:,.6g}" if abs(v) < 1e6 else f"{v:,.4g}"


def finding_text(row: Sequence) -> str:
    """A finding (FINDING_COLUMNS) in one line: id, day, value, the previous one and the move."""
    id_, day, value, previous_date, previous_value, move = row[:6]
    note = row[7] if len(row) > 7 and row[7] else None
    return (f"{id_} {day} {_number(value)} (previous {previous_date} {_number(previous_value)}, {move:+.1%})"
            + (f" [{note}]" if note else ""))


def ensure(conn: Sql) -> None:
    for statement in DDL:
        conn.execute(statement)


def has_log(conn: Sql) -> bool:
    return bool(conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = 'publications'",
        [AUDIT_SCHEMA],
    ).fetchone()[0])


@dataclass(frozen=True)
class Publication:
    run_id: str | None
    published_at: datetime
    released_by: str | None
    note: str | None

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "a publication outside a run"
        released = f", released by {self.released_by} after its audits failed" if self.released_by else ""
        return f"{run}, published {self.published_at:%Y-%m-%d %H:%M:%S} UTC{released}"


def last_publication(conn: Sql) -> Publication | None:
    if not has_log(conn):
        return None
    row = conn.execute(
        f"select run_id, published_at, released_by, note from {AUDIT_SCHEMA}.publications"
        " order by published_at desc limit 1"
    ).fetchone()
    return Publication(*row) if row else None


def record_publication(
    conn: Sql, run_id: str | None, released_by: str | None = None, note: str | None = None
) -> datetime:
    ensure(conn)
    published_at = conn.execute("select (now() at time zone 'UTC')").fetchone()[0]
    conn.execute(
        f"insert into {AUDIT_SCHEMA}.publications values (?, ?, ?, ?)", [run_id, published_at, released_by, note]
    )
    return published_at


def record_rewrite(conn: Sql, run_id: str | None, window_start: date | None) -> None:
    """A dbt build is about to rewrite the marts from `window_start` on (None: every row). Recorded
    before it runs, so a build that fails halfway is counted too."""
    ensure(conn)
    conn.execute(f"insert into {AUDIT_SCHEMA}.rewrites values (?, ?, (now() at time zone 'UTC'))",
                 [run_id, window_start])


def rewritten_since(conn: Sql, published_at: datetime | None) -> tuple[bool, date | None]:
    """(known, since): whether every rewrite since the publication at `published_at` was recorded with a
    window, and the earliest window start among them. Not known (compare every day): no such publication
    (None), no rewrite recorded since (something else changed the warehouse), or a rewrite of every row."""
    ensure(conn)  # a warehouse older than the rewrites table gains it here: no record, every day compared
    if published_at is None:
        return False, None
    starts = [r[0] for r in conn.execute(
        f"select window_start from {AUDIT_SCHEMA}.rewrites where recorded_at > ?", [published_at]).fetchall()]
    if not starts or None in starts:
        return False, None
    return True, min(starts)


def forget_publication(conn: Sql, published_at: datetime) -> None:
    """Undo record_publication when the copy could not be made."""
    conn.execute(f"delete from {AUDIT_SCHEMA}.publications where published_at = ?", [published_at])


def record_evaluation(
    conn: Sql,
    run_id: str,
    audit: str,
    asset: str,
    window_start: date | None,
    findings: Sequence[Sequence[Any]],
) -> None:
    """The audit's outcome in this run, replacing an earlier evaluation of the same run (a re-execution)."""
    ensure(conn)
    conn.execute("begin transaction")
    try:
        for table in ("evaluations", "findings"):
            conn.execute(f"delete from {AUDIT_SCHEMA}.{table} where run_id = ? and audit = ?", [run_id, audit])
        conn.execute(
            f"insert into {AUDIT_SCHEMA}.evaluations values (?, ?, ?, ?, (now() at time zone 'UTC'), ?)",
            [run_id, audit, asset, window_start, len(findings)],
        )
        if findings:
            conn.executemany(
                f"insert into {AUDIT_SCHEMA}.findings values (?, ?, {', '.join('?' * len(FINDING_COLUMNS))})",
                [[run_id, audit, *row] for row in findings],
            )
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def record_quarantine(conn: Sql, run_id: str, dataset: str, rows: Sequence[Sequence[Any]]) -> None:
    """The values a load set aside (orchestration/quarantine.py COLUMNS), replacing those an earlier
    attempt of the same run recorded for the dataset."""
    ensure(conn)
    conn.execute(f"delete from {AUDIT_SCHEMA}.quarantine where run_id = ? and dataset = ?", [run_id, dataset])
    if rows:
        conn.executemany(
            f"insert into {AUDIT_SCHEMA}.quarantine values (?, ?, ?, ?, ?, ?, ?, ?, (now() at time zone 'UTC'))",
            [[run_id, dataset, *row] for row in rows],
        )


def unpublished_window_start(conn: Sql, audit: str) -> tuple[bool, date | None]:
    """Whether a held-back evaluation of `audit` since the last publication exists, and the earliest
    window it audited (None: the whole history). A run after a held-back one audits from there too:
    otherwise a later run with a clean window of its own would publish the rows that were refused."""
    if not has_log(conn):
        return False, None
    rows = conn.execute(
        f"""select window_start from {AUDIT_SCHEMA}.evaluations
            where audit = ? and findings > 0
              and checked_at > coalesce((select max(published_at) from {AUDIT_SCHEMA}.publications), timestamp '1900-01-01')""",
        [audit],
    ).fetchall()
    if not rows:
        return False, None
    starts = [r[0] for r in rows]
    return True, (None if None in starts else min(starts))


@dataclass(frozen=True)
class HeldBack:
    run_id: str
    checked_at: datetime
    audits: list[tuple[str, int]]  # (audit, findings)

    def describe(self) -> str:
        which = ", ".join(f"{a} ({n} finding{'s' if n != 1 else ''})" for a, n in self.audits)
        return f"run {self.run_id} ({self.checked_at:%Y-%m-%d %H:%M:%S} UTC), held back by {which}"


def held_back(conn: Sql) -> HeldBack | None:
    """The newest run whose audits failed after the last publication: its build is in the warehouse and
    not in the published copy. None when the last audited run was published (or nothing was audited)."""
    if not has_log(conn):
        return None
    rows = conn.execute(
        f"""with latest as (
                select run_id, max(checked_at) as checked_at from {AUDIT_SCHEMA}.evaluations
                where checked_at > coalesce((select max(published_at) from {AUDIT_SCHEMA}.publications),
                                            timestamp '1900-01-01')
                group by run_id order by checked_at desc limit 1
            )
            select e.run_id, l.checked_at, e.audit, e.findings
            from {AUDIT_SCHEMA}.evaluations as e join latest as l using (run_id)
            where e.findings > 0 order by e.audit""",
    ).fetchall()
    if not rows:
        return None
    return HeldBack(run_id=rows[0][0], checked_at=rows[0][1], audits=[(r[2], r[3]) for r in rows])


def findings_of(conn: Sql, run_id: str) -> list[tuple]:
    """(audit, *FINDING_COLUMNS) of a run, biggest moves first within each audit."""
    return conn.execute(
        f"select audit, {', '.join(FINDING_COLUMNS)} from {AUDIT_SCHEMA}.findings where run_id = ?"
        " order by audit, abs(move) desc nulls last, id, trade_date",
        [run_id],
    ).fetchall()
