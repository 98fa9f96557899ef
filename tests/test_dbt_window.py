"""The partition window through Dagster: a backfill is one run that records each dbt asset once, and a
daily schedule tick loads one raw partition and recomputes the incremental marts from that day only.

Measured on a one-year backfill of the sample (2025-01-02..2026-01-02, docs/operations.md): 2,473
events, of which 1,830 raw materialisations (5 assets x 366 days), 23 dbt materialisations and ~620
others (steps, checks, planned events). Here the backfill is the session's shared build of the sample
slice (tests/sample_slice.py: 2025-11-03..2026-01-16 in one run, built once for several modules); the
tick and the full refresh run on a copy of it."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest
from dagster import DagsterEventType, build_schedule_context, instance_for_test, materialize

from assets.schedules.jobs import ASIA_CLOSE_JOB
from orchestration.definitions import build_definitions
from orchestration.settings import Settings
from tests.sample_slice import SLICE_END, SLICE_START, sample_warehouse, write_slice

pytestmark = pytest.mark.integration

# The backfill ends on Friday SLICE_END; the tick is the next Monday's Asia close (Tokyo, Seoul, Taipei,
# Shanghai and Hong Kong trade; New York is closed for Martin Luther King Jr. Day).
TICK_DAY = date(2026, 1, 19)
# Before the tick's window: a row the tick must not recompute.
SENTINEL_DAY = date(2026, 1, 16)
# Two and a half months of daily partitions x 30 dbt assets would be ~2,200 materialisation events if
# the dbt assets were partitioned; unpartitioned, a backfill records each asset once, whatever its length
# (about 1,030 events in all with their checks).
MAX_BACKFILL_EVENTS = 1_300


@pytest.fixture(scope="module")
def ticked(tmp_path_factory):
    shared = sample_warehouse(tmp_path_factory)
    assert shared.first_run_success
    assert SENTINEL_DAY <= SLICE_END < TICK_DAY
    with shared.instance() as home:
        backfill_events = home.all_logs(shared.first_run_id)
    root = tmp_path_factory.mktemp("window")
    # The tick reads its day from a snapshot that has it; the warehouse holds the backfill up to SLICE_END.
    snapshot = write_slice(root / "snapshot", SLICE_START, TICK_DAY)
    env = {**shared.copy_to(root), "CTR_SNAPSHOT_DIR": str(snapshot)}
    with instance_for_test() as instance:
        settings = Settings(**env)
        defs = build_definitions(settings)
        with duckdb.connect(str(settings.duckdb_database)) as conn:
            # Nothing of the tick's day is loaded yet: what it loads and computes is its own.
            assert conn.execute("select count(*) from raw.index_prices where trade_date >= ?", [TICK_DAY]).fetchone()[0] == 0
            # A sentinel in a row the tick must not recompute (dated before its window).
            updated = conn.execute(
                "update marts.fct_index_returns set close = -1 where trade_date = ?", [SENTINEL_DAY]).fetchone()[0]
            assert updated > 0
        schedule = defs.resolve_schedule_def(f"{ASIA_CLOSE_JOB}_schedule")
        tick = datetime(TICK_DAY.year, TICK_DAY.month, TICK_DAY.day, 17, 30, tzinfo=ZoneInfo("Asia/Hong_Kong"))
        context = build_schedule_context(
            instance=instance, scheduled_execution_time=tick, repository_def=defs.get_repository_def()
        )
        (request,) = schedule.evaluate_tick(context).run_requests
        result = defs.resolve_job_def(ASIA_CLOSE_JOB).execute_in_process(
            instance=instance, partition_key=request.partition_key, run_config=request.run_config,
            tags=request.tags, raise_on_error=False,
        )
        run_logs = instance.all_logs(result.run_id)
        tick_marts = read_marts(settings)
        # The full-refresh path: the dbt step alone with its config, as from the UI's launchpad.
        dbt_assets = next(a for a in defs.assets if getattr(a, "op", None) and a.op.name == "warehouse_dbt_models")
        refreshed = materialize(
            [dbt_assets], resources=defs.resources, instance=instance, raise_on_error=False,
            run_config={"ops": {"warehouse_dbt_models": {"config": {"full_refresh": True}}}},
        )
        yield settings, backfill_events, request, result, run_logs, tick_marts, refreshed


def read_marts(settings: Settings) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(settings.duckdb_database), read_only=True) as conn:
        return {
            table: conn.execute(f"select * from marts.{table}").df()
            for table in ("fct_index_returns", "fct_relative_performance", "fct_ai_basket_members_daily",
                          "fct_ai_basket_market_cap", "fct_ai_market_cap_ratio")
        }


def test_a_backfill_is_one_run_recording_each_dbt_asset_once(ticked):
    _, events, *_ = ticked
    materialisations = [e for e in events if e.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION]
    raw = [e for e in materialisations if e.dagster_event.asset_key.path[0] == "raw"]
    dbt = [e for e in materialisations if e.dagster_event.asset_key.path[0] != "raw"]
    # The raw assets are partitioned (one event per asset and day); every dbt asset is recorded once.
    assert len(dbt) == len({e.dagster_event.asset_key for e in dbt})
    print(f"backfill: {len(events)} events, {len(raw)} raw materialisations, {len(dbt)} dbt")
    assert len(events) - len(raw) < MAX_BACKFILL_EVENTS, len(events)


def test_the_daily_tick_loads_one_partition_and_recomputes_the_marts_from_that_day(ticked):
    settings, _, request, result, run_logs, tick_marts, _ = ticked
    assert request.partition_key == TICK_DAY.isoformat()
    assert result.success
    logs = "\n".join(e.user_message for e in run_logs)
    assert f"incremental models recompute from {TICK_DAY}" in logs
    with duckdb.connect(str(settings.duckdb_database), read_only=True) as conn:
        loaded = conn.execute("select count(*) from raw.index_prices where trade_date = ?", [TICK_DAY]).fetchone()[0]
    assert loaded > 0
    latest = {table: frame.trade_date.max().date() for table, frame in tick_marts.items()}
    assert latest == dict.fromkeys(latest, TICK_DAY)
    # Rows dated before the window were left alone (the marts as the tick left them).
    returns = tick_marts["fct_index_returns"]
    assert set(returns.loc[returns.trade_date == pd.Timestamp(SENTINEL_DAY), "close"]) == {-1.0}


def test_a_full_refresh_from_the_dbt_step_config_recomputes_every_row(ticked):
    settings, *_, tick_marts, refreshed = ticked
    assert refreshed.success
    after = read_marts(settings)
    # The sentinel the tick left alone is recomputed; no row appears or disappears.
    assert not (after["fct_index_returns"].close == -1).any()
    assert {t: len(frame) for t, frame in after.items()} == {t: len(frame) for t, frame in tick_marts.items()}
