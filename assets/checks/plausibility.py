"""Plausibility audits: every quantity the headline depends on, day on day, before it is published.

Each audit compares a value with the previous one of the same id (an index, a symbol, a currency, a
basket, the headline pair) and refuses a move beyond what that quantity can plausibly do in a day,
unless a corporate action explains it (a split changes the close and the share count together, so the
market cap in local currency stays put). They are blocking ERROR checks on the marts: a failure stops
the report and the publication in the same run (Dagster skips the assets downstream of a failed
blocking check), while the warehouse keeps what the run built. Every finding is recorded in
`audit.findings` (orchestration/audit_log.py) with the id, the date, the value and the previous value.

The thresholds are all in LIMITS below; docs/data-quality.md explains each. An audit reads the rows of
the run's window (CTR_WINDOW_MIN_DATE, from the run's partition tags) plus LOOKBACK_DAYS before it for
the previous values, so a daily run reads a month, not the history; a run without a window (a full
build) audits everything. After a held-back run, later runs audit from that run's window too, so a
clean day cannot carry refused rows into the published copy.
"""
# No `from __future__ import annotations`: Dagster reads the context and resource annotations at
# decoration time.

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from assets.checks.common import mart_key, raw_key, rows_table
from orchestration import audit_log
from orchestration.audit_log import finding_text
from orchestration.datasets import CORPORATE_ACTIONS
from orchestration.partitions import window_start_of
from orchestration.reference import headline_baskets
from orchestration.resources.warehouse import Warehouse, WarehouseSession


@dataclass(frozen=True)
class Limits:
    """The largest day-on-day move (as a fraction, either way) each audited quantity may make."""

    # Index levels: the largest daily moves of STAR 50 / ChiNext / Hang Seng TECH in the 2024 rally were
    # about 20%; a lot-size or currency slip is 100x.
    index_close: float = 0.25
    # A member's close: a large cap beyond +-50% in a day is news to check first. A split is explained
    # by its share count (the local market cap stays within this limit).
    stock_close: float = 0.50
    # A member's share count in force: a buyback or placement moves it by percent, a unit slip 10-1000x.
    share_count: float = 0.50
    # A member's USD market cap: the same bound as its close, and no split excuses it.
    member_market_cap: float = 0.50
    # USD per unit of a currency: majors rarely move 5% in a day; an inverted quote is 7x or 1/7.
    fx_rate: float = 0.10
    # A basket's USD total over the members priced on both days: dozens of names cannot all jump.
    basket_total: float = 0.20
    # The headline ratio CN_AI / GLOBAL_AI_EX_CN: unless a basket gained or lost priced members.
    market_cap_ratio: float = 0.20


LIMITS = Limits()
# How far back an audit reads for each id's previous value: longer than any market holiday (Lunar New
# Year, Golden Week). A series resuming after a longer suspension is compared from its next day on.
LOOKBACK_DAYS = 31

MEMBERS = "marts.fct_ai_basket_members_daily"
BASKETS = "marts.fct_ai_basket_market_cap"
RATIO = "marts.fct_ai_market_cap_ratio"
INDEX_RETURNS = "marts.fct_index_returns"

# Each row of a series with the previous row of its id, read from the look-back on ($1: the look-back's
# first day, NULL for all; $2: the window's first day; $3: the limit; EXPLAIN shows the bound date
# filter in the table scan, so its zone maps skip the history). Columns: id,
# trade_date, value, previous_date, previous_value, and `extra` with their previous values as previous_<name>.
_SERIES = """
with series as (
    select {id} as id, {date} as trade_date, {value} as value{extra},
           lag({date}) over w as previous_date, lag({value}) over w as previous_value{previous_extra}
    from {table}
    where $1::date is null or {date} >= $1::date
    window w as (partition by {id} order by {date})
),
moves as (
    select *, value / previous_value - 1 as move from series
    where ($2::date is null or trade_date >= $2::date) and previous_value > 0 and value is not null
)
"""


def _series(table: str, id: str, value: str, date: str = "trade_date", extra: Sequence[str] = ()) -> str:
    return _SERIES.format(
        table=table, id=id, value=value, date=date,
        extra="".join(f", {e}" for e in extra),
        previous_extra="".join(f", lag({e}) over w as previous_{e}" for e in extra),
    )


