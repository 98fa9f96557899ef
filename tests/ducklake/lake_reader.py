"""A reader of the lake while writers run: `python -m tests.ducklake.lake_reader OUT_JSON STOP_FILE`.

Each round reads every mart's row count and distinct-key count inside one transaction (one snapshot),
on one connection kept open, as a dashboard would. Writes what it saw when STOP_FILE appears."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import duckdb

from orchestration.resources import build_warehouse
from orchestration.settings import Settings
from tests.reference_marts import MART_KEYS


def main(out: str, stop: str) -> None:
    warehouse = build_warehouse(Settings())
    rounds, errors, duplicates, seen = 0, [], [], set()
    with warehouse.connect(read_only=True) as conn:
        Path(out).with_suffix(".ready").touch()
        while not Path(stop).exists():
            try:
                conn.execute("begin transaction")
                counts = []
                for mart, keys in sorted(MART_KEYS.items()):
                    exists = conn.execute(
                        "select count(*) from information_schema.tables where table_schema = 'marts'"
                        " and table_name = ?", [mart]
                    ).fetchone()[0]
                    if not exists:
                        counts.append((mart, None))
                        continue
                    rows, distinct = conn.execute(
                        f"select count(*), count(distinct ({', '.join(keys)})) from marts.{mart}"
                    ).fetchone()
                    if rows != distinct:
                        duplicates.append(f"{mart}: {rows} rows, {distinct} keys")
                    counts.append((mart, rows))
                conn.execute("commit")
                seen.add(json.dumps(counts))
                rounds += 1
            except duckdb.Error as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                with contextlib.suppress(duckdb.Error):
                    conn.execute("rollback")
            # Four rounds a second sees every committed state of runs lasting minutes; a tighter loop took a
            # third of a core from the writers.
            time.sleep(0.25)
    Path(out).write_text(json.dumps({"rounds": rounds, "errors": errors, "duplicates": duplicates,
                                     "states": len(seen)}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
