from __future__ import annotations

from dagster import AssetSelection, PartitionsDefinition, define_asset_job

MATERIALIZE_ALL_JOB = "materialize_all"


def build_jobs(partitions_def: PartitionsDefinition):
    return [
        define_asset_job(
            MATERIALIZE_ALL_JOB,
            selection=AssetSelection.all(),
            partitions_def=partitions_def,
            description="Every raw asset and dbt model for a partition or a range (a range runs as one backfill run).",
        )
    ]