def _source_note(raw_table: str, id_column: str) -> str:
    """The raw rows' sources of both days, when they differ: a jump at a switch to a fallback source is
    the classic cross-source error (an adjusted close after unadjusted ones, lots after shares)."""
    # raw read from the look-back on, like the series ($1): a join on the whole table reads its history.
    return f""",
raw_days as (
    select {id_column}, trade_date, source from {raw_table} where $1::date is null or trade_date >= $1::date
)
select m.id, m.trade_date, m.value, m.previous_date, m.previous_value, m.move, $3 as limit_move,
       case when a.source is distinct from b.source and a.source is not null and b.source is not null
            then 'source changed: ' || b.source || ' -> ' || a.source else 'source ' || a.source end as note
from flagged as m
left join raw_days as a on a.{id_column} = m.id and a.trade_date = m.trade_date
left join raw_days as b on b.{id_column} = m.id and b.trade_date = m.previous_date
order by abs(m.move) desc, m.id, m.trade_date
"""


_PLAIN = """
select id, trade_date, value, previous_date, previous_value, move, $3 as limit_move, {note} as note
from flagged order by abs(move) desc, id, trade_date
"""

INDEX_CLOSES_SQL = _series(INDEX_RETURNS, "index_id", "close") + """,
flagged as (select * from moves where abs(move) > $3)
""" + _source_note("raw.index_prices", "index_id")

FX_RATES_SQL = _series("raw.fx_rates", "currency", "usd_per_unit") + """,
flagged as (select * from moves where abs(move) > $3)
""" + _source_note("raw.fx_rates", "currency")

# The local market cap (close x shares) is what a split leaves in place; a split a source reported
# (raw.corporate_actions) explains a close that moved by its ratio even before the share count caught up.
# REPORTED_SPLITS is replaced by that table, or by no rows where a warehouse has none yet. A share count
# may catch up with a split days later: any split of the last LOOKBACK_DAYS whose ratio explains its
# move excuses it, while a close must move on the ex-date itself.
STOCK_CLOSES_SQL = _series(MEMBERS, "symbol", "close_local", extra=("shares_outstanding",)) + """,
local as (
    select *, value * shares_outstanding / (previous_value * previous_shares_outstanding) - 1 as local_cap_move
    from moves where abs(move) > $3
),
split as (
    select *, (select product(s.ratio) from REPORTED_SPLITS as s
               where s.symbol = local.id and s.ex_date > local.previous_date and s.ex_date <= local.trade_date)
              as split_ratio
    from local
),
flagged as (
    select * exclude (local_cap_move, split_ratio) from split
    where (local_cap_move is null or shares_outstanding = previous_shares_outstanding or abs(local_cap_move) > $3)
      and not coalesce(abs(value * split_ratio / previous_value - 1) <= $3, false)
)
""" + _source_note("raw.stock_prices", "symbol")

SHARE_COUNTS_SQL = _series(MEMBERS, "symbol", "shares_outstanding", extra=("close_local",)) + """,
flagged as (
    select *, 'close ' || printf('%+.1f%%', 100 * (close_local / previous_close_local - 1))
              || ', market cap in local currency '
              || printf('%+.1f%%', 100 * (close_local * value / (previous_close_local * previous_value) - 1)) as note
    from moves
    where abs(move) > $3
      and not coalesce(previous_close_local > 0
                       and abs(close_local * value / (previous_close_local * previous_value) - 1) <= $3, false)
      and not coalesce(abs(value / (previous_value * (
                select product(s.ratio) from REPORTED_SPLITS as s
                where s.symbol = moves.id and s.ex_date <= moves.trade_date
                  and s.ex_date > moves.previous_date - """ + str(LOOKBACK_DAYS) + """
            )) - 1) <= $3, false)
)
""" + _PLAIN.format(note="note")

MEMBER_CAPS_SQL = _series(MEMBERS, "symbol", "market_cap_usd",
                          extra=("close_local", "shares_outstanding", "usd_per_unit")) + """,
flagged as (
    select *, 'close ' || printf('%+.1f%%', 100 * (close_local / previous_close_local - 1))
              || ', shares ' || printf('%+.1f%%', 100 * (shares_outstanding / previous_shares_outstanding - 1))
              || ', usd_per_unit ' || printf('%+.1f%%', 100 * (usd_per_unit / previous_usd_per_unit - 1)) as note
    from moves where abs(move) > $3
)
""" + _PLAIN.format(note="note")

