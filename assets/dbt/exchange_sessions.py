"""The asset `reference/exchange_sessions`: every session of every calendar the project prices on, which
dbt reads as a source (the headline report counts sessions with it, to tell a side that stopped from
one closed for its own holiday).

exchange_calendars, with the project's weekday fallback past its bounds (orchestration/calendars.py),
is the one source of trading days. The orchestrator writes the table and dbt only reads it: a dbt
Python model importing the application would tie dbt to it (and dbt-duckdb leaves such an
incremental model's temporary table behind on every run).
"""
# No `from __future__ import annotations`: Dagster inspects the context annotation at decoration time.

from datetime import date, timedelta

import duckdb
from dagster import AssetExecutionContext, AssetKey, BackfillPolicy, MaterializeResult, MetadataValue, asset

from assets.raw import raw_asset_key
from orchestration import reference
from orchestration.calendars import WEEKDAYS, session_days
from orchestration.datasets import INDEX_PRICES, STOCK_PRICES
from orchestration.resources.warehouse import Warehouse, transaction

SESSIONS_KEY = AssetKey(["reference", "exchange_sessions"])
SESSIONS_TABLE = "reference.exchange_sessions"


def end_of_month(day: date) -> date:
    # The span ends at a month's end, not today: a daily run extends it twelve times a year, not daily.
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def calendars() -> list[str]:
    named = {e.calendar for e in reference.exchanges()} | {i.calendar for i in reference.index_catalog()}
    return sorted({c for c in named if c} | {WEEKDAYS})  # WEEKDAYS: FX, and listings with no calendar


@asset(
    key=SESSIONS_KEY,
    deps=[raw_asset_key(INDEX_PRICES), raw_asset_key(STOCK_PRICES)],
    group_name="reference",
    kinds={"duckdb"},
    # Part of the same single run as a raw backfill over a partition range (see assets/dbt/).
    backfill_policy=BackfillPolicy.single_run(),
    description="The trading sessions of each calendar the project uses (the exchanges and index catalog seeds,"
    " plus WEEKDAYS for FX) from the first loaded price to the end of the month of the latest price or today,"
    " from exchange_calendars; days past a calendar's known span are weekdays. Only a calendar whose stored"
    " sessions no longer cover that span is rebuilt.",
)
def exchange_sessions(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    # On a lake two runs may get here at once: they take turns, and the second finds nothing to rebuild.
    with warehouse.exclusive("exchange_sessions"), warehouse.connect() as conn:
        written = write_exchange_sessions(conn)
    if written is None:
        return MaterializeResult(metadata={"calendars_rebuilt": MetadataValue.text("none (no prices loaded)")})
    span, rebuilt, total = written
    context.log.info(f"exchange sessions {span[0]}..{span[1]}: rebuilt {', '.join(rebuilt) or 'none'}")
    return MaterializeResult(metadata={
        "span": MetadataValue.text(f"{span[0]}..{span[1]}"),
        "calendars_rebuilt": MetadataValue.text(", ".join(rebuilt) or "none"),
        "dagster/row_count": MetadataValue.int(total),
    })


def write_exchange_sessions(conn: duckdb.DuckDBPyConnection) -> tuple[tuple[date, date], list[str], int] | None:
    """Bring the table in step with the loaded prices: (span, calendars rebuilt, rows), or None before any
    price is loaded. Only a calendar whose stored sessions no longer cover the span is rebuilt."""
    conn.execute("create schema if not exists reference")
    # Unique on (calendar, session_date) by construction: a calendar's rows are replaced together.
    conn.execute(f"create table if not exists {SESSIONS_TABLE} (calendar varchar not null, session_date date not null)")
    raw = [t for t in (INDEX_PRICES.table, STOCK_PRICES.table)
           if conn.execute("select count(*) from duckdb_tables() where schema_name || '.' || table_name = ?",
                           [t]).fetchone()[0]]
    spans = [conn.execute(f"select min(trade_date), max(trade_date) from {t}").fetchone() for t in raw]
    firsts = [lo for lo, _ in spans if lo is not None]
    if not firsts:
        return None
    # Up to today as well: a report may be asked for a date the data has not reached.
    span = (min(firsts), end_of_month(max([hi for _, hi in spans if hi is not None] + [date.today()])))
    stored = {c: (lo, hi) for c, lo, hi in conn.execute(
        f"select calendar, min(session_date), max(session_date) from {SESSIONS_TABLE} group by 1").fetchall()}
    # Sessions, not days, are stored: a last session within a week of the month's end covers it; at the
    # start only an exact bound is safe (a calendar closed on the span's first day is rebuilt: slower,
    # never wrong).
    stale = [c for c in calendars() if not (c in stored and stored[c][0] <= span[0]
                                            and stored[c][1] >= span[1] - timedelta(days=7))]
    rows = [(c, day) for c in stale for day in session_days(c, *span)]
    with transaction(conn):
        conn.execute(f"delete from {SESSIONS_TABLE} where calendar in (select unnest(?::varchar[]))", [stale])
        conn.execute(f"insert into {SESSIONS_TABLE} select unnest(?::varchar[]), unnest(?::date[])",
                     [[c for c, _ in rows], [d for _, d in rows]])
    return span, stale, conn.execute(f"select count(*) from {SESSIONS_TABLE}").fetchone()[0]
