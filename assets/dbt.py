"""The dbt project as Dagster assets: every model, seed and snapshot is an asset, every test a check."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, BackfillPolicy, PartitionsDefinition
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from assets.raw import WAREHOUSE_POOL
from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

_GROUPS = {"seed": "reference", "staging": "staging", "intermediate": "intermediate", "marts": "marts"}


class WarehouseTranslator(DagsterDbtTranslator):
    """Keys follow the warehouse schema (`marts/fct_index_returns`), so the UI reads like the database."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return _GROUPS["seed"]
        layer = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else None
        return _GROUPS.get(layer, "marts")


def build_dbt_assets(partitions_def: PartitionsDefinition) -> AssetsDefinition:
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=WarehouseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
        partitions_def=partitions_def,
        # The marts are rebuilt whole for now; the window goes in as vars so they can turn incremental.
        backfill_policy=BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def warehouse_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
        window = context.partition_time_window
        dbt_vars = {
            "min_date": window.start.date().isoformat(),
            "max_date": (window.end - timedelta(days=1)).date().isoformat(),
        }
        yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()

    return warehouse_dbt_models
