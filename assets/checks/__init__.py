"""Every asset check of the project beyond the dbt tests: calendar freshness, totals, value sanity.

| module       | what it checks                                                       | severity       |
|--------------|----------------------------------------------------------------------|----------------|
| freshness    | latest trade_date = latest closed session per id (raw + marts)       | WARN           |
| totals       | basket = sum of members, 1Y change, FX coverage, members priced,     | ERROR / WARN   |
|              | STAR50/HSTECH snapshot counts and weights                            |                |
| sanity       | no zero/negative prices or rates (blocking), big daily moves         | ERROR / WARN   |

Dagster's FreshnessPolicy (with_mart_freshness_policy) adds the wall-clock view on the marts.
"""

from __future__ import annotations

from dagster import AssetChecksDefinition

from assets.checks.freshness import build_calendar_freshness_checks, with_mart_freshness_policy
from assets.checks.sanity import build_sanity_checks
from assets.checks.totals import build_totals_checks
from orchestration.settings import Settings


def build_asset_checks(settings: Settings) -> list[AssetChecksDefinition]:
    # The checks read the warehouse and the provider through resources, so they are the same in every
    # mode; only the EvaluationClock resource (set by the definitions) differs between snapshot and live.
    del settings
    return [
        *build_calendar_freshness_checks(),
        *build_totals_checks(),
        *build_sanity_checks(),
    ]


__all__ = ["build_asset_checks", "with_mart_freshness_policy"]
