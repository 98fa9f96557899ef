"""Calendar-aware data freshness: is the latest trade_date the latest session that has closed?

Wall-clock freshness ("updated in the last N hours") cannot tell a holiday from an outage: during
Golden Week the STAR 50 rightly has no new close for a week. These checks compare each id's latest
trade_date with the latest session closed on that id's exchange calendar as of the evaluation time
(EvaluationClock), so Lunar New Year, Golden Week and US holidays raise nothing, while a feed that
missed one real session fails, naming the id, the date expected and the date found.

Dagster's own FreshnessPolicy on the marts adds the wall-clock view, "did a run rebuild them", which
the freshness daemon evaluates between runs (the UI's freshness status, not a check).
"""
# No `from __future__ import annotations`: Dagster reads the Config and resource annotations at
# decoration time.

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetSpec,
    Config,
    FreshnessPolicy,
    MetadataValue,
    asset_check,
)
from pydantic import Field

from assets.checks.common import (
    MARTS_SCHEMA,
    jsonable,
    mart_guard,
    mart_key,
    raw_guard,
    raw_key,
    rows_table,
)
from orchestration import reference
from orchestration.calendars import WEEKDAYS, Instant, latest_closed_session
from orchestration.datasets import FX_RATES, INDEX_PRICES, STOCK_PRICES
from orchestration.resources.clock import EvaluationClock
from orchestration.resources.providers.base import MarketDataProvider
from orchestration.resources.warehouse import Warehouse, WarehouseSession

# Every weekday at 19:00 New York time the marts must have been rebuilt within the past 24 hours: by
# the US-close run (17:30 New York) or, on a US holiday, by the Asia-close run (17:30 Hong Kong, early
# morning in New York). The latest deadline stays Friday's over a weekend, so weekends never fail; a
# plain "within 26 hours" window would fail every Sunday. Only a day when every exchange is shut
# (New Year's Day) shows as overdue until the next run; the calendar checks are the precise ones.
MART_FRESHNESS_POLICY = FreshnessPolicy.cron(
    deadline_cron="0 19 * * 1-5", lower_bound_delta=timedelta(hours=24), timezone="America/New_York"
)


class FreshnessConfig(Config):
    lag_sessions: int = Field(
        default=0,
        ge=0,
        description="Sessions an id may trail the latest closed session of its calendar before the check fails.",
    )


@dataclass(frozen=True)
class Expectation:
    """What the latest trade_date of one id must be at least, or why it is exempt."""

    entity: str
    calendar: str
    expected: date | None
    fallbacks: tuple[str, ...] = ()
    exempt: str | None = None


@dataclass
class Verdict:
    rows: list[tuple] = field(default_factory=list)  # entity, calendar, expected, actual, status
    culprits: list[str] = field(default_factory=list)
    exempt: dict[str, str] = field(default_factory=dict)
    fallbacks: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.culprits


def expect(entity: str, calendar: str, instant: Instant, lag: int, listed_on: date | None = None) -> Expectation:
    lookup = latest_closed_session(calendar, instant.at, lag)
    if lookup.day is None:
        return Expectation(entity, calendar, None, lookup.fallbacks, exempt="no session closed in the look-back")
    if listed_on is not None and listed_on > lookup.day:
        return Expectation(entity, calendar, lookup.day, lookup.fallbacks, exempt=f"not listed until {listed_on}")
    return Expectation(entity, calendar, lookup.day, lookup.fallbacks)


def combine(entity: str, parts: Sequence[Expectation]) -> Expectation:
    """A basket trades when any of its listed members does: it must reach the latest of their sessions."""
    held = [p for p in parts if p.exempt is None and p.expected is not None]
    fallbacks = tuple(dict.fromkeys(f for p in parts for f in p.fallbacks))
    if not held:
        return Expectation(entity, "+".join(sorted({p.calendar for p in parts})), None, fallbacks,
                           exempt="no member listed yet")
    calendars = "+".join(sorted({p.calendar for p in held}))
    return Expectation(entity, calendars, max(p.expected for p in held), fallbacks)


