"""Every asset check of the project beyond the dbt tests: calendar freshness, totals, plausibility.

| module       | what it checks                                                       | severity       |
|--------------|----------------------------------------------------------------------|----------------|
| freshness    | latest trade_date = latest closed session per id (raw + marts)       | WARN           |
| totals       | basket = sum of members, 1Y change, FX coverage, members priced,     | ERROR / WARN   |
|              | STAR50/HSTECH snapshot counts and weights                            |                |
| plausibility | every headline quantity day on day; blocks publication (audits)     | ERROR blocking |
| source_reconciliation | STAR50/HSTECH closes agree across akshare and yfinance (live) | WARN           |

Dagster's FreshnessPolicy (with_mart_freshness_policy) adds the wall-clock view on the marts.
"""

from __future__ import annotations

from dagster import AssetChecksDefinition, Definitions, definitions

from assets.checks.freshness import build_calendar_freshness_checks, with_mart_freshness_policy
from assets.checks.plausibility import build_plausibility_checks
from assets.checks.source_reconciliation import build_source_reconciliation_check
from assets.checks.totals import build_totals_checks
from orchestration.composition import current
from orchestration.resources.clock import EvaluationClock
from orchestration.settings import Settings


def build_asset_checks(settings: Settings) -> list[AssetChecksDefinition]:
    # The checks read the warehouse and the provider through resources; only the EvaluationClock
    # resource differs between modes. Cross-source reconciliation needs two live sources.
    return [
        *build_calendar_freshness_checks(),
        *build_totals_checks(),
        *build_plausibility_checks(),
        *([build_source_reconciliation_check()] if settings.source == "live" else []),
    ]


@definitions
def defs() -> Definitions:
    settings = current().settings
    # A snapshot is judged as of the end of its last date (so the bundled sample is fresh), live data
    # as of now; the snapshot's end is read when a check runs, so a broken file fails a check, not the load.
    clock = EvaluationClock(data_end=settings.source == "snapshot")
    return Definitions(asset_checks=build_asset_checks(settings), resources={"clock": clock})


__all__ = ["build_asset_checks", "with_mart_freshness_policy"]
