"""A run killed mid load never blocks the next one (issue 15): the next CLI run fails it and frees its slot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, instance_for_test
from dagster._core.storage.dagster_run import DagsterRun

from orchestration.recovery import PID_TAG, UNFINISHED, recover_dead_runs, slots_by_run, worker_tags
from tests.cli_runs import clean_demo, mart_differences, new_env, run_demo, start_demo

POOL = "duckdb_warehouse"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _started_run_holding_a_slot(instance: DagsterInstance, pid: int) -> DagsterRun:
    run = instance.create_run_for_job(
        job_def=_job(), tags={**worker_tags(), PID_TAG: str(pid)}, status=DagsterRunStatus.STARTED
    )
    instance.event_log_storage.set_concurrency_slots(POOL, 1)
    claim = instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, "raw__stock_prices")
    assert claim.is_claimed
    return run


def _job():
    from dagster import job, op

    @op
    def noop():
        pass

    @job
    def placeholder():
        noop()

    return placeholder


def test_a_dead_process_run_is_failed_and_its_slot_freed_a_live_one_is_left_alone():
    with instance_for_test() as instance:
        dead = _started_run_holding_a_slot(instance, _dead_pid())
        alive = instance.create_run_for_job(job_def=_job(), tags=worker_tags(), status=DagsterRunStatus.STARTED)

        [recovered] = recover_dead_runs(instance)

        assert recovered.line() == f"Recovered run {dead.run_id} (pid {dead.tags[PID_TAG]} is gone): marked FAILED, freed 1 pool slot"
        assert instance.get_run_by_id(dead.run_id).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == DagsterRunStatus.STARTED
        assert slots_by_run(instance) == {}
        assert recover_dead_runs(instance) == []


def test_a_finished_run_still_holding_a_slot_gets_it_freed():
    with instance_for_test() as instance:
        run = _started_run_holding_a_slot(instance, os.getpid())
        instance.report_run_failed(run, "failed elsewhere, slot left behind")

        [recovered] = recover_dead_runs(instance)

        assert recovered.slots_freed == 1 and "run already FAILURE" in recovered.line()
        assert slots_by_run(instance) == {}


@pytest.mark.integration
def test_a_demo_killed_mid_raw_load_does_not_block_the_next(tmp_path, tmp_path_factory):
    clean = clean_demo(tmp_path_factory)
    assert clean.output.returncode == 0, clean.output.text
    env = new_env(tmp_path)

    # 1. A demo SIGKILLed, with its whole process group, while a raw step holds the warehouse slot.
    with (tmp_path / "killed.out").open("w") as out:
        killed = start_demo(env, clean.snapshot, out)
    holder = None
    try:
        with DagsterInstance.from_config(str(env.home)) as instance:
            deadline = time.monotonic() + 120
            while holder is None:
                assert killed.poll() is None and time.monotonic() < deadline, (tmp_path / "killed.out").read_text()
                if instance.event_log_storage.get_concurrency_keys() & {POOL}:
                    slots = instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
                    holder = next((s for s in slots if s.step_key.startswith("raw__")), None)
                time.sleep(0.05)
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait(timeout=30)
            # The bug, as a user met it: the dead run stays STARTED and keeps the only slot.
            dead_run = instance.get_run_by_id(holder.run_id)
            assert dead_run.status == DagsterRunStatus.STARTED
            assert slots_by_run(instance) == {holder.run_id: 1}
    finally:
        if killed.poll() is None:
            os.killpg(killed.pid, signal.SIGKILL)

    # 2. The next demo says what it recovered, and completes within a clean run's time (plus slack).
    again = run_demo(env, clean.snapshot, timeout=clean.output.seconds * 2 + 60)
    assert again.returncode == 0, again.text
    assert again.lines[0] == (
        f"Recovered run {holder.run_id} (pid {killed.pid} is gone): marked FAILED, freed 1 pool slot"
    ), again.text

    with DagsterInstance.from_config(str(env.home)) as instance:
        assert instance.get_run_by_id(holder.run_id).status == DagsterRunStatus.FAILURE
        assert instance.get_runs(filters=RunsFilter(statuses=UNFINISHED)) == []
        assert slots_by_run(instance) == {}

    # 3. The warehouse is what a clean build makes.
    assert mart_differences(env.database, clean.env.database) == []


def test_the_daemon_sensor_recovers_a_dead_run_too():
    """A scheduled run has no CLI before it: the dead-run sensor does the recovery under the daemon."""
    from dagster import build_sensor_context

    from orchestration.schedules import dead_run_recovery

    with instance_for_test() as instance:
        dead = _started_run_holding_a_slot(instance, _dead_pid())
        result = dead_run_recovery(build_sensor_context(instance=instance))
        assert "marked FAILED, freed 1 pool slot" in str(result.skip_message)
        assert instance.get_run_by_id(dead.run_id).status == DagsterRunStatus.FAILURE
        assert slots_by_run(instance) == {}
