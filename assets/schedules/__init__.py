"""Daily schedules, one per market close, in the exchanges' own time zone.

Each tick asks the exchange calendars which of its exchanges hold a session on the tick's local date.
Once all of those have closed, it requests the partition of that date (the exchange-local trading
date the rows carry), restricted to the ids of exactly those calendars; with none (New Year's Day in
every Asian market, the Fourth of July) or while one is still open, it skips, saying why.
On Lunar New Year Tokyo still trades, so the Asia run loads Tokyo alone. Dates beyond what
exchange_calendars knows (XSHG after 2026) are taken to be weekday sessions, and the run is tagged.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    PartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    definitions,
    schedule,
    sensor,
)

from assets.schedules.jobs import MARKET_CLOSES, MarketClose, build_jobs, raw_run_config
from orchestration.calendars import session_on
from orchestration.composition import current
from orchestration.resources.leases import fail_abandoned
from orchestration.resources.warehouse import Warehouse

# 17:30 local: the last exchange of each group has closed (HK 16:00, NY 16:00), with time for the
# sources to publish the close.
CLOSE_CRON = "30 17 * * 1-5"
CALENDARS_TAG = "ctr/calendars"
FALLBACK_TAG = "ctr/calendar_fallback"


def evaluate_close(
    close: MarketClose, tick: datetime, first_partition: date | None = None, last_partition: date | None = None
) -> RunRequest | SkipReason:
    """The run for the sessions of `close.calendars` on the tick's local date that closed by the tick."""
    tick = tick if tick.tzinfo else tick.replace(tzinfo=UTC)
    local = tick.astimezone(ZoneInfo(close.timezone)).date()
    at = f"{tick.astimezone(ZoneInfo(close.timezone)):%Y-%m-%d %H:%M %Z}"
    closed, open_, fallbacks = [], [], []
    for calendar in close.calendars:
        session = session_on(calendar, local)
        if session is None:
            continue
        if session.fallback:
            fallbacks.append(session.fallback)
        (closed if session.close <= tick else open_).append(calendar)
    if open_:
        # Wait for the last close: the run key is per day, so a partial run now would stand in for the
        # full one later.
        return SkipReason(f"{local}: the {', '.join(open_)} session(s) have not closed yet at {at}.")
    if not closed:
        return SkipReason(f"{local}: no session on {', '.join(close.calendars)} (holiday or weekend); nothing to load.")
    if first_partition is not None and local < first_partition:
        return SkipReason(f"{local} is before the first partition {first_partition} (CTR_START_DATE).")
    if last_partition is not None and local > last_partition:
        return SkipReason(f"{local} is after the last partition {last_partition}, the snapshot folder's last date;"
                          " a snapshot has no new days to load.")
    tags = {CALENDARS_TAG: ",".join(closed)}
    if fallbacks:
        tags[FALLBACK_TAG] = "; ".join(fallbacks)[:1000]
    return RunRequest(
        run_key=f"{close.job_name}:{local.isoformat()}",
        partition_key=local.isoformat(),
        run_config=raw_run_config(closed),
        tags=tags,
    )


def _build_schedule(
    close: MarketClose, first_partition: date | None, last_partition: date | None, running: bool
) -> ScheduleDefinition:
    @schedule(
        name=f"{close.job_name}_schedule",
        job_name=close.job_name,
        cron_schedule=CLOSE_CRON,
        execution_timezone=close.timezone,
        description=f"{close.description} Runs 17:30 {close.timezone}, Mon-Fri; skips days on which none of "
        f"{', '.join(close.calendars)} traded.",
        default_status=DefaultScheduleStatus.RUNNING if running else DefaultScheduleStatus.STOPPED,
    )
    def _schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        tick = context.scheduled_execution_time or datetime.now(UTC)
        result = evaluate_close(close, tick, first_partition, last_partition)
        if isinstance(result, SkipReason):
            context.log.info(result.skip_message)
        return result

    return _schedule


def build_schedules(partitions_def: PartitionsDefinition, running: bool = False) -> list[ScheduleDefinition]:
    """`running`: on by default against live sources; a snapshot folder has no new days to load."""
    start, end = getattr(partitions_def, "start", None), getattr(partitions_def, "end", None)
    first_partition = start.date() if isinstance(start, datetime) else None
    # A snapshot's partitions end at its last date (the end is exclusive).
    last_partition = (end - timedelta(days=1)).date() if isinstance(end, datetime) else None
    return [_build_schedule(close, first_partition, last_partition, running) for close in MARKET_CLOSES]


@sensor(
    name="abandoned_runs",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Under the daemon (`make ui`, a deployment), every 30 s: marks failed the runs whose process died"
    " while writing the warehouse (their lease is free but still names them; orchestration/resources/leases.py),"
    " so the UI shows them failed and the run queue moves on. Dagster's run monitoring cannot tell: the default"
    " run launcher has no worker health check, and a CLI run was not launched by it.",
)
def abandoned_runs(context: SensorEvaluationContext, warehouse: Warehouse) -> SkipReason:
    lines = fail_abandoned(context.instance, warehouse.lease_folder, "the daemon's abandoned_runs sensor")
    for line in lines:
        context.log.warning(line)
    return SkipReason("; ".join(lines) or "no run died while writing the warehouse")


@definitions
def defs() -> Definitions:
    """The jobs, the two market-close schedules (on by default in live mode only) and the sensor that fails
    the runs that died writing the warehouse."""
    composition = current()
    settings, partitions_def = composition.settings, composition.partitions_def
    return Definitions(
        jobs=build_jobs(partitions_def),
        schedules=build_schedules(partitions_def, running=settings.source == "live"),
        sensors=[abandoned_runs],
    )
