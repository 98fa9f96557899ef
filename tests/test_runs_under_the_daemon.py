"""Runs launched as a user launches them from the UI: `make ui`'s own command (`dagster dev`: webserver,
daemon, code server, the queued run coordinator and the default run launcher), runs launched through
the webserver's GraphQL API, as the UI's "Materialize" button does.

- A run whose worker process starts late (a busy machine) succeeds: nothing takes a worker that has not
  started yet for a dead one. The abandoned_runs sensor ticks while it waits.
- A UI run whose worker is SIGKILLed is marked failed (by the code server that launched it), and the next
  run completes. A CLI run SIGKILLed, which no Dagster process launched, is marked failed by the
  abandoned_runs sensor within a stated bound, and the UI run queued behind it then completes.
- A CLI run and a UI run meeting on the DuckDB file take turns, in both orders, and never write at once:
  the CLI run waits for the UI run's lease, the UI run queues behind the CLI run.

The delay is a `sitecustomize` on the code server's PYTHONPATH that sleeps in the processes
multiprocessing spawns (the run workers) while a flag file exists: the project's code has no test hook.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from orchestration.settings import PROJECT_ROOT
from tests.cli_runs import new_env, start_demo
from tests.sample_slice import SLICE_END, write_slice
from tests.webserver import LOCATION, free_port, graphql, stop_group, wait_until_loaded

pytestmark = pytest.mark.integration

# The snapshot's prices start here: every run is a few sessions, about dbt's start and little else.
PRICES_FROM = SLICE_END - timedelta(days=6)
PARTITION = SLICE_END.isoformat()
WORKER_DELAY_SECONDS = 35
# The sensor's interval (30 s) and the daemon's own loop: a dead run is marked failed within this.
FAILED_WITHIN_SECONDS = 75
RUN_SECONDS = 300

SITECUSTOMIZE = """
import os, sys, time
if "--multiprocessing-fork" in sys.argv:
    flag = os.environ.get("CTR_TEST_WORKER_DELAY_FILE")
    if flag and os.path.exists(flag):
        time.sleep(float(open(flag).read()))
"""

LAUNCH = """mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

SENSOR_TICKS = """query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { ticks(limit: 100) { timestamp status } } }
  }
}"""


