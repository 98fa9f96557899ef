"""Run leases (orchestration/resources/leases.py): who writes the warehouse, known from the kernel's flock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from dagster import DagsterRunStatus, instance_for_test, job, op

from orchestration.resources.leases import (
    Holder,
    LeaseTimeout,
    abandoned,
    current_holder,
    fail_abandoned,
    hold,
)

HOLD_IN_A_CHILD = """
import sys, time
from pathlib import Path
from orchestration.resources.leases import hold
with hold(Path(sys.argv[1]), sys.argv[2], 0):
    print("held", flush=True)
    time.sleep(600)
"""


@op
def noop():
    pass


@job
def placeholder():
    noop()


def start_holder(path: Path, run_id: str) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLD_IN_A_CHILD, str(path), run_id], stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_run_waits_the_bounded_time_then_fails_naming_the_holder(tmp_path):
    lease = tmp_path / "leases" / "w.duckdb.lock"
    waits = []
    with hold(lease, "first-run", 0) as left_behind:
        assert left_behind is None
        began = time.monotonic()
        with pytest.raises(LeaseTimeout) as raised, hold(lease, "second-run", 1.0, on_wait=waits.append):
            pass
        assert 1.0 <= time.monotonic() - began < 5
    holder = waits[0]
    assert holder.run_id == "first-run" and holder.pid == os.getpid()
    assert str(raised.value).startswith(f"run first-run (pid {os.getpid()} on ")
    assert "waited 1s" in str(raised.value) and "CTR_LOCK_WAIT_SECONDS" in str(raised.value)
    # A clean release leaves no one named: the next holder finds nothing left behind.
    with hold(lease, "third-run", 0) as left_behind:
        assert left_behind is None
    assert current_holder(lease) is None


def test_the_waiting_run_takes_the_lease_as_soon_as_the_holder_ends(tmp_path):
    lease = tmp_path / "w.duckdb.lock"
    child = start_holder(lease, "slow-run")
    assert current_holder(lease).run_id == "slow-run"
    began = time.monotonic()
    threading.Timer(1.0, child.send_signal, (signal.SIGINT,)).start()
    with hold(lease, "next-run", 30) as left_behind:
        waited = time.monotonic() - began
        assert current_holder(lease) is not None
    child.wait(timeout=10)
    assert waited < 10
    # Interrupted (SIGINT), the holder's with-block ran its cleanup: nothing was left behind.
    assert left_behind is None


def test_a_killed_holder_is_found_and_its_run_marked_failed_whatever_its_host(tmp_path):
    folder = tmp_path / "leases"
    with instance_for_test() as instance:
        dead = instance.create_run_for_job(job_def=placeholder, status=DagsterRunStatus.STARTED)
        alive = instance.create_run_for_job(job_def=placeholder, status=DagsterRunStatus.STARTED)
        slow = instance.create_run_for_job(job_def=placeholder, status=DagsterRunStatus.STARTED)
        killed = start_holder(folder / f"run-{dead.run_id}.lock", dead.run_id)
        living = start_holder(folder / f"run-{alive.run_id}.lock", alive.run_id)
        try:
            killed.kill()
            killed.wait()
            # Its owner unknown to this machine: a record written on another host, a pid never seen here.
            record = folder / f"run-{dead.run_id}.lock"
            stored = json.loads(record.read_text())
            record.write_text(json.dumps({**stored, "host": "a-container-gone", "pid": 4_000_000}))

            assert [h.run_id for _, h in abandoned(folder)] == [dead.run_id]
            lines = fail_abandoned(instance, folder, "the test")

            said = f"Run {dead.run_id} died while writing the warehouse (pid 4000000 on a-container-gone): marked failed."
            assert lines == [said]
            assert instance.get_run_by_id(dead.run_id).status == DagsterRunStatus.FAILURE
            # A live holder, and a run whose worker has not started yet (no lease at all), are left alone.
            assert instance.get_run_by_id(alive.run_id).status == DagsterRunStatus.STARTED
            assert instance.get_run_by_id(slow.run_id).status == DagsterRunStatus.STARTED
            assert not record.exists()
            assert fail_abandoned(instance, folder, "the test") == []
        finally:
            living.kill()
            living.wait()


def test_a_lease_left_by_a_run_already_finished_is_cleared_without_a_word(tmp_path):
    lease = tmp_path / "w.duckdb.lock"
    with instance_for_test() as instance:
        run = instance.create_run_for_job(job_def=placeholder, status=DagsterRunStatus.SUCCESS)
        lease.write_text(json.dumps(Holder(run.run_id, 1, "h", "2026-01-01T00:00:00+00:00").__dict__))
        assert fail_abandoned(instance, tmp_path, "the test") == []
        assert lease.read_text() == "" and instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS
