"""The market-close schedules, evaluated at chosen instants as the daemon would (no runs launched)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import RunRequest, SkipReason, build_schedule_context, instance_for_test, validate_run_config

from assets.schedules import CALENDARS_TAG, FALLBACK_TAG, evaluate_close
from assets.schedules.jobs import ASIA_CLOSE, ASIA_CLOSE_JOB, MATERIALIZE_ALL_JOB, US_CLOSE, US_CLOSE_JOB
from orchestration.datasets import DATASETS
from orchestration.definitions import build_definitions
from orchestration.settings import SAMPLE_DIR, Settings

HKT = ZoneInfo("Asia/Hong_Kong")
NYT = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    database = tmp_path_factory.mktemp("sched") / "w.duckdb"
    return build_definitions(Settings(DUCKDB_DATABASE=database, CTR_SOURCE="snapshot", CTR_START_DATE="2024-01-01",
                                      CTR_SNAPSHOT_DIR=SAMPLE_DIR))


@pytest.fixture(scope="module")
def instance():
    with instance_for_test() as instance:
        yield instance


def tick(defs, instance, name: str, when: datetime):
    schedule = defs.resolve_schedule_def(name)
    context = build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
    )
    return schedule.evaluate_tick(context)


def only_request(result) -> RunRequest:
    assert result.skip_message is None, result.skip_message
    assert len(result.run_requests) == 1
    return result.run_requests[0]


def calendars_of(request: RunRequest) -> list[str]:
    configs = {op: cfg["config"]["calendars"] for op, cfg in request.run_config["ops"].items()}
    # Every raw asset is restricted the same way (FX ignores it: it has no calendar).
    assert set(configs) == {f"raw__{d.name}" for d in DATASETS}
    values = list(configs.values())
    assert all(v == values[0] for v in values)
    return values[0]


def test_schedules_have_explicit_time_zones_and_weekday_crons(defs):
    asia, us = defs.resolve_schedule_def("asia_close_schedule"), defs.resolve_schedule_def("us_close_schedule")
    assert (asia.cron_schedule, asia.execution_timezone, asia.job_name) == ("30 17 * * 1-5", "Asia/Hong_Kong", ASIA_CLOSE_JOB)
    assert (us.cron_schedule, us.execution_timezone, us.job_name) == ("30 17 * * 1-5", "America/New_York", US_CLOSE_JOB)
    for job in (ASIA_CLOSE_JOB, US_CLOSE_JOB, MATERIALIZE_ALL_JOB):
        assert defs.resolve_job_def(job).partitions_def is not None


def test_asia_after_close_requests_the_day_for_all_four_exchanges(defs, instance):
    request = only_request(tick(defs, instance, "asia_close_schedule", datetime(2025, 3, 4, 17, 30, tzinfo=HKT)))
    assert request.partition_key == "2025-03-04"
    assert calendars_of(request) == ["XSHG", "XHKG", "XKRX", "XTKS"]
    assert request.tags[CALENDARS_TAG] == "XSHG,XHKG,XKRX,XTKS"
    assert FALLBACK_TAG not in request.tags
    assert request.run_key == "asia_close:2025-03-04"
    # The config is valid for the job the schedule launches.
    assert validate_run_config(defs.resolve_job_def(ASIA_CLOSE_JOB), request.run_config)


def test_asia_before_the_last_close_skips(defs, instance):
    morning = tick(defs, instance, "asia_close_schedule", datetime(2025, 3, 4, 10, 0, tzinfo=HKT))
    assert not morning.run_requests and "have not closed yet" in morning.skip_message
    # Tokyo, Seoul and Shanghai have closed by 15:30 Hong Kong time, Hong Kong has not.
    afternoon = tick(defs, instance, "asia_close_schedule", datetime(2025, 3, 4, 15, 30, tzinfo=HKT))
    assert not afternoon.run_requests
    assert "XHKG session(s) have not closed yet" in afternoon.skip_message


@pytest.mark.parametrize(
    ("day", "traded"),
    [
        # Korean substitute holiday for Independence Movement Day
        pytest.param(date(2025, 3, 3), ["XSHG", "XHKG", "XTKS"], id="korean-holiday-loads-the-others"),
        # Shanghai, Hong Kong and Seoul closed for the Lunar New Year; Tokyo trades
        pytest.param(date(2025, 1, 29), ["XTKS"], id="lunar-new-year-loads-tokyo-alone"),
    ],
)
def test_asia_holiday_in_some_markets_loads_the_others(defs, instance, day, traded):
    at = datetime(day.year, day.month, day.day, 17, 30, tzinfo=HKT)
    request = only_request(tick(defs, instance, "asia_close_schedule", at))
    assert request.partition_key == day.isoformat()
    assert calendars_of(request) == traded


def test_asia_skips_when_no_exchange_traded(defs, instance):
    result = tick(defs, instance, "asia_close_schedule", datetime(2025, 1, 1, 17, 30, tzinfo=HKT))
    assert not result.run_requests
    assert "2025-01-01: no session on XSHG, XHKG, XKRX, XTKS" in result.skip_message


def test_us_after_close_requests_the_new_york_date(defs, instance):
    request = only_request(tick(defs, instance, "us_close_schedule", datetime(2025, 7, 7, 17, 30, tzinfo=NYT)))
    assert request.partition_key == "2025-07-07"
    assert calendars_of(request) == ["XNYS", "XNAS"]
    assert validate_run_config(defs.resolve_job_def(US_CLOSE_JOB), request.run_config)
    # Late in the New York evening it is already the next day in UTC: the partition stays the local date.
    late = only_request(tick(defs, instance, "us_close_schedule", datetime(2025, 7, 7, 23, 30, tzinfo=NYT)))
    assert late.partition_key == "2025-07-07"


def test_us_independence_day_skips_and_the_early_close_before_it_runs(defs, instance):
    holiday = tick(defs, instance, "us_close_schedule", datetime(2025, 7, 4, 17, 30, tzinfo=NYT))
    assert not holiday.run_requests and "2025-07-04: no session on XNYS, XNAS" in holiday.skip_message
    # 2025-07-03 closed at 13:00: a 14:00 evaluation already has the day's closes.
    early = only_request(tick(defs, instance, "us_close_schedule", datetime(2025, 7, 3, 14, 0, tzinfo=NYT)))
    assert early.partition_key == "2025-07-03"
    before = tick(defs, instance, "us_close_schedule", datetime(2025, 7, 7, 15, 0, tzinfo=NYT))
    assert not before.run_requests and "have not closed yet" in before.skip_message


def test_us_schedule_ignores_asian_holidays(defs, instance):
    request = only_request(tick(defs, instance, "us_close_schedule", datetime(2025, 1, 29, 17, 30, tzinfo=NYT)))
    assert request.partition_key == "2025-01-29"


def test_shanghai_after_2026_falls_back_to_weekdays_and_says_so():
    # exchange_calendars records XSHG holidays only through 2026; the run still happens, tagged.
    result = evaluate_close(ASIA_CLOSE, datetime(2027, 1, 5, 17, 30, tzinfo=HKT))
    assert isinstance(result, RunRequest)
    assert result.partition_key == "2027-01-05"
    assert "XSHG" in calendars_of(result)
    assert "XSHG has no calendar data for 2027-01-05" in result.tags[FALLBACK_TAG]
    weekend = evaluate_close(ASIA_CLOSE, datetime(2027, 1, 9, 17, 30, tzinfo=HKT))
    assert isinstance(weekend, SkipReason)


def test_days_before_the_first_partition_are_skipped():
    result = evaluate_close(US_CLOSE, datetime(2023, 12, 29, 17, 30, tzinfo=NYT), first_partition=date(2024, 1, 1))
    assert isinstance(result, SkipReason) and "before the first partition" in result.skip_message


def test_days_after_the_snapshots_last_date_are_skipped(defs, instance):
    """The bundled sample ends on Friday 2026-11-20: its partitions end there, and a schedule switched on
    with it asks for no later partition (Monday's would not exist)."""
    result = tick(defs, instance, f"{US_CLOSE_JOB}_schedule", datetime(2026, 11, 23, 17, 30, tzinfo=NYT))
    assert "2026-11-23 is after the last partition 2026-11-20" in result.skip_message
    friday = tick(defs, instance, f"{US_CLOSE_JOB}_schedule", datetime(2026, 11, 20, 17, 30, tzinfo=NYT))
    assert only_request(friday).partition_key == "2026-11-20"
