"""Value sanity on the raw tables: a zero, negative or infinite price or rate can only be a broken feed,
and every return and market cap built on it would be wrong, so the check is ERROR and blocking: the marts
in the same run do not build. The load already refuses such values (a snapshot file whole, a live answer
value by value, into audit.quarantine); this is the backstop for rows that reached the table another way.

How far a close, a share count or an FX rate may move from one day to the next is the plausibility
audits' to judge (assets/checks/plausibility.py): on the marts the headline reads, over the run's window,
blocking publication, and knowing the splits the sources report.

A run over a partition window reads only the window's rows: the raw loads replace exactly those, so
the rows before it are the ones earlier runs checked (docs/operations.md, "What a run reads").
"""
# No `from __future__ import annotations`: Dagster reads the Config and resource annotations at
# decoration time.

from datetime import date

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from assets.checks.common import raw_key, rows_table, window_of
from orchestration.datasets import (
    DATASETS,
    MAX_ABS_VALUE,
    Dataset,
)
from orchestration.resources.warehouse import Warehouse


def non_positive_rows(wh, dataset: Dataset, first: date | None = None, last: date | None = None
                      ) -> tuple[list[str], list[tuple], int]:
    """Every (id, date, column, value) where a column that must be positive is zero, negative, NaN,
    infinite or too large to multiply into a market cap; dated first..last when given (each bound
    optional)."""
    # Dates, not user text: their ISO form is safe inside the SQL.
    dated = "".join(
        f" and {dataset.date_column} {op} date '{day.isoformat()}'" for op, day in ((">=", first), ("<=", last)) if day
    )
    parts = [
        f"select {dataset.entity_column} as id, {dataset.date_column} as date, '{c}' as column_name, {c} as value"
        f" from {dataset.table} where ({c} <= 0 or not isfinite({c}) or {c} >= {MAX_ABS_VALUE}){dated}"
        for c in dataset.positive_columns
    ]
    sql = " union all ".join(parts)
    total = wh.execute(f"select count(*) from ({sql})").fetchone()[0]
    columns, rows = wh.query(f"select * from ({sql}) order by id, date, column_name limit 100")
    return columns, rows, total


def check_positive_values(wh, dataset: Dataset, first: date | None = None, last: date | None = None
                          ) -> AssetCheckResult:
    columns, rows, total = non_positive_rows(wh, dataset, first, last)
    ids = sorted({r[0] for r in rows})
    return AssetCheckResult(
        passed=total == 0,
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"No zero, negative or non-finite {', '.join(dataset.positive_columns)} in {dataset.table}."
            if total == 0
            else f"{total} zero, negative or non-finite value(s) in {dataset.table} (ids: {', '.join(ids[:10])}); "
            "downstream marts are not built in this run."
        ),
        metadata={
            "failing_rows": total,
            "failing_ids": MetadataValue.json(ids),
            "rows": rows_table(columns, rows, total),
            "window": MetadataValue.text(f"{first or '...'} to {last or '...'}" if first or last else "all dates"),
        },
    )


def _positive_check(dataset: Dataset) -> AssetChecksDefinition:
    @asset_check(
        asset=raw_key(dataset),
        name="positive_values",
        description=f"No zero, negative or non-finite {', '.join(dataset.positive_columns)} in {dataset.table}. "
        "ERROR and blocking: a failure stops the marts in the same run from building on it.",
        blocking=True,
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
        with warehouse.session() as wh:
            return check_positive_values(wh, dataset, *window_of(context.run.tags))

    return _check


def build_sanity_checks() -> list[AssetChecksDefinition]:
    return [
        *[_positive_check(d) for d in DATASETS if d.positive_columns],
    ]
