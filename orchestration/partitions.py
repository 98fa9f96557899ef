from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from dagster import DailyPartitionsDefinition

# The run tags Dagster documents for a run of one partition and of a partition range (a backfill run),
# which an unpartitioned step (the dbt build) reads its window from.
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def daily_partitions(
    start_date: date, last_date: date | None = None, today: date | None = None
) -> DailyPartitionsDefinition:
    """Days from `start_date` to today, or to `last_date` (a snapshot folder's last date) when given.

    Live sources: end_offset=1 exposes today's partition, so a run after the Asia close can load the day
    it is in. A snapshot has nothing after its last date: a later partition (what the UI's partition
    picker offers as "Latest") would run green and load nothing, so the partitions stop there, and
    reach it even when it lies after today (a generated sample)."""
    if last_date is None or last_date < start_date:
        return DailyPartitionsDefinition(start_date=start_date.isoformat(), end_offset=1)
    # end_date caps the set, so a day more of offset than needed is harmless; it covers the local date
    # being a day behind UTC's, which the partitions follow.
    ahead = (last_date - (today or date.today())).days
    return DailyPartitionsDefinition(
        start_date=start_date.isoformat(),
        end_date=(last_date + timedelta(days=1)).isoformat(),
        end_offset=max(1, ahead + 2),
    )


def run_window(tags: Mapping[str, str]) -> dict[str, str | None]:
    """The raw partition window of this run (None, None without partitions: recompute everything).

    Handed to dbt as env vars, not --vars: a change of --vars makes dbt re-parse the whole project.
    """
    start = tags.get(RANGE_START_TAG) or tags.get(PARTITION_TAG)
    end = tags.get(RANGE_END_TAG) or tags.get(PARTITION_TAG)
    return {"CTR_WINDOW_MIN_DATE": start, "CTR_WINDOW_MAX_DATE": end}


def window_start_of(tags: Mapping[str, str]) -> date | None:
    """The first day of the run's partition window, as the dbt step reads it (None: no window)."""
    start = run_window(tags)["CTR_WINDOW_MIN_DATE"]
    return date.fromisoformat(start) if start else None
