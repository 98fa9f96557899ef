"""An analyst hammering the published warehouse:
`python -m tests.published_reader PATH STOP_FILE OUT_JSON fresh|held`.

`fresh` opens a new read-only connection for every round of queries (a dashboard: sees each new
publication); `held` keeps one connection open throughout (a notebook: must keep working after the
file it opened has been replaced). Every exception is an error. Runs until STOP_FILE exists, then
writes what it saw to OUT_JSON; OUT_JSON with suffix .ready appears after the first successful round.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

QUERIES = (
    "select count(*) from information_schema.tables",
    "select max(generated_at)::varchar from marts.rpt_headline",
)
# Only in a publication of a built warehouse (the first one may be of the empty warehouse).
BUILT_QUERIES = (
    "select count(*) from reference.ai_basket_members",
    "select index_id, max(trade_date), count(*) from marts.fct_index_returns group by 1",
    "select * from marts.rpt_headline order by line",
    "select basket_id, sum(market_cap_usd) from marts.fct_ai_basket_members_daily group by 1",
)


def one_round(conn: duckdb.DuckDBPyConnection) -> str:
    """Runs the queries; returns the publication's version (when its report was made, and its table count)."""
    tables = conn.execute(QUERIES[0]).fetchone()[0]
    built = conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = 'rpt_headline'"
    ).fetchone()[0]
    generated_at = None
    if built:
        generated_at = conn.execute(QUERIES[1]).fetchone()[0]
        for sql in BUILT_QUERIES:
            conn.execute(sql).fetchall()
    return f"{generated_at}/{tables}"


def main(path: str, stop_file: str, out_json: str, mode: str) -> None:
    stop, out = Path(stop_file), Path(out_json)
    ready = out.with_suffix(".ready")
    rounds, errors, versions = 0, [], []
    # DuckDB shares one database instance among a process's connections to a path: while `held` is
    # open, even new connections of its process read the file it opened. Hence one mode per process.
    held = duckdb.connect(path, read_only=True) if mode == "held" else None
    started = time.monotonic()
    while not stop.exists():
        try:
            if held is not None:
                version = one_round(held)
            else:
                with duckdb.connect(path, read_only=True) as conn:
                    version = one_round(conn)
            rounds += 1
            if not versions or versions[-1] != version:
                versions.append(version)
        except Exception as exc:  # noqa: BLE001 - every failure is what the test counts
            errors.append(repr(exc))
        if rounds == 1 and not ready.exists():
            ready.write_text("ready")
        # Five rounds a second: hundreds over a run and its publication, while leaving the run (and the
        # other test worker) the machine; a tighter loop took most of a core.
        time.sleep(0.2)
    if held is not None:
        held.close()
    out.write_text(json.dumps({
        "mode": mode,
        "rounds": rounds,
        "errors": errors[:50],
        "error_count": len(errors),
        "versions": versions,
        "seconds": round(time.monotonic() - started, 1),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:5])
