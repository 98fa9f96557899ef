"""A CLI run SIGKILLed never blocks the next one, whatever it was doing and wherever it ran.

Only the CLI's own process is killed, not its process group: its dbt child must end with it (a dbt left
writing after its run ended would hold the DuckDB file against the next run). The lease the run held
names it; the next run finds that lease free but still naming the run, marks the run failed, and
completes. The lease's host is rewritten to another machine's before the next run: nothing compares
hosts or pids. Running runs are reported by tests/test_runs_under_the_daemon.py for the UI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from tests.cli_runs import assert_session_ends, clean_demo, mart_differences, new_env, run_demo, start_demo

UNFINISHED = [DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
# A step of the killed run that must have started (and, for dbt, built a model) before the kill.
# Mid dbt, with the committed state checked too: tests/test_reliability.py (fault 11b).
MOMENTS = {
    "raw load": ("raw__stock_prices", DagsterEventType.STEP_START),
    "publication": ("published__warehouse", DagsterEventType.STEP_START),
}


def lease_of(database: Path) -> Path:
    return database.parent / "leases" / f"{database.name}.lock"


def step_reached(instance: DagsterInstance, run_id: str, step: str, event_type: DagsterEventType) -> bool:
    records = instance.get_records_for_run(run_id, of_type=event_type).records
    return any(r.event_log_entry.step_key == step for r in records)


@pytest.mark.integration
@pytest.mark.parametrize("moment", MOMENTS)
def test_a_cli_run_killed_alone_never_blocks_the_next_one(moment, tmp_path, tmp_path_factory):
    clean = clean_demo(tmp_path_factory)
    assert clean.output.returncode == 0, clean.output.text
    env = new_env(tmp_path)
    step, event_type = MOMENTS[moment]

    with (tmp_path / "killed.out").open("w") as out:
        killed = start_demo(env, clean.snapshot, out)
    try:
        with DagsterInstance.from_config(str(env.home)) as instance:
            deadline, run_id = time.monotonic() + 240, None
            while True:
                assert killed.poll() is None and time.monotonic() < deadline, (tmp_path / "killed.out").read_text()
                runs = instance.get_runs()
                if runs and step_reached(instance, runs[0].run_id, step, event_type):
                    run_id = runs[0].run_id
                    break
                time.sleep(0.05)
            killed.send_signal(signal.SIGKILL)  # the CLI alone, not its process group
            killed.wait(timeout=30)
            assert_session_ends(killed.pid)  # dbt (and anything else the run started) ends with it
            assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED
    finally:
        if killed.poll() is None:
            os.killpg(killed.pid, signal.SIGKILL)

    lease = lease_of(env.database)
    record = json.loads(lease.read_text())
    assert record["run_id"] == run_id and record["pid"] == killed.pid
    # As if the run had been started on another machine (a container since gone).
    lease.write_text(json.dumps({**record, "host": "a-host-gone", "pid": 4_000_001}))

    again = run_demo(env, clean.snapshot, timeout=clean.output.seconds * 3 + 60)
    assert again.returncode == 0, again.text
    assert again.lines[1] == (
        f"  warning (run): Run {run_id} died while writing the warehouse (pid 4000001 on a-host-gone): marked failed."
    ), again.text
    assert "CLI" not in again.text

    with DagsterInstance.from_config(str(env.home)) as instance:
        dead = instance.get_run_by_id(run_id)
        assert dead.status == DagsterRunStatus.FAILURE
        failure = [r.event_log_entry for r in instance.get_records_for_run(
            run_id, of_type=DagsterEventType.RUN_FAILURE).records]
        assert "ended while the run was writing the warehouse" in failure[0].message
        assert instance.get_runs(filters=RunsFilter(statuses=UNFINISHED)) == []
    assert mart_differences(env.database, clean.env.database) == []
    with duckdb.connect(str(env.database), read_only=True) as conn:
        assert conn.execute("select count(*) from duckdb_tables() where table_name like '%dbt_tmp%'"
                            " or table_name like '%dbt_backup%'").fetchone()[0] == 0


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_run_waiting_for_the_lease_stops_on_sigterm_and_sigint(sig, tmp_path, tmp_path_factory):
    clean = clean_demo(tmp_path_factory)
    env = new_env(tmp_path)
    lease = lease_of(env.database)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lease)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with (tmp_path / "waiting.out").open("w") as out:
            waiting = start_demo(env, clean.snapshot, out)
        try:
            deadline = time.monotonic() + 240
            while "Waiting up to" not in (text := (tmp_path / "waiting.out").read_text()):
                assert waiting.poll() is None and time.monotonic() < deadline, text
                time.sleep(0.2)
            waiting.send_signal(sig)
            stopped_at = time.monotonic()
            waiting.wait(timeout=60)
            assert time.monotonic() - stopped_at < 30
        finally:
            if waiting.poll() is None:
                os.killpg(waiting.pid, signal.SIGKILL)
    finally:
        holder.kill()
        holder.wait()
    assert waiting.returncode == 1, (tmp_path / "waiting.out").read_text()
    assert "FAILED run: interrupted (Ctrl-C or SIGTERM)" in (tmp_path / "waiting.out").read_text()
    with DagsterInstance.from_config(str(env.home)) as instance:
        [run] = instance.get_runs()
        assert run.status == DagsterRunStatus.FAILURE


HOLD = """
import sys, time
from pathlib import Path
from orchestration.resources.leases import hold
with hold(Path(sys.argv[1]), "another-run", 0):
    print("held", flush=True)
    time.sleep(600)
"""