# Over the members priced on both days, so that a listing joining the basket is no jump; candidates
# first, so the member rows are read for the few days that moved.
BASKET_TOTALS_SQL = _series(BASKETS, "basket_id", "market_cap_usd", extra=("members_priced",)) + f""",
candidates as (select * from moves where abs(move) > $3),
member_days as (
    select basket_id, symbol, trade_date, market_cap_usd,
           lag(market_cap_usd) over (partition by basket_id, symbol order by trade_date) as previous_cap
    from {MEMBERS}
    where ($1::date is null or trade_date >= $1::date)
      and basket_id in (select id from candidates)
),
like_for_like as (
    select c.id, c.trade_date,
           sum(d.market_cap_usd) filter (where d.previous_cap is not null)
             / sum(d.previous_cap) filter (where d.market_cap_usd is not null) - 1 as move
    from candidates as c join member_days as d on d.basket_id = c.id and d.trade_date = c.trade_date
    group by all
),
flagged as (
    select c.*, case when c.members_priced <> c.previous_members_priced
                     then 'members priced ' || c.previous_members_priced || ' -> ' || c.members_priced
                          || ', like for like ' || printf('%+.1f%%', 100 * l.move) end as note
    from candidates as c left join like_for_like as l using (id, trade_date)
    where c.members_priced = c.previous_members_priced or abs(l.move) > $3 or l.move is null
)
""" + _PLAIN.format(note="note")

# The ratio carries each basket's latest value forward; a basket that gained or lost priced members
# between the two days explains a jump (the basket audit judges that basket like for like).
MARKET_CAP_RATIO_SQL = _series(RATIO, f"'{'/'.join(headline_baskets())}'", "cn_to_peer_ratio") + f""",
candidates as (select * from moves where abs(move) > $3),
priced as (
    select c.trade_date, b.basket_id,
           arg_max(b.members_priced, b.trade_date) filter (where b.trade_date <= c.trade_date) as now_priced,
           arg_max(b.members_priced, b.trade_date) filter (where b.trade_date <= c.previous_date) as before_priced
    from candidates as c
    join {BASKETS} as b on b.trade_date > c.previous_date - {LOOKBACK_DAYS} and b.trade_date <= c.trade_date
    group by all
),
flagged as (
    select c.* from candidates as c
    where not exists (select 1 from priced as p
                      where p.trade_date = c.trade_date and p.now_priced is distinct from p.before_priced)
)
""" + _PLAIN.format(note="null")


@dataclass(frozen=True)
class Audit:
    name: str
    asset: AssetKey
    quantity: str  # what is compared, for the description and the messages
    limit: float
    sql: str
    tables: tuple[str, ...]  # what the SQL reads: a mart dbt has not built has nothing to audit
    # The raw assets among them, as the check's additional deps. The other marts it reads are not
    # declared: a dependency would make it wait for (and be skipped after) their own blocking audits,
    # and every audit should report in the run that fails.
    reads: tuple[AssetKey, ...] = ()


AUDITS = (
    Audit("index_closes_plausible", mart_key("fct_index_returns"), "index close", LIMITS.index_close,
          INDEX_CLOSES_SQL, (INDEX_RETURNS, "raw.index_prices"), (raw_key("index_prices"),)),
    Audit("stock_closes_plausible", mart_key("fct_ai_basket_members_daily"), "member close (local currency)",
          LIMITS.stock_close, STOCK_CLOSES_SQL, (MEMBERS, "raw.stock_prices"), (raw_key("stock_prices"),)),
    Audit("share_counts_plausible", mart_key("fct_ai_basket_members_daily"), "member share count",
          LIMITS.share_count, SHARE_COUNTS_SQL, (MEMBERS,)),
    Audit("member_market_caps_plausible", mart_key("fct_ai_basket_members_daily"), "member market cap (USD)",
          LIMITS.member_market_cap, MEMBER_CAPS_SQL, (MEMBERS,)),
    Audit("fx_rates_plausible", mart_key("fct_ai_basket_members_daily"), "FX rate (USD per unit)",
          LIMITS.fx_rate, FX_RATES_SQL, ("raw.fx_rates",), (raw_key("fx_rates"),)),
    Audit("basket_totals_plausible", mart_key("fct_ai_basket_market_cap"), "basket market cap (USD)",
          LIMITS.basket_total, BASKET_TOTALS_SQL, (BASKETS, MEMBERS)),
    Audit("market_cap_ratio_plausible", mart_key("fct_ai_market_cap_ratio"), "CN/peer market cap ratio",
          LIMITS.market_cap_ratio, MARKET_CAP_RATIO_SQL, (RATIO, BASKETS)),
)
# The assets the audits judge: the publication depends on each directly, so Dagster skips it when
# one of their blocking checks fails.
AUDITED_ASSETS = tuple(dict.fromkeys(a.asset for a in AUDITS))