def judge(expectations: Sequence[Expectation], actual: Mapping[str, date]) -> Verdict:
    verdict = Verdict()
    for e in expectations:
        found = actual.get(e.entity)
        verdict.fallbacks += [f for f in e.fallbacks if f not in verdict.fallbacks]
        if e.exempt:
            verdict.exempt[e.entity] = e.exempt
            status = "exempt"
        elif found is None:
            status = "missing"
        elif found < e.expected:
            status = "stale"
        elif found > e.expected:
            # Newer than the clock thinks has closed: not stale; said so in case the clock is wrong.
            status = "ahead"
        else:
            status = "ok"
        if status in ("missing", "stale"):
            verdict.culprits.append(e.entity)
        verdict.rows.append((e.entity, e.calendar, e.expected, found, status))
    return verdict


def freshness_result(verdict: Verdict, instant: Instant, lag: int, what: str, table: str) -> AssetCheckResult:
    by_entity = {r[0]: r for r in verdict.rows}
    culprit_rows = [by_entity[c] for c in verdict.culprits]
    if verdict.passed:
        held = sum(1 for r in verdict.rows if r[4] != "exempt")
        description = f"All {held} {what} in {table} reach the latest closed session ({instant.basis})."
    else:
        shown = ", ".join(
            f"{e} (expected {exp}, has {act or 'no rows'})" for e, _, exp, act, _ in culprit_rows[:5]
        )
        more = f" and {len(culprit_rows) - 5} more" if len(culprit_rows) > 5 else ""
        description = f"{len(culprit_rows)} {what} in {table} are behind their calendar: {shown}{more}."
    if verdict.fallbacks:
        description += " Calendar fallback (Mon-Fri) used: see calendar_fallbacks."
    return AssetCheckResult(
        passed=verdict.passed,
        severity=AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "evaluated_as_of": MetadataValue.text(instant.at.isoformat()),
            "clock": instant.basis,
            "lag_sessions": lag,
            "expected_dates": MetadataValue.json({r[0]: jsonable(r[2]) for r in verdict.rows}),
            "actual_dates": MetadataValue.json({r[0]: jsonable(r[3]) for r in verdict.rows}),
            "culprit_count": len(verdict.culprits),
            "culprits": rows_table(("id", "calendar", "expected", "actual", "status"), culprit_rows),
            "exempt": MetadataValue.json(verdict.exempt),
            "calendar_fallback_used": bool(verdict.fallbacks),
            "calendar_fallbacks": MetadataValue.json(verdict.fallbacks[:20]),
        },
    )


def latest_dates(wh: WarehouseSession, table: str, id_column: str,
                 expectations: Sequence[Expectation] | None = None) -> dict[str, date]:
    """Each id's latest trade_date. With `expectations`, only the rows from the earliest expected date
    on are read for the ids that reach it (every id on a current warehouse), and the whole history
    only for those behind it: a daily run reads its last days, not 15 years of prices."""
    held = [e for e in expectations or () if e.exempt is None and e.expected is not None]
    if not held:
        rows = wh.execute(f"select {id_column}, max(trade_date) from {table} group by 1").fetchall()
        return {k: v for k, v in rows}
    since = min(e.expected for e in held)
    found = dict(wh.execute(f"select {id_column}, max(trade_date) from {table} where trade_date >= ? group by 1",
                            [since]).fetchall())
    behind = sorted({e.entity for e in held} - set(found))
    if behind:
        found.update(wh.execute(
            f"select {id_column}, max(trade_date) from {table}"
            f" where {id_column} in (select unnest(?::varchar[])) group by 1", [behind]).fetchall())
    return found


# --- the expectations of each asset -------------------------------------------------------------


def index_expectations(instant: Instant, lag: int) -> list[Expectation]:
    return [expect(i, cal, instant, lag) for i, cal in sorted(reference.calendar_of_index().items())]


def stock_expectations(instant: Instant, lag: int) -> list[Expectation]:
    members = {m.symbol: m for m in reference.basket_members()}
    return [expect(s, m.calendar, instant, lag, m.listed_on) for s, m in sorted(members.items())]


def fx_expectations(instant: Instant, lag: int) -> list[Expectation]:
    return [expect(c, WEEKDAYS, instant, lag) for c in reference.fx_currencies()]


def basket_expectations(instant: Instant, lag: int) -> list[Expectation]:
    by_basket: dict[str, list[Expectation]] = {}
    for m in reference.basket_members():
        by_basket.setdefault(m.basket_id, []).append(expect(m.symbol, m.calendar, instant, lag, m.listed_on))
    return [combine(b, parts) for b, parts in sorted(by_basket.items())]


