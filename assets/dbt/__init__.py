"""The dbt project as Dagster assets: every model and seed is an asset, every dbt test a check."""
# No `from __future__ import annotations`: Dagster inspects the context annotation at decoration time.

import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Config,
    Definitions,
    definitions,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    dbt_assets,
)
from pydantic import Field

from assets.metadata import with_table_metadata
from assets.publication import PUBLISHED_KEY, publish_unless_a_later_step_does
from orchestration import audit_log
from orchestration.composition import current
from orchestration.dbt_project import dbt_project, environment, prepare_manifest
from orchestration.partitions import run_window
from orchestration.resources.warehouse import Warehouse
from orchestration.settings import PROJECT_ROOT
from orchestration.settings import Settings as Settings

_GROUPS = {"staging": "staging", "intermediate": "intermediate", "marts": "marts", "reports": "reports"}


class WarehouseTranslator(DagsterDbtTranslator):
    """Keys follow the warehouse schema (`marts/fct_index_returns`), so the UI reads like the database."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props["fqn"]
        return _GROUPS.get(fqn[1] if len(fqn) > 2 else "", "marts")


class WarehouseDbtCliResource(DbtCliResource):
    """dbt with the warehouse settings in its environment: profiles.yml reads plain env vars."""

    env: dict[str, str] = Field(default_factory=dict)

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:
        with environment(self.env):
            return super().cli(args, **kwargs)


# dbt ends with the run that started it, and answers dagster-dbt's version question at once (the script
# says how).
DBT_CHILD = PROJECT_ROOT / "scripts" / "dbt-child"


def dbt_executable() -> str:
    # The venv's dbt, even when the venv is not activated (make targets call .venv/bin/... directly).
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def build_dbt_resource(warehouse: Warehouse) -> WarehouseDbtCliResource:
    return WarehouseDbtCliResource(
        project_dir=dbt_project, target=warehouse.dbt_target,
        env={**warehouse.dbt_env(), "CTR_DBT": dbt_executable()}, dbt_executable=str(DBT_CHILD),
    )


class DbtBuildConfig(Config):
    # Rebuild the incremental models whole (`dbt build --full-refresh`), e.g. after a model's SQL changed.
    full_refresh: bool = False
    # dbt's unit tests check the models' SQL on fixed fixture rows, not the data, so they give the same
    # answer on every run: `make test` runs them (tests/test_dbt_unit_tests.py) and a run skips them,
    # as dbt advises for production.
    unit_tests: bool = False
    report_as_of: str | None = Field(
        default=None,
        description="ISO date (YYYY-MM-DD) the headline report models are as of; default: the latest date in the marts.",
    )

    def build_args(self) -> list[str]:
        return [
            "build",
            *(["--full-refresh"] if self.full_refresh else []),
            *([] if self.unit_tests else ["--exclude-resource-type", "unit_test"]),
        ]

    def report_env(self) -> dict[str, str | None]:
        """The report date for dbt (macros/report_as_of.sql), checked here so a typo fails before dbt runs."""
        value = (self.report_as_of or "").strip()
        if value:
            try:
                value = date.fromisoformat(value).isoformat()
            except ValueError as exc:
                raise ValueError(f"report_as_of must be an ISO date (YYYY-MM-DD), got {self.report_as_of!r}") from exc
        return {"CTR_REPORT_AS_OF": value or None}


def build_dbt_assets(warehouse: Warehouse) -> AssetsDefinition:
    prepare_manifest(warehouse)

    # Unpartitioned on purpose, although the incremental models recompute only the run's window (the
    # rows from its first day on): a partitioned asset records one materialisation per partition, so a
    # one-year backfill would write ~20 models x 365 days of events for no information. The window
    # comes from the run's partition tags instead (run_window), so a schedule tick or a backfill
    # still recomputes just what it loaded.
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=WarehouseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
        # Lets a partition range (`dagster asset materialize --partition-range`, make demo) include the
        # marts in the same single run as the raw backfill.
        backfill_policy=BackfillPolicy.single_run(),
    )
    def warehouse_dbt_models(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: Warehouse,
        config: DbtBuildConfig,
    ):
        window = {**run_window(context.run.tags), **config.report_env()}
        context.log.info(
            "dbt build: full refresh" if config.full_refresh
            else f"dbt build: incremental models recompute from {window['CTR_WINDOW_MIN_DATE']}"
            if window["CTR_WINDOW_MIN_DATE"] else "dbt build: no partition window, every row is recomputed"
        )
        # On a lake another run's build may be rewriting the same tables: the two take turns.
        with warehouse.exclusive("transform"):
            # What publication compares (audit_log.rewritten_since), recorded first: a
            # build that fails halfway has rewritten from there too.
            start = window["CTR_WINDOW_MIN_DATE"]
            with warehouse.session() as wh:
                audit_log.record_rewrite(wh, context.run.run_id,
                                         None if config.full_refresh or not start else date.fromisoformat(start))
            with environment(window):
                invocation = dbt.cli(config.build_args(), context=context)
            # Row counts, column schemas, and the marts' latest date and preview (assets/metadata.py).
            yield from with_table_metadata(invocation, warehouse)
        # Reached only when dbt succeeded (a failed build raises above). A run of some marts alone, from
        # the UI, leaves the published copy in step; in a full run the publish step does it.
        if context.selected_asset_keys:
            publish_unless_a_later_step_does(context, warehouse, later=[PUBLISHED_KEY])

    return warehouse_dbt_models



@definitions
def defs() -> Definitions:
    warehouse = current().warehouse
    return Definitions(assets=[build_dbt_assets(warehouse)], resources={"dbt": build_dbt_resource(warehouse)})
