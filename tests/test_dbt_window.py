"""The partition window through Dagster: a backfill is one run that records each dbt asset once, and a
daily schedule tick loads one raw partition and recomputes the incremental marts from that day only.

Measured on a one-year backfill of the sample (2025-01-02..2026-01-02, docs/operations.md): 2,473
events, of which 1,830 raw materialisations (5 assets x 366 days), 23 dbt materialisations and ~620
others (steps, checks, planned events). Here two months keep the test short."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest
from dagster import DagsterEventType, build_schedule_context, instance_for_test, materialize

from orchestration.definitions import build_definitions
from orchestration.jobs import ASIA_CLOSE_JOB
from orchestration.settings import Settings
from tests.conftest import run_range
from tests.sample_slice import write_slice
from tests.snapshot_warehouse import snapshot_settings

pytestmark = pytest.mark.integration

START, BACKFILL_END, TICK_DAY = date(2025, 11, 3), date(2026, 1, 2), date(2026, 1, 5)
# Two months of daily partitions x 23 dbt assets would be ~1,400 materialisation events if the dbt
# assets were partitioned; unpartitioned, a backfill records each asset once, whatever its length.
MAX_BACKFILL_EVENTS = 1_000


@pytest.fixture(scope="module")
def ticked(tmp_path_factory):
    root = tmp_path_factory.mktemp("window")
    snapshot = write_slice(root / "snapshot", START, TICK_DAY)
    with pytest.MonkeyPatch.context() as mp, instance_for_test() as instance:
        settings = snapshot_settings(mp, root, snapshot, START)
        defs = build_definitions(settings)
        backfill = run_range(defs, instance, START.isoformat(), BACKFILL_END.isoformat())
        assert backfill.success
        backfill_events = instance.all_logs(backfill.run_id)
        # A sentinel in a row the tick must not recompute (dated before its window).
        with duckdb.connect(str(settings.duckdb_database)) as conn:
            conn.execute("update marts.fct_index_returns set close = -1 where trade_date = date '2025-12-31'")
        schedule = defs.resolve_schedule_def(f"{ASIA_CLOSE_JOB}_schedule")
        tick = datetime(2026, 1, 5, 17, 30, tzinfo=ZoneInfo("Asia/Hong_Kong"))
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
    assert set(returns.loc[returns.trade_date == pd.Timestamp("2025-12-31"), "close"]) == {-1.0}


def test_a_full_refresh_from_the_dbt_step_config_recomputes_every_row(ticked):
    settings, *_, tick_marts, refreshed = ticked
    assert refreshed.success
    after = read_marts(settings)
    # The sentinel the tick left alone is recomputed; no row appears or disappears.
    assert not (after["fct_index_returns"].close == -1).any()
    assert {t: len(frame) for t, frame in after.items()} == {t: len(frame) for t, frame in tick_marts.items()}
