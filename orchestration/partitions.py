from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from dagster import DailyPartitionsDefinition

# The run tags Dagster documents for a run of one partition and of a partition range (a backfill run),
# which an unpartitioned step (the dbt build) reads its window from.
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def daily_partitions(start_date: date) -> DailyPartitionsDefinition:
    # end_offset=1 exposes today's partition, so a run after the Asia close can load the day it is in.
    return DailyPartitionsDefinition(start_date=start_date.isoformat(), end_offset=1)


def run_window(tags: Mapping[str, str]) -> dict[str, str | None]:
    """The raw partition window of this run (None, None without partitions: recompute everything).

    Handed to dbt as env vars, not --vars: a change of --vars makes dbt re-parse the whole project.
    """
    start = tags.get(RANGE_START_TAG) or tags.get(PARTITION_TAG)
    end = tags.get(RANGE_END_TAG) or tags.get(PARTITION_TAG)
    return {"CTR_WINDOW_MIN_DATE": start, "CTR_WINDOW_MAX_DATE": end}
