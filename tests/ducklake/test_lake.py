"""The warehouse on DuckLake with a PostgreSQL catalog and Dagster on PostgreSQL, for real (no mocks):

1. two runs over the two halves of the sample slice at the same time, on an empty lake, each in its own
   process as run workers are, while a reader queries every mart in a loop;
2. a writer killed (SIGKILL) in the middle of a large transaction: the lake stays at its snapshot;
3. the marts then equal, row for row, the DuckDB-file build of the whole slice in one run
   (tests/sample_slice.py) and the independent pandas oracle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from orchestration.instance import write_instance_yaml
from orchestration.resources import build_warehouse
from orchestration.resources.ducklake import DuckLakeWarehouse
from orchestration.settings import PROJECT_ROOT, SEEDS_DIR, Settings
from tests.ducklake.conftest import scratch_database
from tests.reference_marts import MART_KEYS, compare_frames, compute_marts
from tests.sample_slice import SLICE_END, SLICE_START, sample_warehouse, write_slice

pytestmark = pytest.mark.integration

# Loaded at the same time: the second's window (and its incremental recompute) starts where the first's
# ends, so each run's dbt build reads rows the other is writing, and both create the lake's tables.
CONCURRENT = [(SLICE_START, date(2025, 12, 12)), (date(2025, 12, 13), SLICE_END)]
# Minutes on a 2-core machine busy with other work; about one on an idle one.
RUN_TIMEOUT_S = 900

# Killed before its commit: deletes a mart's rows, duplicates a raw table, creates a table of three
# million rows (Parquet files written to the data path), then waits to be killed.
HALF_WRITER = """
import sys, time
from orchestration.resources import build_warehouse
from orchestration.settings import Settings
with build_warehouse(Settings()).connect() as conn:
    conn.execute("begin transaction")
    conn.execute("delete from marts.fct_index_returns")
    conn.execute("insert into raw.fx_rates select * from raw.fx_rates")
    conn.execute("create table marts.half_written as select range as n from range(3000000)")
    print("READY", flush=True)
    time.sleep(600)
