"""Release a build the audits held back: `python -m orchestration.release` (`make release`).

A run whose blocking audits fail keeps its build in the warehouse and leaves the published copy as the
last good run made it (docs/data-quality.md). An operator who has checked the findings (a real 30%
day, a split the share counts do not show yet) publishes that build with

    make release                      # what is held back, and why
    make release RUN=<run id> NOTE="NVDA 10:1 split confirmed on the exchange's notice"

The run id must be the held-back one (so what is released is what was checked). The release is
logged: a row of `audit.publications` naming the run, who released it and the note (in the warehouse
and the new published copy), and a line in `<warehouse folder>/logs/releases.log`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import TextIO

import duckdb

from orchestration import audit_log
from orchestration.resources import build_warehouse
from orchestration.resources.warehouse import DuckDBFileWarehouse, Warehouse, WarehouseLockedError
from orchestration.settings import Settings, get_settings


def _quick(warehouse: Warehouse) -> Warehouse:
    """The warehouse for a status line: a report must not wait 10 s for a run's lock."""
    if isinstance(warehouse, DuckDBFileWarehouse):
        return DuckDBFileWarehouse(database=warehouse.database, lock_wait_s=0.5,
                                   memory_limit=warehouse.memory_limit, threads=warehouse.threads)
    return warehouse


def status_lines(warehouse: Warehouse) -> list[str]:
    """Which run the published copy comes from, and whether a newer build was held back."""
    try:
        with warehouse.reader_session() as reader:
            published = audit_log.last_publication(reader)
    except (duckdb.Error, OSError):
        published = None
    copy = warehouse.published_path
    if published is not None:
        origin = published.describe()
    elif copy is not None and copy.exists():
        origin = "a publication that did not record its run (made before the audit log)"
    else:
        origin = None
    try:
        with _quick(warehouse).session(read_only=True) as wh:
            held = audit_log.held_back(wh)
    except (WarehouseLockedError, duckdb.Error, OSError):
        busy = "the warehouse is busy: cannot tell whether a newer run was held back"
        return [f"Published copy: {origin or 'none yet'} ({busy})."]
    lines = [f"Published copy: {origin}."] if origin else []
    if held is not None:
        what = "The published copy stays as it was" if origin else "Nothing is published yet"
        lines.append(f"Held back: {held.describe()}. {what}; that build is in the warehouse."
                     f" Check it, then `make release RUN={held.run_id}`.")
    return lines


def finding_lines(wh, run_id: str, limit: int = 20) -> list[str]:
    rows = audit_log.findings_of(wh, run_id)
    lines = [f"  {audit}: {audit_log.finding_text(row)}" for audit, *row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"  ... and {len(rows) - limit} more (select * from audit.findings where run_id = '{run_id}')")
    return lines


def release(settings: Settings, run_id: str | None, note: str | None, out: TextIO = sys.stdout) -> int:
    warehouse = build_warehouse(settings)
    try:
        with warehouse.session(read_only=True) as wh:
            held = audit_log.held_back(wh)
            published = audit_log.last_publication(wh)
            findings = finding_lines(wh, held.run_id) if held else []
    except WarehouseLockedError as exc:
        print(str(exc), file=out)
        return 1
    if held is None:
        where = f" The published copy is from {published.describe()}." if published else ""
        print(f"Nothing is held back.{where}", file=out)
        return 0
    print(f"Held back: {held.describe()}. Its findings:", file=out)
    for line in findings:
        print(line, file=out)
    if run_id is None:
        print(f"After checking them: make release RUN={held.run_id} NOTE='why they are right'", file=out)
        return 0  # shown, not released: nothing went wrong
    if run_id != held.run_id:
        print(f"Run {run_id} is not the held-back build ({held.run_id}); nothing was published.", file=out)
        return 2
    user = getpass.getuser()
    note = note or f"released despite {', '.join(a for a, _ in held.audits)}"
    try:
        counts = warehouse.publish(run_id=run_id, released_by=user, note=note)
    except WarehouseLockedError as exc:
        print(str(exc), file=out)
        return 1
    target = warehouse.published_path or warehouse.location
    line = (f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} released run {run_id} by {user} to {target}"
            f" ({len(counts)} marts): {note}")
    log = warehouse.state_folder / "logs" / "releases.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
    print(f"Released run {run_id}: published to {target} ({len(counts)} marts); logged in audit.publications"
          f" and {log}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.release", description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="the held-back run's id, after checking its findings")
    parser.add_argument("--note", help="why the findings are right (kept in audit.publications)")
    args = parser.parse_args(argv)
    return release(get_settings(), args.run, args.note)


if __name__ == "__main__":
    sys.exit(main())
