"""Jobs: the full backfill, and the two daily market-close runs the schedules launch."""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetSelection, PartitionsDefinition, define_asset_job

from orchestration.datasets import DATASETS
from orchestration.reference import calendars_closing_with

MATERIALIZE_ALL_JOB = "materialize_all"
ASIA_CLOSE_JOB = "asia_close"
US_CLOSE_JOB = "us_close"


@dataclass(frozen=True)
class MarketClose:
    """A group of exchanges whose sessions are loaded together once the last of them has closed."""

    job_name: str
    calendars: tuple[str, ...]
    timezone: str
    description: str


# The exchanges of each group come from the exchanges seed (its close_group column). Tokyo and Seoul
# close at 14:30 Hong Kong time, Shanghai at 15:00, Hong Kong at 16:00.
ASIA_CLOSE = MarketClose(
    ASIA_CLOSE_JOB, calendars_closing_with("asia"), "Asia/Hong_Kong",
    "After the Asia close: the day's Shanghai/Shenzhen, Hong Kong, Tokyo and Seoul prices, FX, then every mart.",
)
US_CLOSE = MarketClose(
    US_CLOSE_JOB, calendars_closing_with("us"), "America/New_York",
    "After the New York close: the day's Nasdaq/NYSE prices, FX, then every mart.",
)
MARKET_CLOSES = (ASIA_CLOSE, US_CLOSE)


def raw_op_name(dataset_name: str) -> str:
    # Dagster names an asset's op after its key path joined by "__".
    return f"raw__{dataset_name}"


def raw_run_config(calendars: list[str] | tuple[str, ...]) -> dict:
    """Run config restricting every raw asset to the ids on `calendars` (FX always loads)."""
    return {"ops": {raw_op_name(d.name): {"config": {"calendars": list(calendars)}} for d in DATASETS}}


def build_jobs(partitions_def: PartitionsDefinition):
    # The close jobs select everything, not just the raw assets: the marts are rebuilt whole from raw
    # on every run, and the seeds come along so a first scheduled run on an empty warehouse works.
    return [
        define_asset_job(
            MATERIALIZE_ALL_JOB,
            selection=AssetSelection.all(),
            partitions_def=partitions_def,
            description="Every raw asset and dbt model for a partition or a range (a range runs as one backfill run).",
        ),
        *[
            define_asset_job(
                close.job_name,
                selection=AssetSelection.all(),
                partitions_def=partitions_def,
                description=close.description,
                config=raw_run_config(close.calendars),
            )
            for close in MARKET_CLOSES
        ],
    ]
