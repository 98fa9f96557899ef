"""The code location: one Definitions per concern, merged here from the settings in one call.

| concern   | contributes                                              | home                          |
|-----------|----------------------------------------------------------|-------------------------------|
| raw       | the five daily-partitioned raw assets                    | assets/raw.py                 |
| dbt       | every dbt model, seed and test, the dbt resource, and the exchange sessions dbt reads | assets/dbt.py, assets/exchange_sessions.py |
| checks    | the Python asset checks and their clock                  | assets/checks/                |
| report    | reports/headline (renders marts/rpt_headline) and where its files go | assets/report.py |
| publish   | published/warehouse and where the copy goes              | assets/publish.py             |
| schedules | the jobs and the two market-close schedules              | orchestration/schedules.py    |
| resources | the provider and the warehouse, chosen by the settings   | orchestration/resources/      |
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

from dagster import Definitions, PreviewWarning, in_process_executor

from assets.checks import check_definitions, with_mart_freshness_policy
from assets.dbt import build_dbt_assets, build_dbt_resource
from assets.exchange_sessions import exchange_sessions
from assets.publish import publish_definitions
from assets.raw import raw_definitions
from assets.report import report_definitions
from orchestration import preflight
from orchestration.partitions import daily_partitions
from orchestration.resources import build_provider, build_warehouse
from orchestration.schedules import schedule_definitions
from orchestration.settings import Settings, get_settings


def dbt_executable() -> str:
    # The venv's dbt, even when the venv is not activated (make targets call .venv/bin/... directly).
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def dbt_definitions(settings: Settings) -> Definitions:
    return Definitions(
        assets=[exchange_sessions, build_dbt_assets(settings)],
        resources={"dbt": build_dbt_resource(settings, dbt_executable())},
    )


def resource_definitions(settings: Settings) -> Definitions:
    return Definitions(
        resources={"provider": build_provider(settings), "warehouse": build_warehouse(settings)},
        # DuckDB takes one writer process; the multiprocess executor would open the file from several.
        executor=in_process_executor,
    )


def build_definitions(settings: Settings) -> Definitions:
    # A broken seed or snapshot path stops the code location from loading, naming the problem, rather
    # than failing a run minutes later.
    preflight.check(settings)
    partitions_def = daily_partitions(settings.start_date)
    # map_asset_specs is marked preview; its notice would reach every `make ui` log and CLI run.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        return _merged(settings, partitions_def)


def _merged(settings: Settings, partitions_def) -> Definitions:
    return Definitions.merge(
        raw_definitions(partitions_def),
        dbt_definitions(settings),
        check_definitions(settings),
        report_definitions(settings),
        publish_definitions(settings),
        schedule_definitions(partitions_def, settings),
        resource_definitions(settings),
    ).map_asset_specs(func=with_mart_freshness_policy)


__all__ = ["build_definitions", "build_provider", "build_warehouse", "dbt_executable", "defs"]

defs = build_definitions(get_settings())
