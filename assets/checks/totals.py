"""Totals that need more than SQL: every member listed by a date (on its own exchange calendar) is
priced, and index constituent snapshots are complete.

The arithmetic the marts promise (a basket is the sum of its members, the one-year change follows from
the value a year earlier, every member day has its FX and share count) is checked by dbt tests beside
the models (dbt_project/tests/), which Dagster shows as checks on the same assets. Both checks here
are WARN and not blocking: they run after the dbt step, and the raw-level ERROR checks gate the marts.
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

from assets.checks.common import (
    MARTS_SCHEMA,
    empty_inputs,
    mart_guard,
    mart_key,
    raw_guard,
    raw_key,
    rows_table,
)
from orchestration import reference
from orchestration.calendars import first_session_on_or_after
from orchestration.datasets import INDEX_CONSTITUENTS
from orchestration.partitions import window_start_of
from orchestration.resources.providers.base import MarketDataProvider
from orchestration.resources.warehouse import Warehouse

BASKET = f"{MARTS_SCHEMA}.fct_ai_basket_market_cap"
MEMBERS_DAILY = f"{MARTS_SCHEMA}.fct_ai_basket_members_daily"
WEIGHT_TOLERANCE = 0.5


# --- members_priced = members listed -------------------------------------------------------------


def load_expected_members(wh) -> list[str]:
    """Each member's first session it must be priced on, into temp table _expected_members: its first
    session on its own calendar on or after both its listing date and the basket's first day in the
    warehouse (history before that was never loaded; a Tokyo member is not missing on a day Tokyo was
    closed). Returns the calendar fallbacks used."""
    starts = dict(wh.execute(f"select basket_id, min(trade_date) from {BASKET} group by 1").fetchall())
    rows, fallbacks = [], []
    for m in reference.basket_members():
        start = starts.get(m.basket_id)
        if start is None:
            continue
        lookup = first_session_on_or_after(m.calendar, max(m.listed_on, start))
        fallbacks += lookup.fallbacks
        if lookup.day is not None:
            rows.append((m.basket_id, m.symbol, lookup.day))
    baskets, symbols, days = (list(column) for column in zip(*rows)) if rows else ([], [], [])
    wh.execute(
        "create or replace temp table _expected_members as"
        " select unnest(?::varchar[]) as basket_id, unnest(?::varchar[]) as symbol, unnest(?::date[]) as first_expected",
        [baskets, symbols, days],
    )
    return sorted(set(fallbacks))


# The basket days whose priced members may differ from the listed ones, found from counts: a member
# priced and expected by the day is in both sets (a member-day is one row, the mart's key), so the sets
# are equal exactly when those equal the listed count and nothing else is priced. Only these days are
# then compared member by member: on a clean mart of 20M member-days that is none.
SUSPECT_DAYS_SQL = """
create or replace temp table _suspect_days as
with listed_by_date as (
    select basket_id, first_expected,
           (sum(count(*)) over (partition by basket_id order by first_expected))::bigint as members_listed
    from _expected_members
    group by basket_id, first_expected
),
listed as (
    select b.basket_id, b.trade_date, b.members_priced, coalesce(l.members_listed, 0) as members_listed
    from {basket} as b
    asof left join listed_by_date as l
        on b.basket_id = l.basket_id and b.trade_date >= l.first_expected
    where {since_b}
),
priced as (
    select d.basket_id, d.trade_date,
           count(*) filter (where e.first_expected <= d.trade_date) as priced_and_listed,
           count(*) filter (where e.first_expected is null or e.first_expected > d.trade_date) as priced_unlisted
    from {members} as d
    left join _expected_members as e on d.basket_id = e.basket_id and d.symbol = e.symbol
    where d.market_cap_usd is not null and {since_d}
    group by all
)
select coalesce(l.basket_id, p.basket_id) as basket_id, coalesce(l.trade_date, p.trade_date) as trade_date,
       l.members_priced, l.members_listed
from listed as l
full join priced as p on l.basket_id = p.basket_id and l.trade_date = p.trade_date
where l.basket_id is null
   or l.members_priced <> l.members_listed
   or coalesce(p.priced_and_listed, 0) <> l.members_listed
   or coalesce(p.priced_unlisted, 0) > 0