@dataclass(frozen=True)
class Outcome:
    audit: Audit
    window_start: date | None
    findings: list[tuple]
    missing: Sequence[str] = ()

    @property
    def passed(self) -> bool:
        return not self.findings

    def line(self) -> str:
        """One line: the audit, and each id, date, value and previous value it refused (the first few)."""
        since = f"from {self.window_start}" if self.window_start else "over all dates"
        if self.missing:
            return f"{self.audit.name}: nothing to audit ({', '.join(self.missing)} not built)"
        if self.passed:
            return (f"{self.audit.name}: every {self.audit.quantity} {since} within"
                    f" +-{self.audit.limit:.0%} of its previous value")
        shown = "; ".join(finding_text(r) for r in self.findings[:5])
        more = f"; and {len(self.findings) - 5} more" if len(self.findings) > 5 else ""
        return (f"{self.audit.name} failed: {len(self.findings)} {self.audit.quantity} move(s) beyond"
                f" +-{self.audit.limit:.0%} {since}: {shown}{more}")


NO_SPLITS = "(select null::varchar as symbol, null::date as ex_date, null::double as ratio where false)"


def _with_splits(wh: WarehouseSession, sql: str) -> str:
    if "REPORTED_SPLITS" not in sql:
        return sql
    reported = (f"(select symbol, ex_date, ratio from {CORPORATE_ACTIONS.table} where action = 'split')"
                if wh.relation_exists("raw", CORPORATE_ACTIONS.name) else NO_SPLITS)
    return sql.replace("REPORTED_SPLITS", reported)


def evaluate(wh: WarehouseSession, audit: Audit, window_start: date | None, run_id: str) -> Outcome:
    """Run one audit over the window (widened to the earliest held-back window since the last
    publication) and record the outcome in the audit log."""
    missing = [t for t in audit.tables if not wh.relation_exists(*t.split("."))]
    if missing:
        # Nothing built to audit (and nothing of it to publish): recorded, not a failure.
        audit_log.record_evaluation(wh, run_id, audit.name, audit.asset.to_user_string(), window_start, [])
        return Outcome(audit, window_start, [], missing=missing)
    held, held_start = audit_log.unpublished_window_start(wh, audit.name)
    start = window_start
    if held:
        start = None if held_start is None or window_start is None else min(held_start, window_start)
    since = None if start is None else start - timedelta(days=LOOKBACK_DAYS)
    findings = [tuple(r) for r in wh.rows(_with_splits(wh, audit.sql), [since, start, audit.limit])]
    audit_log.record_evaluation(wh, run_id, audit.name, audit.asset.to_user_string(), start, findings)
    return Outcome(audit, start, findings)


def evaluate_all(warehouse: Warehouse, window_start: date | None, run_id: str) -> list[Outcome]:
    with warehouse.session() as wh:
        return [evaluate(wh, audit, window_start, run_id) for audit in AUDITS]


def check_result(outcome: Outcome) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=outcome.audit.name,
        asset_key=outcome.audit.asset,
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR,
        description=outcome.line() + ("" if outcome.passed else "; publication held back"),
        metadata={
            "limit": outcome.audit.limit,
            "window_start": MetadataValue.text(str(outcome.window_start or "all dates")),
            "lookback_days": LOOKBACK_DAYS,
            "findings": len(outcome.findings),
            "rows": rows_table(audit_log.FINDING_COLUMNS, outcome.findings),
        },
    )


def _audit_check(audit: Audit) -> AssetChecksDefinition:
    @asset_check(
        asset=audit.asset,
        name=audit.name,
        description=f"Every {audit.quantity} within +-{audit.limit:.0%} of its previous value, day on day"
        " (docs/data-quality.md). ERROR and blocking: a failure holds the publication back.",
        blocking=True,
        additional_deps=list(audit.reads),
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
        with warehouse.session() as wh:
            outcome = evaluate(wh, audit, window_start_of(context.run.tags), context.run.run_id)
        if not outcome.passed:
            context.log.error(f"Publication held back: {outcome.line()}")
        return check_result(outcome)

    return _check


def build_plausibility_checks() -> list[AssetChecksDefinition]:
    return [_audit_check(a) for a in AUDITS]


__all__ = ["AUDITED_ASSETS", "AUDITS", "LIMITS", "LOOKBACK_DAYS", "Audit", "Limits", "Outcome",
           "build_plausibility_checks", "evaluate", "evaluate_all"]
