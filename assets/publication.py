"""Publishing the warehouse: the read-only copy analysts query, and which step of a run makes it.

DuckDB allows one writer process, and a reader of the live file either blocks the run or fails on its
lock. Readers open the published copy instead (`<warehouse folder>/published/<warehouse file name>`,
by default `warehouse/published/china_tech_rally.duckdb`). It is never written in place: `publish`
copies the checkpointed warehouse to a temporary file beside it, checks the copy opens, and renames
it over the old one. A reader that already has the old file open keeps reading it (the rename does not
touch open files); the next connection sees the new one. Neither side waits for the other.

The copy keeps the warehouse's file name because DuckDB names the catalog after the file and the
staging views refer to it (`"china_tech_rally"."raw"...`).

Every run that writes the marts leaves the copy in step, whatever it selected: the last step of the
run that writes (the dbt models, the report, or the `published/warehouse` asset itself) publishes, and
the earlier ones leave it to that step, so a full run copies the file once. This lives in the steps
rather than in a hook or a sensor because a run launched from the UI with a partial selection (only
the report, say) runs the implicit asset job, which carries no hooks, and nothing may need a daemon.
Kept apart from `assets/publish.py` so that the writing assets can use it without an import cycle.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import duckdb
from dagster import AssetExecutionContext, AssetKey, ConfigurableResource
from pydantic import Field

from orchestration.resources.warehouse import Warehouse

PUBLISHED_KEY = AssetKey(["published", "warehouse"])


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


def runs_later(context: AssetExecutionContext, key: AssetKey) -> bool:
    """Whether this run still has a step materialising `key`: the asset is in the run's selection and
    its step is among those executed (a re-execution from failure runs a subset of the steps)."""
    layer = context.job_def.asset_layer
    if key not in layer.selected_asset_keys:
        return False
    steps = context.run.step_keys_to_execute
    return steps is None or str(layer.get_op_output_handle(key).node_handle) in steps


def publish_unless_a_later_step_does(
    context: AssetExecutionContext, warehouse: Warehouse, published: PublishedWarehouse, later: Iterable[AssetKey]
) -> str:
    """At the end of a step that wrote the warehouse: publish, unless one of the `later` assets (those
    downstream of this step that also publish) runs later in this run. Returns what happened, for the
    step's metadata. If that later step fails, nothing is published: a failed run leaves the previous
    copy, as a full run always has."""
    for key in later:
        if runs_later(context, key):
            message = f"left to {key.to_user_string()}, later in this run"
            context.log.info(f"Publication {message}")
            return message
    target = Path(published.path)
    counts = publish(warehouse, target)
    context.log.info(f"Published {target} ({len(counts)} marts)")
    return f"published to {target}"
