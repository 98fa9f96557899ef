"""The dbt project as Dagster assets: every model and seed is an asset, every dbt test a check."""
# No `from __future__ import annotations`: Dagster inspects the context annotation at decoration time.

import json
from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, BackfillPolicy
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from assets.metadata import with_table_metadata
from assets.publication import PUBLISHED_KEY, PublishedWarehouse, publish_unless_a_later_step_does
from assets.raw import WAREHOUSE_POOL
from assets.report import REPORT_KEY
from orchestration.resources.warehouse import Warehouse
from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

_GROUPS = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}


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


def run_window(tags: Mapping[str, str]) -> dict[str, str | None]:
    """The raw partition window of this run, handed to dbt as vars (the hook for incremental marts)."""
    start = tags.get(ASSET_PARTITION_RANGE_START_TAG) or tags.get(PARTITION_NAME_TAG)
    end = tags.get(ASSET_PARTITION_RANGE_END_TAG) or tags.get(PARTITION_NAME_TAG)
    return {"min_date": start, "max_date": end}


def build_dbt_assets() -> AssetsDefinition:
    # Unpartitioned on purpose: every mart is rebuilt whole from raw, so one materialisation per run is
    # the truth. Daily partitions here would record ~20 assets x every day of a backfill as events
    # (minutes of event-log writes on SQLite) for no information. When the marts become incremental
    # they take the raw partitions_def and BackfillPolicy.single_run(), with these vars as the window.
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=WarehouseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
        pool=WAREHOUSE_POOL,
        # Lets a partition range (`dagster asset materialize --partition-range`, make demo) include the
        # marts in the same single run as the raw backfill.
        backfill_policy=BackfillPolicy.single_run(),
    )
    def warehouse_dbt_models(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, published: PublishedWarehouse
    ):
        dbt_vars = run_window(context.run.tags)
        invocation = dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context)
        # Row counts, column schemas, and the marts' latest date and preview (assets/metadata.py).
        yield from with_table_metadata(invocation, warehouse)
        # Reached only when dbt succeeded (a failed build raises above). A run of some marts alone, from
        # the UI, leaves the published copy in step; in a full run the report or the publish step does it.
        if context.selected_asset_keys:
            publish_unless_a_later_step_does(context, warehouse, published, later=[REPORT_KEY, PUBLISHED_KEY])

    return warehouse_dbt_models