"""

MEMBERS_SQL = f"""
create or replace temp table _member_gaps as
with should as (
    select b.basket_id, b.trade_date, e.symbol
    from {BASKET} as b
    semi join _suspect_days as s on b.basket_id = s.basket_id and b.trade_date = s.trade_date
    join _expected_members as e
        on b.basket_id = e.basket_id and e.first_expected <= b.trade_date
),
member_days as (
    select d.*
    from {MEMBERS_DAILY} as d
    semi join _suspect_days as s on d.basket_id = s.basket_id and d.trade_date = s.trade_date
),
priced as (
    select basket_id, trade_date, symbol from member_days where market_cap_usd is not null
)
select s.basket_id, s.trade_date, s.symbol, 'missing' as kind,
       case when d.symbol is null then 'no price yet'
            when d.shares_outstanding is null then 'no shares outstanding as of the date'
            when d.usd_per_unit is null then 'no ' || d.currency || ' FX rate as of the date'
            else 'no market cap' end as reason
from should as s
left join member_days as d
    on s.basket_id = d.basket_id and s.trade_date = d.trade_date and s.symbol = d.symbol
where not exists (
    select 1 from priced as p
    where p.basket_id = s.basket_id and p.trade_date = s.trade_date and p.symbol = s.symbol)
union all
select p.basket_id, p.trade_date, p.symbol, 'unexpected' as kind,
       'priced before its seed listing date' as reason
from priced as p
where not exists (
    select 1 from should as s
    where p.basket_id = s.basket_id and p.trade_date = s.trade_date and p.symbol = s.symbol)
"""

MEMBERS_BY_SYMBOL_SQL = """
select basket_id, symbol, kind, reason, count(*) as days, min(trade_date) as first_date, max(trade_date) as last_date
from _member_gaps group by all order by days desc, basket_id, symbol
"""

MEMBERS_BY_DAY_SQL = """
select s.basket_id, s.trade_date, s.members_priced, s.members_listed,
       list(g.symbol order by g.symbol) filter (where g.kind = 'missing') as missing_symbols
from _suspect_days as s
left join _member_gaps as g on s.basket_id = g.basket_id and s.trade_date = g.trade_date
where s.members_priced is not null  -- a basket day (a member priced on a day the basket lacks is in by_symbol)
  and (s.members_priced <> s.members_listed or g.symbol is not null)
group by all
order by s.trade_date desc, s.basket_id
"""


def check_members_priced(wh, provider=None, instance=None, since: date | None = None) -> AssetCheckResult:
    """`since`: the run's window start; the basket days before it are the ones earlier runs judged
    (the incremental marts never rewrite them), so a daily run reads its window, not the history."""
    guard = mart_guard(wh, "fct_ai_basket_market_cap", provider, instance)
    if guard:
        return guard
    fallbacks = load_expected_members(wh)
    # A date, not user text: its ISO form is safe inside the SQL.
    def dated(alias: str) -> str:
        return f"{alias}.trade_date >= date '{since.isoformat()}'" if since else "true"

    wh.execute(SUSPECT_DAYS_SQL.format(basket=BASKET, members=MEMBERS_DAILY, since_b=dated("b"), since_d=dated("d")))
    wh.execute(MEMBERS_SQL)
    by_symbol_cols, by_symbol = wh.query(MEMBERS_BY_SYMBOL_SQL)
    by_day_cols, by_day = wh.query(MEMBERS_BY_DAY_SQL)
    missing = sorted({r[1] for r in by_symbol if r[2] == "missing"})
    metadata = {
        "failing_days": len(by_day),
        "missing_symbols": MetadataValue.json(missing),
        "by_symbol": rows_table(by_symbol_cols, by_symbol),
        "failing_days_latest_first": rows_table(by_day_cols, by_day),
        "calendar_fallback_used": bool(fallbacks),
        "checked_from": MetadataValue.text(str(since or "all dates")),
    }
    if fallbacks:
        metadata["calendar_fallbacks"] = MetadataValue.json(fallbacks[:20])
    if by_day:
        causes = empty_inputs(wh, ("stock_prices", "shares_outstanding", "fx_rates"), provider, instance)
        if causes:
            metadata["upstream_gaps"] = MetadataValue.json(causes)
        description = (
            f"members_priced differs from the members listed on {len(by_day)} basket day(s); missing: "
            + ", ".join(f"{r[1]} ({r[3]}, {r[4]} days)" for r in by_symbol[:5])
            + (f" and {len(by_symbol) - 5} more" if len(by_symbol) > 5 else "")
            + (f". {causes[0]}" if causes else "")
        )
    else:
        description = ("Every basket day" + (f" from {since}" if since else "")
                       + " prices every member listed (and trading) by then.")
    return AssetCheckResult(passed=not by_day, severity=AssetCheckSeverity.WARN, description=description,
                            metadata=metadata)


# --- index constituent snapshots -----------------------------------------------------------------


def constituents_sql(counts: dict[str, int]) -> str:
    # The ids and counts come from the index catalog seed (validated by preflight), not from users' input.
    expected = " ".join(f"when '{i}' then {int(n)}" for i, n in counts.items())
    ids = ", ".join(f"'{i}'" for i in counts)
    return f"""
