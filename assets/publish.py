"""The published warehouse: a read-only copy for analysts, replaced atomically at the end of each run.

DuckDB allows one writer process, and a reader of the live file either blocks the run or fails on its
lock. Readers open the published copy instead (`<warehouse folder>/published/<warehouse file name>`,
by default `warehouse/published/china_tech_rally.duckdb`). It is never written in place: each run
copies the checkpointed warehouse to a temporary file beside it, checks the copy opens, and renames
it over the old one. A reader that already has the old file open keeps reading it (the rename does not
touch open files); the next connection sees the new one. Neither side waits for the other.

The copy keeps the warehouse's file name because DuckDB names the catalog after the file and the
staging views refer to it (`"china_tech_rally"."raw"...`).
"""
# No `from __future__ import annotations`: Dagster inspects the context annotation at decoration time.

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    ConfigurableResource,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from assets.raw import WAREHOUSE_POOL
from assets.report import MARTS_READ, REPORT_KEY
from orchestration.resources.warehouse import Warehouse

PUBLISHED_KEY = AssetKey(["published", "warehouse"])
PUBLISHED_GROUP = "published"


def published_path_for(database: str | Path) -> Path:
    database = Path(database)
    return database.parent / "published" / database.name


class PublishedWarehouse(ConfigurableResource):
    path: str = Field(description="The read-only copy readers open; the warehouse file name in a `published/` folder.")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(warehouse: Warehouse, target: Path) -> dict[str, int]:
    """Copy the warehouse to `target` atomically; returns the row count of each mart in the copy."""
    source = Path(warehouse.database)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Left behind only by a publisher that died mid-copy; never opened by readers (other name).
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    try:
        with warehouse.get_connection() as conn:
            # Moves everything committed from the WAL into the main file, so the file alone is the
            # warehouse. The connection stays open while copying: the pool keeps other writers out.
            conn.execute("checkpoint")
            shutil.copyfile(source, tmp)
        with duckdb.connect(str(tmp), read_only=True) as copy:
            marts = [
                r[0]
                for r in copy.execute(
                    "select table_name from information_schema.tables"
                    " where table_schema = 'marts' and table_type = 'BASE TABLE' order by 1"
                ).fetchall()
            ]
            counts = {m: copy.execute(f'select count(*) from marts."{m}"').fetchone()[0] for m in marts}
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


@asset(
    key=PUBLISHED_KEY,
    deps=[REPORT_KEY, *(AssetKey(["marts", name]) for name in MARTS_READ)],
    group_name=PUBLISHED_GROUP,
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    # Part of the same single run as a raw backfill over a partition range (see assets/dbt.py).
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "A read-only copy of the whole warehouse for analysts and BI tools, replaced atomically once the"
        " marts and the report are built: query it while a run writes, without locks. Path:"
        " `<warehouse folder>/published/<warehouse file name>` (default"
        " `warehouse/published/china_tech_rally.duckdb`); open it read-only."
    ),
)
def publish_warehouse(
    context: AssetExecutionContext, warehouse: Warehouse, published: PublishedWarehouse
) -> MaterializeResult:
    target = Path(published.path)
    counts = publish(warehouse, target)
    context.log.info(f"Published {target} ({len(counts)} marts)")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(target)),
            "published_at": MetadataValue.text(datetime.now(UTC).isoformat(timespec="seconds")),
            "size_mb": MetadataValue.float(round(target.stat().st_size / 1e6, 2)),
            "mart_rows": MetadataValue.json(counts),
            "open_with": MetadataValue.md(
                f"```\nduckdb -readonly {target}\n```\n\n"
                f"```python\nimport duckdb\nconn = duckdb.connect({str(target)!r}, read_only=True)\n```"
            ),
        }
    )