# --- check bodies (plain functions: the tests call them on a hand-made warehouse) ----------------


def check_raw_index_prices(wh, instant: Instant, lag: int, provider=None, instance=None) -> AssetCheckResult:
    return raw_guard(wh, INDEX_PRICES, provider, instance) or freshness_result(
        judge(expected := index_expectations(instant, lag), latest_dates(wh, INDEX_PRICES.table, "index_id", expected)),
        instant, lag, "indices", INDEX_PRICES.table)


def check_raw_stock_prices(wh, instant: Instant, lag: int, provider=None, instance=None) -> AssetCheckResult:
    return raw_guard(wh, STOCK_PRICES, provider, instance) or freshness_result(
        judge(expected := stock_expectations(instant, lag), latest_dates(wh, STOCK_PRICES.table, "symbol", expected)),
        instant, lag, "basket members", STOCK_PRICES.table)


def check_raw_fx_rates(wh, instant: Instant, lag: int, provider=None, instance=None) -> AssetCheckResult:
    return raw_guard(wh, FX_RATES, provider, instance) or freshness_result(
        judge(expected := fx_expectations(instant, lag), latest_dates(wh, FX_RATES.table, "currency", expected)),
        instant, lag, "currencies", FX_RATES.table)


def check_mart_index_returns(wh, instant: Instant, lag: int, provider=None, instance=None) -> AssetCheckResult:
    table = f"{MARTS_SCHEMA}.fct_index_returns"
    return mart_guard(wh, "fct_index_returns", provider, instance) or freshness_result(
        judge(expected := index_expectations(instant, lag), latest_dates(wh, table, "index_id", expected)),
        instant, lag, "indices", table)


def check_mart_basket_market_cap(wh, instant: Instant, lag: int, provider=None, instance=None) -> AssetCheckResult:
    table = f"{MARTS_SCHEMA}.fct_ai_basket_market_cap"
    return mart_guard(wh, "fct_ai_basket_market_cap", provider, instance) or freshness_result(
        judge(expected := basket_expectations(instant, lag), latest_dates(wh, table, "basket_id", expected)),
        instant, lag, "baskets", table)


# --- Dagster definitions -------------------------------------------------------------------------

_CHECKS = (
    (raw_key(INDEX_PRICES), check_raw_index_prices,
     "Each index's latest trade_date is the latest session closed on its exchange calendar."),
    (raw_key(STOCK_PRICES), check_raw_stock_prices,
     ("Each basket member's latest trade_date is the latest session closed on its seed calendar "
      "(members not listed by then are exempt).")),
    (raw_key(FX_RATES), check_raw_fx_rates,
     "Each currency's latest rate is the latest weekday closed (17:00 New York)."),
    (mart_key("fct_index_returns"), check_mart_index_returns,
     "Each index's latest row is the latest session closed on its exchange calendar."),
    (mart_key("fct_ai_basket_market_cap"), check_mart_basket_market_cap,
     "Each basket's latest row is the latest session closed on any of its listed members' calendars."),
)


def _build(asset_key, body, description: str) -> AssetChecksDefinition:
    @asset_check(
        asset=asset_key,
        name="calendar_freshness",
        description=description + " Evaluated as of the EvaluationClock resource; lag via config.",
        blocking=False,
    )
    def _check(
        context: AssetCheckExecutionContext,
        config: FreshnessConfig,
        warehouse: Warehouse,
        provider: MarketDataProvider,
        clock: EvaluationClock,
    ) -> AssetCheckResult:
        instant = clock.resolve(provider)
        with warehouse.session() as wh:
            return body(wh, instant, config.lag_sessions, provider, context.instance)

    return _check


def build_calendar_freshness_checks() -> list[AssetChecksDefinition]:
    return [_build(key, body, description) for key, body, description in _CHECKS]


def with_mart_freshness_policy(spec: AssetSpec) -> AssetSpec:
    """One policy for every asset in the marts schema, mapped over the whole code location's specs."""
    if spec.key.path[0] != MARTS_SCHEMA:
        return spec
    return spec.replace_attributes(freshness_policy=MART_FRESHNESS_POLICY)
