"""Metadata for the dbt models in the UI: row counts and column types of every table, and for the marts
the latest date and the newest rows, so a reader can judge a table without opening a SQL prompt.

dagster-dbt's `fetch_row_counts()` / `fetch_column_metadata()` would do part of this, but they query
through dbt's in-process DuckDB adapter, which keeps the warehouse open (dbt-duckdb's `keep_open`)
with its own configuration; every later connection of the run's process (the report asset, the
publisher) is then refused. Plain DuckDB queries after dbt has exited avoid that.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dagster import AssetMaterialization, MetadataValue, Output, TableColumn, TableSchema
from dagster_dbt import DbtCliInvocation

from orchestration import markdown
from orchestration.resources.warehouse import Warehouse, WarehouseSession

PREVIEW_ROWS = 5
# Columns that say how current a table is, in order of preference.
DATE_COLUMNS = ("trade_date", "as_of_date", "last_trade_date")
PREVIEW_SCHEMAS = ("marts",)


def table_metadata(
    wh: WarehouseSession,
    schema: str,
    table: str,
    descriptions: Mapping[str, str] | None = None,
    preview: bool = True,
) -> dict[str, Any]:
    """Column types, row count and (with `preview`) latest date and newest rows of one relation."""
    found = wh.columns(schema, table)
    if not found:
        return {}
    descriptions = descriptions or {}
    columns = [name for name, _, _ in found]
    metadata: dict[str, Any] = {
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(name=n, type=t, description=descriptions.get(n) or None) for n, t, _ in found]
        )
    }
    # A view's count would run its query; the tables are what readers and dashboards hit.
    if found[0][2] != "BASE TABLE":
        return metadata
    relation = f'"{schema}"."{table}"'
    metadata["dagster/row_count"] = MetadataValue.int(wh.execute(f"select count(*) from {relation}").fetchone()[0])
    if not preview:
        return metadata
    date_column = next((c for c in DATE_COLUMNS if c in columns), None)
    order = ""
    if date_column:
        latest = wh.execute(f'select max("{date_column}") from {relation}').fetchone()[0]
        metadata["latest_date"] = MetadataValue.text(latest.isoformat() if latest else "none (empty)")
        order = f'order by "{date_column}" desc nulls last, 1'
    rows = wh.execute(f"select * from {relation} {order} limit {PREVIEW_ROWS}").fetchall()
    heading = f"The {len(rows)} newest rows" if date_column else f"{len(rows)} rows"
    metadata["preview"] = MetadataValue.md(f"{heading} of `{schema}.{table}`:\n\n{markdown.table(columns, rows)}")
    return metadata


def _node_of(invocation: DbtCliInvocation, event: Output | AssetMaterialization) -> Mapping[str, Any] | None:
    unique_id = event.metadata.get("unique_id")
    text = getattr(unique_id, "text", unique_id)
    return invocation.manifest["nodes"].get(text) if isinstance(text, str) else None


def with_table_metadata(invocation: DbtCliInvocation, warehouse: Warehouse) -> Iterator[Any]:
    """The dbt build's events, each model or seed materialisation carrying its table metadata.

    The events are held until dbt exits, as dagster-dbt does for DuckDB: dbt keeps the file's write
    lock until then. A failed build still reports what it built before the error is raised.
    """
    events: list[Any] = []
    failure: Exception | None = None
    try:
        # extend() keeps the events consumed before an error.
        events.extend(invocation.stream())
    except Exception as exc:  # noqa: BLE001 - re-raised below, after reporting what was built
        failure = exc
    built = [
        (i, node)
        for i, event in enumerate(events)
        if isinstance(event, (Output, AssetMaterialization))
        and (node := _node_of(invocation, event)) is not None
        and node.get("resource_type") in ("model", "seed")
    ]
    if built:
        with warehouse.session() as wh:
            for i, node in built:
                descriptions = {name: col.get("description", "") for name, col in node.get("columns", {}).items()}
                extra = table_metadata(
                    wh,
                    node["schema"],
                    node.get("alias") or node["name"],
                    descriptions,
                    preview=node["schema"] in PREVIEW_SCHEMAS,
                )
                events[i] = events[i].with_metadata({**events[i].metadata, **extra})
    yield from events
    if failure is not None:
        raise failure
