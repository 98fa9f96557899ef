"""`python -m orchestration.cli` as a user runs it: a real process, on a small slice of the sample, with its
own Dagster home and warehouse. One clean demo per session is shared by the CLI and recovery tests."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import PROJECT_ROOT
from tests.sample_slice import SLICE_START, write_slice
from tests.session_once import build_once

# A clean demo of the slice takes about a minute here; a run that takes 4 is stuck.
RUN_TIMEOUT = 240


@dataclass
class CliEnv:
    root: Path

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def database(self) -> Path:
        return self.root / "warehouse" / "china_tech_rally.duckdb"

    def env(self, snapshot: Path) -> dict[str, str]:
        return {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "DUCKDB_DATABASE": str(self.database),
            "CTR_SOURCE": "snapshot",
            "CTR_SNAPSHOT_DIR": str(snapshot),
            "CTR_START_DATE": SLICE_START.isoformat(),
            "PYTHONUNBUFFERED": "1",
        }


def new_env(root: Path) -> CliEnv:
    env = CliEnv(root)
    env.home.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", env.home / "dagster.yaml")
    return env


def start_demo(env: CliEnv, snapshot: Path, out) -> subprocess.Popen:
    # Its own process group, as a terminal's job would be: the recovery test kills the whole group.
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "demo"],
        cwd=PROJECT_ROOT, env=env.env(snapshot), stdout=out, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )


def session_members(session: int) -> list[str]:
    """Live processes of a session (the killed CLI's dbt, say); zombies do not count."""
    ps = subprocess.run(["ps", "-e", "-o", "pid=,sid=,stat=,args="], capture_output=True, text=True,
                        check=True).stdout
    return [line for line in ps.splitlines()
            if line.split()[1] == str(session) and not line.split()[2].startswith("Z")]


def assert_session_ends(session: int, seconds: float = 15) -> None:
    """Every process a killed CLI started (dbt) ends with it, within `seconds`."""
    deadline = time.monotonic() + seconds
    while left := session_members(session):
        assert time.monotonic() < deadline, f"left running after the run was killed: {left}"
        time.sleep(0.2)


@dataclass
class Output:
    returncode: int
    lines: list[str]
    # Seconds from start at which each line arrived: progress must show while the run goes on.
    arrived: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def run_demo(env: CliEnv, snapshot: Path, timeout: float = RUN_TIMEOUT) -> Output:
    began = time.monotonic()
    process = start_demo(env, snapshot, subprocess.PIPE)
    # A run that hangs prints nothing: a timer, not the reading loop, has to end it.
    watchdog = threading.Timer(timeout, os.killpg, (process.pid, signal.SIGKILL))
    watchdog.start()
    output = Output(returncode=-1, lines=[])
    try:
        for line in process.stdout:
            output.lines.append(line.rstrip("\n"))
            output.arrived.append(time.monotonic() - began)
        output.returncode = process.wait()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output.seconds = time.monotonic() - began
    if output.seconds >= timeout:
        raise TimeoutError(f"the demo ran over {timeout}s and was killed:\n" + output.text)
    return output


@dataclass
class CleanDemo:
    env: CliEnv
    snapshot: Path
    output: Output


def _clean_demo(root: Path) -> dict:
    snapshot = write_slice(root / "slice")
    env = new_env(root / "clean")
    return {"root": str(env.root), "snapshot": str(snapshot), "output": asdict(run_demo(env, snapshot))}


def clean_demo(tmp_path_factory: pytest.TempPathFactory) -> CleanDemo:
    """The session's clean `demo` of the slice, run on first use (once for all test workers)."""
    saved = build_once(tmp_path_factory, "cli_demo", _clean_demo)
    return CleanDemo(CliEnv(Path(saved["root"])), Path(saved["snapshot"]), Output(**saved["output"]))


def mart_differences(database: Path, expected: Path, rel_tol: float = 1e-9) -> list[str]:
    """Where two warehouses' marts differ. Floats compare to `rel_tol`: DuckDB's parallel sums are not
    bit-for-bit reproducible between two builds of the same data."""
    ours, theirs = marts(database), marts(expected)
    if set(ours) != set(theirs):
        return [f"tables: {sorted(ours)} != {sorted(theirs)}"]
    differences = []
    for table, rows in ours.items():
        if len(rows) != len(theirs[table]):
            differences.append(f"{table}: {len(rows)} rows != {len(theirs[table])}")
            continue
        for row, other in zip(rows, theirs[table]):
            same = all(
                math.isclose(a, b, rel_tol=rel_tol) if isinstance(a, float) and isinstance(b, float) else a == b
                for a, b in zip(row, other)
            )
            if not same:
                differences.append(f"{table}: {row} != {other}")
                break
    return differences


def marts(database: Path) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted, without the report's generation time."""
    with duckdb.connect(str(database), read_only=True) as conn:
        tables = [t for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        result = {}
        for table in tables:
            columns = [c for (c,) in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'marts'"
                " and table_name = ? order by ordinal_position", [table]).fetchall() if c != "generated_at"]
            select = ", ".join(f'"{c}"' for c in columns)
            result[table] = conn.execute(f'select {select} from marts."{table}" order by all').fetchall()
        return result