with snapshots as (
    select index_id, as_of_date, count(*) as constituents,
           case index_id {expected} end as expected_constituents,
           sum(weight) as weight_sum, count(*) - count(weight) as missing_weights
    from {INDEX_CONSTITUENTS.table}
    where index_id in ({ids})
    group by index_id, as_of_date
)
select * from snapshots
where constituents <> expected_constituents
   or missing_weights > 0
   or abs(weight_sum - 100) > {WEIGHT_TOLERANCE}
order by index_id, as_of_date
"""


def check_constituents(wh, provider=None, instance=None) -> AssetCheckResult:
    guard = raw_guard(wh, INDEX_CONSTITUENTS, provider, instance)
    if guard:
        return guard
    counts = reference.constituent_counts()
    columns, rows = wh.query(constituents_sql(counts))
    covered = dict(wh.execute(
        f"select index_id, count(distinct as_of_date) from {INDEX_CONSTITUENTS.table} group by 1").fetchall())
    return AssetCheckResult(
        passed=not rows,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"Every {'/'.join(counts)} snapshot has "
            f"{' / '.join(map(str, counts.values()))} constituents with weights summing to "
            f"100 +/- {WEIGHT_TOLERANCE}."
            if not rows
            else f"{len(rows)} constituent snapshot(s) are incomplete: "
            + ", ".join(f"{r[0]} {r[1]} ({r[2]} names, weights {r[4] if r[4] is None else round(r[4], 2)})"
                        for r in rows[:5])
        ),
        metadata={
            "failing_snapshots": len(rows),
            "snapshots_per_index": MetadataValue.json({i: covered.get(i, 0) for i in counts}),
            "rows": rows_table(columns, rows),
        },
    )


# --- Dagster definitions -------------------------------------------------------------------------

# The last field: whether the check reads only the basket days from the run's window start on.
_CHECKS = (
    (mart_key("fct_ai_basket_market_cap"), "members_priced_equals_listed_members", check_members_priced,
     [mart_key("fct_ai_basket_members_daily")],
     ("members_priced equals the members listed by that date (from their first session on their own "
      "calendar), on the basket days from the run's window start (every day without a window); WARN"
      " naming the missing symbols and why."), True),
    (raw_key(INDEX_CONSTITUENTS), "snapshot_counts_and_weights", check_constituents, [],
     ("Each constituent snapshot of an index has the index catalog seed's `constituent_count` names"
      f" (STAR50 50, HSTECH 30) whose weights sum to 100 +/- {WEIGHT_TOLERANCE} (WARN)."), False),
)


def _build(asset_key, name: str, body, deps, description: str, windowed: bool) -> AssetChecksDefinition:
    @asset_check(asset=asset_key, name=name, description=description, additional_deps=deps or None,
                 blocking=False)
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse,
               provider: MarketDataProvider) -> AssetCheckResult:
        with warehouse.session() as wh:
            if windowed:
                return body(wh, provider, context.instance, since=window_start_of(context.run.tags))
            return body(wh, provider, context.instance)

    return _check


def build_totals_checks() -> list[AssetChecksDefinition]:
    return [_build(*spec) for spec in _CHECKS]