"""


@dataclass
class Scenario:
    root: Path
    env: dict[str, str]
    snapshot: Path
    killed: dict = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)
    reader: dict = field(default_factory=dict)

    @property
    def warehouse(self) -> DuckLakeWarehouse:
        with pytest.MonkeyPatch.context() as mp:
            for key, value in self.env.items():
                mp.setenv(key, value)
            warehouse = build_warehouse(Settings())
        assert isinstance(warehouse, DuckLakeWarehouse)
        return warehouse


def _spawn(env: dict[str, str], *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=PROJECT_ROOT, env={**os.environ, **env}, **kwargs)


def _worker(scenario: Scenario, window: tuple[date, date], name: str) -> tuple[subprocess.Popen, Path]:
    out = scenario.root / f"{name}.json"
    log = (scenario.root / f"{name}.log").open("w")
    process = _spawn(
        scenario.env, "-W", "ignore", "-m", "tests.ducklake.worker", window[0].isoformat(), window[1].isoformat(),
        str(out), stdout=log, stderr=subprocess.STDOUT,
    )
    return process, out


def _finish(process: subprocess.Popen, out: Path) -> dict:
    process.wait(timeout=RUN_TIMEOUT_S)
    assert out.exists(), f"the worker died (exit {process.returncode}); see {out.with_suffix('.log')}"
    return json.loads(out.read_text())


@contextmanager
def _reading(scenario: Scenario) -> Iterator[Path]:
    out, stop = scenario.root / "reader.json", scenario.root / "reader.stop"
    reader = _spawn(scenario.env, "-W", "ignore", "-m", "tests.ducklake.lake_reader", str(out), str(stop),
                    stdout=(scenario.root / "reader.log").open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not out.with_suffix(".ready").exists():
        assert reader.poll() is None and time.monotonic() < deadline, "the reader did not start"
        time.sleep(0.1)
    try:
        yield out
    finally:
        stop.touch()
        reader.wait(timeout=60)


def _kill_a_writer_mid_transaction(scenario: Scenario) -> dict:
    warehouse = scenario.warehouse
    with warehouse.session(read_only=True) as wh:
        before = {
            "snapshot": warehouse.snapshot_id(),
            "fct_index_returns": wh.frame("select * from marts.fct_index_returns order by all"),
            "fx_rates": wh.scalar("select count(*) from raw.fx_rates"),
        }
    writer = _spawn(scenario.env, "-c", HALF_WRITER, stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "READY"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    with warehouse.session(read_only=True) as wh:
        after = {
            "snapshot": warehouse.snapshot_id(),
            "fct_index_returns": wh.frame("select * from marts.fct_index_returns order by all"),
            "fx_rates": wh.scalar("select count(*) from raw.fx_rates"),
            "half_written": wh.relation_exists("marts", "half_written"),
        }
    return {"before": before, "after": after, "returncode": writer.returncode}


@pytest.fixture(scope="module")
def scenario(postgres, tmp_path_factory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("ducklake")
    snapshot = write_slice(root / "slice")
    with scratch_database(postgres, "ctr_lake") as lake_db, scratch_database(postgres, "ctr_dagster") as dagster_db:
        env = {
            "CTR_WAREHOUSE": "ducklake",
            "CTR_DUCKLAKE_CATALOG": f"postgres:{postgres} dbname={lake_db}",
            "CTR_DUCKLAKE_DATA_PATH": str(root / "lake_data"),
            "DUCKDB_DATABASE": str(root / "warehouse" / "china_tech_rally.duckdb"),
            "CTR_SOURCE": "snapshot",
            "CTR_SNAPSHOT_DIR": str(snapshot),
            "CTR_START_DATE": SLICE_START.isoformat(),
            "DAGSTER_HOME": str(root / "dagster_home"),
            "DAGSTER_PG_URL": f"postgresql+psycopg2://{postgres.split('user=')[1]}@127.0.0.1:"
            f"{postgres.split('port=')[1].split()[0]}/{dagster_db}",
        }
        write_instance_yaml(Path(env["DAGSTER_HOME"]), Settings(**env))
        result = Scenario(root=root, env=env, snapshot=snapshot)

        # The first ATTACH creates the catalog's tables, and the first instance Dagster's: once, as a
        # deployment does, not in a race (two processes creating Dagster's schema at once collide on
        # PostgreSQL's CREATE TYPE).
        with result.warehouse.connect():
            pass
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DAGSTER_PG_URL", env["DAGSTER_PG_URL"])
            with DagsterInstance.from_config(env["DAGSTER_HOME"]):
                pass
        with _reading(result) as reader_out:
            began = time.monotonic()
            workers = [_worker(result, window, f"run{i}") for i, window in enumerate(CONCURRENT)]
            try:
                result.runs = [_finish(*worker) for worker in workers]
            finally:
                for process, _ in workers:
                    if process.poll() is None:
                        process.kill()
            wall = time.monotonic() - began
        result.reader = json.loads(reader_out.read_text())
        if all(run["success"] for run in result.runs):
            result.killed = _kill_a_writer_mid_transaction(result)
        figures = {
            "concurrent_wall_s": round(wall, 1),
            "run_s": [round(r["ended"] - r["began"], 1) for r in result.runs],
            "reader_rounds": result.reader["rounds"],
            "reader_states": result.reader["states"],
        }
        # The figures docs/scale-out.md quotes, kept beside the test's other outputs.
        (root / "figures.json").write_text(json.dumps(figures))
        print(f"\nDuckLake figures: {figures}")
        yield result


def test_a_writer_killed_mid_transaction_leaves_the_lake_at_its_previous_snapshot(scenario):
    killed = scenario.killed
    assert killed, "not run: the concurrent runs failed"
    assert killed["returncode"] == -signal.SIGKILL
    assert killed["after"]["snapshot"] == killed["before"]["snapshot"]
    assert killed["after"]["fx_rates"] == killed["before"]["fx_rates"]
    assert not killed["after"]["half_written"]
    assert killed["after"]["fct_index_returns"].equals(killed["before"]["fct_index_returns"])


def test_two_runs_at_the_same_time_both_succeed(scenario):
    first, second = scenario.runs
    # They did overlap: each started before the other ended.
    assert first["began"] < second["ended"] and second["began"] < first["ended"]
    for run in scenario.runs:
        assert run["success"], run["failures"]
        # Judged as of the slice's last day, a run that ends before the other has loaded the later days
        # finds the data stale: the freshness checks may say so (WARN), and nothing else may fail.
        assert {c.split(":")[1] for c in run["failed_checks"]} <= {"calendar_freshness"}


def test_a_reader_during_the_runs_saw_no_error_and_no_duplicate(scenario):
    reader = scenario.reader
    assert reader["rounds"] > 0
    assert reader["errors"] == []
    assert reader["duplicates"] == []


@pytest.fixture(scope="module")
def file_build(tmp_path_factory):
    """The DuckDB-file build of the same slice in one run (shared with the publication tests)."""
    built = sample_warehouse(tmp_path_factory)
    assert built.first_run_success
    return built


@pytest.mark.parametrize("mart", sorted(MART_KEYS))
def test_lake_marts_equal_the_file_build_row_for_row(scenario, file_build, mart):
    with duckdb.connect(str(file_build.database), read_only=True) as conn:
        expected = conn.execute(f"select * from marts.{mart}").df()
    with scenario.warehouse.session(read_only=True) as wh:
        actual = wh.frame(f"select * from marts.{mart}")
    assert len(actual) == len(expected) > 0
    assert compare_frames(actual, expected, MART_KEYS[mart], rel_tol=1e-12) == []


@pytest.mark.parametrize("mart", sorted(MART_KEYS))
def test_lake_marts_equal_the_independent_oracle(scenario, mart):
    expected = compute_marts(scenario.snapshot, SEEDS_DIR, start=SLICE_START)[mart]
    with scenario.warehouse.session(read_only=True) as wh:
        actual = wh.frame(f"select * from marts.{mart}")
    assert compare_frames(actual, expected, MART_KEYS[mart], rel_tol=1e-9) == []


def test_the_report_on_the_lake_says_what_the_file_build_says(scenario, file_build):
    sql = "select line, headline from marts.rpt_headline order by line"
    with duckdb.connect(str(file_build.database), read_only=True) as conn:
        expected = conn.execute(sql).fetchall()
    with scenario.warehouse.session(read_only=True) as wh:
        assert wh.rows(sql) == expected


def test_each_run_recorded_its_publication_as_a_snapshot(scenario):
    with scenario.warehouse.session(read_only=True) as wh:
        published = wh.rows("select snapshot_id, mart_rows from published.publications order by snapshot_id")
        marts = {m: wh.table_rows("marts", m) for m in wh.tables("marts")}
    assert len(published) == len(CONCURRENT)
    assert json.loads(published[-1][1]) == marts
