"""Value sanity on the raw tables: impossible values block the marts, implausible ones warn.

A zero, negative or infinite price or rate can only be a broken feed, and every return and market cap built on
it would be wrong, so that check is ERROR and blocking: the marts in the same run do not build. A
20% index day or a 60% stock day can be real (and the synthetic sample has none), so those WARN and
name the rows for a human to look at. A stock move that a change in shares outstanding offsets (a
split) is not flagged: price times shares, the market cap, is what must not jump.
"""
# No `from __future__ import annotations`: Dagster reads the Config and resource annotations at
# decoration time.

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from assets.checks.common import raw_key, rows_table
from orchestration.datasets import (
    DATASETS,
    INDEX_PRICES,
    MAX_ABS_VALUE,
    SHARES_OUTSTANDING,
    STOCK_PRICES,
    Dataset,
)
from orchestration.resources.warehouse import Warehouse

INDEX_MOVE_LIMIT = 0.20
STOCK_MOVE_LIMIT = 0.60


def non_positive_rows(wh, dataset: Dataset) -> tuple[list[str], list[tuple], int]:
    """Every (id, date, column, value) where a column that must be positive is zero, negative, NaN,
    infinite or too large to multiply into a market cap."""
    parts = [
        f"select {dataset.entity_column} as id, {dataset.date_column} as date, '{c}' as column_name, {c} as value"
        f" from {dataset.table} where {c} <= 0 or not isfinite({c}) or {c} >= {MAX_ABS_VALUE}"
        for c in dataset.positive_columns
    ]
    sql = " union all ".join(parts)
    total = wh.execute(f"select count(*) from ({sql})").fetchone()[0]
    columns, rows = wh.query(f"select * from ({sql}) order by id, date, column_name limit 100")
    return columns, rows, total


def check_positive_values(wh, dataset: Dataset) -> AssetCheckResult:
    columns, rows, total = non_positive_rows(wh, dataset)
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
        },
    )


def _moves_cte(dataset: Dataset) -> str:
    """Each row of a price table with the entity's previous close: the day-on-day move both checks measure."""
    entity = dataset.entity_column
    return f"""moves as (
    select {entity}, trade_date, close,
           lag(trade_date) over w as previous_date,
           lag(close) over w as previous_close
    from {dataset.table}
    window w as (partition by {entity} order by trade_date)
)"""


INDEX_MOVES_SQL = f"""
with {_moves_cte(INDEX_PRICES)}
select index_id, previous_date, trade_date, previous_close, close, close / previous_close - 1 as move
from moves
where previous_close > 0 and abs(close / previous_close - 1) > ?
order by abs(close / previous_close - 1) desc, index_id, trade_date
"""


def _moves_result(columns, rows, limit: float, what: str, unexplained: str) -> AssetCheckResult:
    return AssetCheckResult(
        passed=not rows,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"No {what} moved more than {limit:.0%} in a day{unexplained}."
            if not rows
            else f"{len(rows)} {what} day(s) moved more than {limit:.0%}{unexplained}: "
            + ", ".join(f"{r[0]} {r[2]} {r[5]:+.1%}" for r in rows[:5])
        ),
        metadata={
            "limit": limit,
            "failing_rows": len(rows),
            "failing_ids": MetadataValue.json(sorted({r[0] for r in rows})),
            "moves": rows_table(columns, rows),
        },
    )


def check_index_moves(wh, limit: float = INDEX_MOVE_LIMIT) -> AssetCheckResult:
    columns, rows = wh.query(INDEX_MOVES_SQL, [limit])
    return _moves_result(columns, rows, limit, "index", "")


# A move is explained when the market cap (close x shares outstanding as of each day) stays within the
# limit, i.e. the shares changed by about the inverse of the price: a split or a consolidation.
STOCK_MOVES_SQL = f"""
with {_moves_cte(STOCK_PRICES)},
big as (
    select * from moves
    where previous_close > 0 and abs(close / previous_close - 1) > $1
),
with_shares as (
    select big.*, now_shares.shares_outstanding as shares, before.shares_outstanding as previous_shares
    from big
    asof left join {SHARES_OUTSTANDING.table} as now_shares
        on big.symbol = now_shares.symbol and big.trade_date >= now_shares.as_of_date
    asof left join {SHARES_OUTSTANDING.table} as before
        on big.symbol = before.symbol and big.previous_date >= before.as_of_date
)
select symbol, previous_date, trade_date, previous_close, close,
       close / previous_close - 1 as move,
       previous_shares, shares,
       close * shares / (previous_close * previous_shares) - 1 as market_cap_move
from with_shares
where previous_shares is null or shares is null or previous_shares <= 0
   or abs(close * shares / (previous_close * previous_shares) - 1) > $1
order by abs(close / previous_close - 1) desc, symbol, trade_date
"""


def check_stock_moves(wh, limit: float = STOCK_MOVE_LIMIT) -> AssetCheckResult:
    columns, rows = wh.query(STOCK_MOVES_SQL, [limit])
    return _moves_result(columns, rows, limit, "stock", " without a matching change in shares outstanding")


def _positive_check(dataset: Dataset) -> AssetChecksDefinition:
    @asset_check(
        asset=raw_key(dataset),
        name="positive_values",
        description=f"No zero, negative or non-finite {', '.join(dataset.positive_columns)} in {dataset.table}. "
        "ERROR and blocking: a failure stops the marts in the same run from building on it.",
        blocking=True,
    )
    def _check(warehouse: Warehouse) -> AssetCheckResult:
        with warehouse.session() as wh:
            return check_positive_values(wh, dataset)

    return _check


@asset_check(
    asset=raw_key(INDEX_PRICES),
    name="daily_move_within_20pct",
    description=f"No index close moves more than {INDEX_MOVE_LIMIT:.0%} from its previous close (WARN).",
)
def index_daily_move_check(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.session() as wh:
        return check_index_moves(wh)


@asset_check(
    asset=raw_key(STOCK_PRICES),
    name="daily_move_within_60pct_unless_split",
    description=f"No stock close moves more than {STOCK_MOVE_LIMIT:.0%} from its previous close unless shares "
    "outstanding changed to match (a split) (WARN).",
    additional_deps=[raw_key(SHARES_OUTSTANDING)],
)
def stock_daily_move_check(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.session() as wh:
        return check_stock_moves(wh)


def build_sanity_checks() -> list[AssetChecksDefinition]:
    return [
        *[_positive_check(d) for d in DATASETS if d.positive_columns],
        index_daily_move_check,
        stock_daily_move_check,
    ]