class Ui:
    def __init__(self, root: Path):
        self.root = root
        self.env = new_env(root)
        self.snapshot = write_slice(root / "slice", start=PRICES_FROM)
        self.delay_flag = root / "worker_delay"
        self.url = ""

    def environ(self) -> dict[str, str]:
        site = self.root / "site"
        return {
            **self.env.env(self.snapshot),
            "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p),
            "CTR_TEST_WORKER_DELAY_FILE": str(self.delay_flag),
        }

    def launch(self) -> str:
        params = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                         "jobName": "materialize_all"},
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": PARTITION}]},
        }
        answer = graphql(self.url, LAUNCH, {"params": params})["data"]["launchPipelineExecution"]
        assert answer["__typename"] == "LaunchRunSuccess", answer
        return answer["run"]["runId"]

    def instance(self) -> DagsterInstance:
        return DagsterInstance.from_config(str(self.env.home))

    def wait_for(self, run_id: str, statuses: set[DagsterRunStatus], seconds: float) -> DagsterRunStatus:
        deadline = time.monotonic() + seconds
        with self.instance() as instance:
            while True:
                status = instance.get_run_by_id(run_id).status
                if status in statuses:
                    return status
                assert time.monotonic() < deadline, f"run {run_id} still {status} after {seconds}s; see {self.log}"
                time.sleep(0.5)

    def lease(self) -> dict | None:
        path = self.env.database.parent / "leases" / f"{self.env.database.name}.lock"
        text = path.read_text() if path.exists() else ""
        return json.loads(text) if text.strip() else None

    def wait_for_lease(self, run_id: str, seconds: float = RUN_SECONDS) -> dict:
        deadline = time.monotonic() + seconds
        while (held := self.lease()) is None or held["run_id"] != run_id:
            assert time.monotonic() < deadline, f"run {run_id} never took the warehouse lease; see {self.log}"
            time.sleep(0.2)
        return held

    def sensor_ticks(self) -> list[float]:
        selector = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                    "sensorName": "abandoned_runs"}
        answer = graphql(self.url, SENSOR_TICKS, {"selector": selector})["data"]["sensorOrError"]
        return [tick["timestamp"] for tick in answer["sensorState"]["ticks"]]

    @property
    def log(self) -> Path:
        return self.root / "ui.log"


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui_runs")
    (root / "site").mkdir()
    (root / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    ui = Ui(root)
    port = free_port()
    ui.url = f"http://127.0.0.1:{port}"
    with ui.log.open("w") as out:
        # `make ui`'s command, in its own process group so that the whole of it is stopped afterwards.
        server = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "ui", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT, env=ui.environ(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until_loaded(ui.url, server, ui.log)
        yield ui
    finally:
        stop_group(server)


def test_a_run_whose_worker_starts_late_succeeds(ui):
    ui.delay_flag.write_text(str(WORKER_DELAY_SECONDS))
    try:
        run_id = ui.launch()
        assert ui.wait_for(run_id, {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE}, RUN_SECONDS * 2) == (
            DagsterRunStatus.SUCCESS
        ), ui.log.read_text()
    finally:
        ui.delay_flag.unlink(missing_ok=True)
    with ui.instance() as instance:
        [record] = instance.get_run_records(filters=None, limit=1)
        assert record.dagster_run.run_id == run_id
        created, started = record.create_timestamp.timestamp(), record.start_time
    # The worker really started late, and the sensor that fails dead runs looked while it had not started.
    assert started - created >= WORKER_DELAY_SECONDS
    assert any(created < tick < started for tick in ui.sensor_ticks()), ui.sensor_ticks()


def test_a_ui_run_killed_is_marked_failed_and_the_next_run_completes(ui):
    run_id = ui.launch()
    held = ui.wait_for_lease(run_id)
    os.kill(held["pid"], signal.SIGKILL)
    killed_at = time.monotonic()

    # The code server that launched the worker sees it die and fails the run itself.
    ui.wait_for(run_id, {DagsterRunStatus.FAILURE}, FAILED_WITHIN_SECONDS)
    assert time.monotonic() - killed_at <= FAILED_WITHIN_SECONDS
    assert any("SIGKILL" in m or "died while writing" in m for m in run_messages(ui, run_id)), run_messages(ui, run_id)

    again = ui.launch()
    assert ui.wait_for(again, {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE}, RUN_SECONDS) == (
        DagsterRunStatus.SUCCESS
    ), ui.log.read_text()


def test_a_cli_run_killed_is_failed_by_the_sensor_and_a_ui_run_queued_behind_it_completes(ui):
    """Nobody launched a CLI run but the CLI: dead, it would stay STARTED and hold the UI's run queue."""
    with (ui.root / "killed-cli.out").open("w") as out:
        cli = start_demo(ui.env, ui.snapshot, out)
    try:
        with ui.instance() as instance:
            deadline = time.monotonic() + RUN_SECONDS
            while not (runs := instance.get_runs(limit=1)) or runs[0].status != DagsterRunStatus.STARTED:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        dead = runs[0].run_id
        ui.wait_for_lease(dead)
        cli.kill()
        cli.wait(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
    killed_at = time.monotonic()
    queued = ui.launch()

    ui.wait_for(dead, {DagsterRunStatus.FAILURE}, FAILED_WITHIN_SECONDS)
    assert time.monotonic() - killed_at <= FAILED_WITHIN_SECONDS
    said = run_messages(ui, dead)
    assert any(f"pid {cli.pid}" in m and "abandoned_runs sensor" in m for m in said), said
    assert ui.wait_for(queued, {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE}, RUN_SECONDS) == (
        DagsterRunStatus.SUCCESS
    ), ui.log.read_text()


def run_messages(ui: Ui, run_id: str) -> list[str]:
    with ui.instance() as instance:
        return [r.event_log_entry.message for r in instance.get_records_for_run(run_id).records]


def test_cli_and_ui_runs_on_the_file_take_turns_in_both_orders(ui):
    """A UI run writing; a CLI run started meanwhile waits for its lease; a UI run launched while the CLI run
    waits queues behind it (a CLI run counts as running). All three succeed, one after another."""
    first = ui.launch()
    ui.wait_for_lease(first)
    with (ui.root / "cli.out").open("w") as out:
        cli = start_demo(ui.env, ui.snapshot, out)
    try:
        deadline = time.monotonic() + RUN_SECONDS
        while "Waiting up to" not in (text := (ui.root / "cli.out").read_text()):
            assert cli.poll() is None and time.monotonic() < deadline, text
            time.sleep(0.2)
        third = ui.launch()
        assert cli.wait(timeout=RUN_SECONDS) == 0, (ui.root / "cli.out").read_text()
        assert ui.wait_for(third, {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE}, RUN_SECONDS) == (
            DagsterRunStatus.SUCCESS
        ), ui.log.read_text()
    finally:
        if cli.poll() is None:
            cli.kill()
    waited = next(line for line in (ui.root / "cli.out").read_text().splitlines() if "Waiting up to" in line)
    assert f"run {first} (pid " in waited
    with ui.instance() as instance:
        runs = [instance.get_run_record_by_id(first)]
        runs.append(next(r for r in instance.get_run_records(limit=3) if r.dagster_run.run_id not in (first, third)))
        runs.append(instance.get_run_record_by_id(third))
        assert [r.dagster_run.status for r in runs] == [DagsterRunStatus.SUCCESS] * 3
        # Never two at once: each wrote only after the one before had ended.
        for before, after in itertools.pairwise(runs):
            assert first_step_start(instance, after.dagster_run.run_id) >= before.end_time


def first_step_start(instance: DagsterInstance, run_id: str) -> float:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
    return min(r.event_log_entry.timestamp for r in records)
