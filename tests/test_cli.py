"""What a first-time user sees from `make demo`, `make headline`, a locked warehouse and `make ui`."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import PROJECT_ROOT
from tests.cli_runs import clean_demo, new_env, start_demo

pytestmark = pytest.mark.integration

# `make` adds at most two lines of its own before the CLI's ("Setting up ...", "Parsing the dbt project").
MAKE_LINES = 2
RAW_DATASETS = ("fx_rates", "index_constituents", "index_prices", "shares_outstanding", "stock_prices")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return clean_demo(tmp_path_factory)


def test_demo_succeeds_in_under_60_lines_without_colour_codes(demo):
    out = demo.output
    assert out.returncode == 0, out.text
    assert len(out.lines) + MAKE_LINES < 60, out.text
    assert "\x1b[" not in out.text
    # dbt's own output is in the log file, not on the terminal.
    assert not any(re.search(r"\d+ of \d+ (START|OK|PASS)", line) for line in out.lines), out.text
    log = re.search(r"full log: (\S+)", out.text)
    assert log and "Finished running" in Path(log[1]).read_text()


def test_demo_shows_one_progress_line_per_step_as_it_completes(demo):
    out = demo.output
    progress = {}
    for line, arrived in zip(out.lines, out.arrived):
        match = re.match(r"  (raw/\w+|dbt build|reports/headline|published/warehouse)\s+(.+?)\s+(\d+\.\d)s$", line)
        if match:
            progress[match[1]] = (match[2], arrived)
    assert set(progress) == {*(f"raw/{d}" for d in RAW_DATASETS), "dbt build", "reports/headline",
                             "published/warehouse"}, out.text
    assert all(re.fullmatch(r"[\d,]+ rows", progress[f"raw/{d}"][0]) for d in RAW_DATASETS), out.text
    # The raw lines arrive while dbt is still building (it takes tens of seconds), not after the run.
    finished = next(t for line, t in zip(out.lines, out.arrived) if line.startswith("Run "))
    assert progress["raw/stock_prices"][1] < finished - 5, out.text


def test_demo_ends_with_the_headline_report(demo):
    out = demo.output
    with duckdb.connect(str(demo.env.database), read_only=True) as conn:
        headlines = [h for (h,) in conn.execute("select headline from marts.rpt_headline order by line").fetchall()]
    assert headlines
    assert out.lines[-len(headlines):] == [f"  {h}" for h in headlines]


def test_headline_command_prints_the_report_from_the_published_copy(demo):
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "headline"], cwd=PROJECT_ROOT,
        env=demo.env.env(demo.snapshot), capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == demo.output.lines[-1]


def test_demo_runs_are_listed_under_the_job_in_the_ui(demo):
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(demo.env.home)) as instance:
        [run] = instance.get_runs()
    # The tag the UI filters a code location's job runs by (location name from workspace.yaml).
    assert run.tags[".dagster/repository"] == "__repository__@china_tech_rally"


def test_a_locked_warehouse_is_one_clear_line_and_a_summary(tmp_path, demo):
    env = new_env(tmp_path)
    env.database.parent.mkdir(parents=True)
    with duckdb.connect(str(env.database)) as holder:  # another process holding the file, as a DuckDB shell does
        holder.execute("create table t as select 1 as x")
        began = time.monotonic()
        process = start_demo(env, demo.snapshot, subprocess.PIPE)
        try:
            text, _ = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    assert time.monotonic() - began < 60, text
    assert process.returncode == 1, text
    locked = [line for line in text.splitlines() if "is locked by" in line]
    assert len(locked) == 1, text
    assert str(env.database) in locked[0] and "published copy" in locked[0] and f"process {os.getpid()}" in locked[0]
    assert "Warehouse:" in text and "Query this, read-only:" in text, text


@pytest.mark.parametrize("what", ["DAGSTER_HOME", "the warehouse folder"])
def test_a_read_only_folder_is_one_line_before_anything_runs(what, tmp_path, demo):
    env = new_env(tmp_path)
    folder = env.home if what == "DAGSTER_HOME" else env.database.parent
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "orchestration.cli", "demo"]
    if os.geteuid() == 0:
        # Root writes through any mode bits: a read-only mount, in a mount namespace of this command's own.
        if shutil.which("unshare") is None:
            pytest.skip("needs unshare(1) to make a read-only folder as root")
        command = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                   f'mount -t tmpfs -o ro tmpfs "{folder}" && exec "$@"', "sh", *command]
    else:
        folder.chmod(0o555)
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env.env(demo.snapshot), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {what} {folder} is not writable (") and "a run writes there" in line


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _live_members(group: int) -> list[str]:
    ps = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(group)], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in ps.splitlines() if not line.split()[1].startswith("Z")]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_ui_logs_no_warnings_and_stops_on_sigterm(tmp_path):
    env = new_env(tmp_path)
    log = tmp_path / "ui.log"
    with log.open("w") as out:
        # Started from a non-interactive shell, as a script or a service would start it.
        make = subprocess.Popen(
            ["make", "--no-print-directory", "ui", f"UI_PORT={_free_port()}"], cwd=PROJECT_ROOT,
            env={**os.environ, "DAGSTER_HOME": str(env.home)}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "Serving dagster-webserver" not in log.read_text():
            assert make.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        time.sleep(3)  # the daemon's first ticks
        make.send_signal(signal.SIGTERM)
        make.wait(timeout=60)
        # Every process of the UI ends with it (the code server takes a few seconds to wind down).
        deadline = time.monotonic() + 30
        while left := _live_members(make.pid):
            assert time.monotonic() < deadline, f"left running: {left}\n{log.read_text()}"
            time.sleep(0.5)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    text = log.read_text()
    assert "Dagster services shut down" in text, text
    assert not re.search(r"warning", text, re.IGNORECASE), text
