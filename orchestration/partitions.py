from __future__ import annotations

from datetime import date

from dagster import DailyPartitionsDefinition


def daily_partitions(start_date: date) -> DailyPartitionsDefinition:
    # end_offset=1 exposes today's partition, so a run after the Asia close can load the day it is in.
    return DailyPartitionsDefinition(start_date=start_date.isoformat(), end_offset=1)
