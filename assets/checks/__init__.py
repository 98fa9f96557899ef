"""Every asset check of the project beyond the dbt tests: calendar freshness, totals, value sanity.

| module       | what it checks                                                       | severity       |
|--------------|----------------------------------------------------------------------|----------------|
| freshness    | latest trade_date = latest closed session per id (raw + marts)       | WARN           |
|              | marts rebuilt within 26 h (Dagster's last-update checks)             | WARN           |
| totals       | basket = sum of members, 1Y change, FX coverage, members priced,     | ERROR / WARN   |
|              | STAR50/HSTECH snapshot counts and weights                            |                |
| sanity       | no zero/negative prices or rates (blocking), big daily moves         | ERROR / WARN   |
"""

from __future__ import annotations

from dagster import AssetChecksDefinition, SensorDefinition

from assets.checks.freshness import (
    build_calendar_freshness_checks,
    build_last_update_sensor,
    build_mart_last_update_checks,
)
from assets.checks.sanity import build_sanity_checks
from assets.checks.totals import build_totals_checks
from orchestration.settings import Settings


def build_asset_checks(settings: Settings) -> list[AssetChecksDefinition]:
    # The checks read the warehouse and the provider through resources, so they are the same in every
    # mode; only the EvaluationClock resource (set by the definitions) differs between snapshot and live.
    del settings
    return [
        *build_calendar_freshness_checks(),
        *build_mart_last_update_checks(),
        *build_totals_checks(),
        *build_sanity_checks(),
    ]


def build_check_sensors(checks: list[AssetChecksDefinition]) -> list[SensorDefinition]:
    last_update = [c for c in checks if any(k.name == "freshness_check" for k in c.check_keys)]
    return [build_last_update_sensor(last_update)] if last_update else []


__all__ = ["build_asset_checks", "build_check_sensors"]
