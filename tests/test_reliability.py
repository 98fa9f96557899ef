"""The reliability suite's faults that no other module covers (the whole map is docs/reliability.md):
malformed configuration stopped before any fetch, a hostile symbol through the raw load and the checks,
overlapping backfills, and a run SIGKILLed in the middle of dbt.

Every case compares the warehouse before and after, table by table: nothing lost, nothing doubled. The
warehouses are copies of the session's shared build of the sample slice (tests/sample_slice.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
import shutil
import signal
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus
from dagster._core.events import DagsterEventType

from assets.checks.totals import check_members_priced
from orchestration import preflight, reference
from orchestration.datasets import DATASETS, STOCK_PRICES
from orchestration.definitions import build_definitions
from orchestration.resources.providers.base import FetchResult
from orchestration.resources.providers.snapshot import SnapshotProvider
from orchestration.resources.warehouse import DuckDBFileWarehouse, WarehouseSession, published_path_for
from orchestration.settings import SEEDS_DIR, Settings
from tests.cli_runs import RUN_TIMEOUT, assert_session_ends, new_env, run_demo, start_demo
from tests.conftest import run_range
from tests.sample_slice import SLICE_END, SLICE_START, sample_warehouse

HOSTILE = "x'); drop table raw.stock_prices; --"
DBT_STEP = "warehouse_dbt_models"
# Columns that say when a row was written, not what it holds: a re-run rewrites them by design.
VOLATILE = {"loaded_at", "generated_at"}
# The grain of every table a run writes (docs/warehouse.md); a second row for a key is a duplicate.
GRAINS = {
    **{d.table: d.key for d in DATASETS},
    "intermediate.int_index_period_anchors": ("index_id", "trade_date"),
    "intermediate.int_benchmark_returns_asof": ("index_id", "benchmark_id", "trade_date"),
    "intermediate.int_basket_member_prices": ("basket_id", "symbol", "trade_date"),
    "intermediate.int_basket_member_dates": ("basket_id", "symbol", "trade_date"),
    "intermediate.int_basket_members_asof": ("basket_id", "symbol", "trade_date"),
    "marts.fct_index_returns": ("index_id", "trade_date"),
    "marts.fct_relative_performance": ("index_id", "benchmark_id", "trade_date", "period"),
    "marts.fct_ai_basket_members_daily": ("basket_id", "symbol", "trade_date"),
    "marts.fct_ai_basket_market_cap": ("basket_id", "trade_date"),
    "marts.fct_ai_market_cap_ratio": ("trade_date",),
    "marts.fct_ai_basket_comparison": ("basket_id", "compared_with", "trade_date"),
    "marts.dim_index": ("index_id",),
    "marts.dim_security": ("symbol",),
    "marts.rpt_headline": ("line",),
}


# --- comparing warehouses ------------------------------------------------------------------------


def contents(database: Path, schemas=("raw", "reference", "intermediate", "marts")) -> dict[str, list[tuple]]:
    """Every base table's rows, sorted, without the write-time columns."""
    with duckdb.connect(str(database), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_type = 'BASE TABLE' and table_schema in (select unnest(?::varchar[])) order by 1",
            [list(schemas)],
        ).fetchall()
        out = {}
        for (table,) in tables:
            schema, name = table.split(".")
            columns = [c for (c,) in conn.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?"
                " order by ordinal_position", [schema, name]).fetchall() if c not in VOLATILE]
            select = ", ".join(f'"{c}"' for c in columns)
            out[table] = conn.execute(f'select {select} from "{schema}"."{name}" order by all').fetchall()
        return out


def differences(ours: dict[str, list[tuple]], theirs: dict[str, list[tuple]], rel_tol: float = 1e-9) -> list[str]:
    """Where two warehouses' contents differ; floats to `rel_tol` (DuckDB's parallel sums are not
    bit-for-bit reproducible between two builds of the same data)."""
    if set(ours) != set(theirs):
        return [f"tables differ: only here {sorted(set(ours) - set(theirs))}, only there {sorted(set(theirs) - set(ours))}"]
    found = []
    for table, rows in ours.items():
        other = theirs[table]
        if len(rows) != len(other):
            found.append(f"{table}: {len(rows)} rows != {len(other)}")
            continue
        for row, expected in zip(rows, other):
            if not all(
                math.isclose(a, b, rel_tol=rel_tol) if isinstance(a, float) and isinstance(b, float) else a == b
                for a, b in zip(row, expected)
            ):
                found.append(f"{table}: {row} != {expected}")
                break
    return found


def duplicate_keys(database: Path) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as conn:
        found = {}
        for table, key in GRAINS.items():
            schema, name = table.split(".")
            if not conn.execute("select count(*) from information_schema.tables where table_schema = ?"
                                " and table_name = ?", [schema, name]).fetchone()[0]:
                continue
            cols = ", ".join(key)
            extra = conn.execute(f"select count(*) - count(distinct ({cols})) from {table}").fetchone()[0]
            if extra:
                found[table] = extra
        return found


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def shared(request, tmp_path_factory):
    built = sample_warehouse(tmp_path_factory)
    assert built.first_run_success
    # The SIGKILL-mid-dbt scenario is two demo processes: they run while this module's in-process runs
    # do (a 2-core machine has a core to spare for them); its test waits for it and checks what it saw.
    if any(item.name == KILLED_MID_DBT for item in request.session.items):
        background = KilledMidDbt(built, tmp_path_factory.mktemp("killed_mid_dbt"))
        background.start()
        request.addfinalizer(background.stop)
        request.config.stash[KILLED_MID_DBT_KEY] = background
    return built


# --- fault 14: malformed configuration, stopped before any fetch ---------------------------------


@pytest.fixture
def seeds(tmp_path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    for seed in SEEDS_DIR.glob("*.csv"):
        shutil.copy(seed, folder / seed.name)
    return folder


def edit_members(seeds: Path, edit) -> None:
    path = seeds / "ai_basket_members.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame).to_csv(path, index=False)


def set_member(member: str, **values):
    def edit(frame):
        for column, value in values.items():
            frame.loc[frame["symbol"] == member, column] = value
        return frame
    return edit


def test_the_shipped_configuration_passes_preflight():
    assert preflight.seed_problems(SEEDS_DIR) == []
    preflight.check(Settings())


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(set_member("0700.HK", currency="RMB"),
                     "ai_basket_members.csv, line 3: 0700.HK has unknown currency 'RMB' (not an ISO 4217 code)",
                     id="unknown-basket-currency"),
        pytest.param(set_member("688256.SS", symbol="688256.SH"),
                     "symbol '688256.SH': unknown exchange suffix .SH (not in exchanges.csv)", id="unknown-suffix"),
        pytest.param(set_member("688256.SS", symbol="688256.SZ"),
                     "symbol '688256.SZ': A-share code 688256 does not trade on .SZ", id="a-share-wrong-exchange"),
        pytest.param(set_member("0700.HK", symbol="700HK"),
                     "symbol '700HK' is not a US ticker and has no exchange suffix", id="missing-suffix"),
        pytest.param(set_member("NVDA", symbol="nvda "),
                     "symbol 'nvda' is not a Yahoo-style listing symbol", id="lower-case-symbol"),
        pytest.param(set_member("NVDA", symbol=HOSTILE),
                     f"symbol {HOSTILE!r} is not a Yahoo-style listing symbol", id="hostile-symbol"),
        pytest.param(set_member("0700.HK", calendar="XSHG"),
                     "symbol '0700.HK' lists on XHKG (suffix .HK) but its calendar is 'XSHG'", id="wrong-calendar"),
        pytest.param(lambda f: pd.concat([f, f[f["symbol"] == "0700.HK"].assign(basket_id="GLOBAL_AI_EX_CN")]),
                     "duplicate member 0700.HK (already in CN_AI on line 3)", id="duplicate-member"),
        pytest.param(set_member("NVDA", listed_on="1999-13-01"),
                     "NVDA listed_on '1999-13-01' is not a YYYY-MM-DD date", id="bad-listing-date"),
    ],
)
def test_a_malformed_seed_is_named_by_file_and_line(seeds, edit, expected):
    edit_members(seeds, edit)
    with pytest.raises(preflight.ConfigurationError) as caught:
        preflight.check(Settings(), seeds)
    message = str(caught.value)
    assert message.startswith("1 configuration problem(s); nothing was fetched and the warehouse was not touched:")
    assert expected in message


def test_a_constituent_count_that_is_no_whole_number_is_named(seeds):
    catalog = seeds / "index_catalog.csv"
    frame = pd.read_csv(catalog, dtype=str, keep_default_na=False)
    frame.loc[frame["index_id"] == "HSTECH", "constituent_count"] = "thirty"
    frame.to_csv(catalog, index=False)
    with pytest.raises(preflight.ConfigurationError, match="index_catalog.csv, line 3: HSTECH constituent_count 'thirty'"):
        preflight.check(Settings(), seeds)


@pytest.mark.parametrize("kind", ["missing", "a-file", "empty"])
def test_a_bad_snapshot_path_is_an_error_before_the_definitions_load(tmp_path, monkeypatch, kind):
    path = tmp_path / "snapshot"
    expected = {"missing": "does not exist", "a-file": "is not a folder",
                "empty": "holds none of the snapshot files (index_prices.csv"}[kind]
    if kind == "a-file":
        path.write_text("index_id,trade_date,close\n")
    elif kind == "empty":
        path.mkdir()
    monkeypatch.setenv("CTR_SOURCE", "snapshot")
    monkeypatch.setenv("CTR_SNAPSHOT_DIR", str(path))
    with pytest.raises(preflight.ConfigurationError, match=re.escape(f"CTR_SNAPSHOT_DIR {path} {expected}")):
        build_definitions(Settings())


@pytest.mark.parametrize("broken", ["seed", "snapshot path"])
def test_the_cli_stops_on_bad_configuration_before_fetching_or_touching_the_warehouse(
    broken, seeds, tmp_path, monkeypatch, capsys
):
    from orchestration import cli

    database = tmp_path / "warehouse" / "china_tech_rally.duckdb"
    for key, value in {"DUCKDB_DATABASE": str(database), "DAGSTER_HOME": str(tmp_path / "home"),
                       "CTR_SOURCE": "snapshot", "CTR_START_DATE": SLICE_START.isoformat(),
                       "DBT_USE_COLORS": "false"}.items():
        monkeypatch.setenv(key, value)
    if broken == "seed":
        monkeypatch.delenv("CTR_SNAPSHOT_DIR", raising=False)
        edit_members(seeds, set_member("0700.HK", currency="RMB"))
        monkeypatch.setattr(preflight, "SEEDS_DIR", seeds)
        expected = "0700.HK has unknown currency 'RMB'"
    else:
        monkeypatch.setenv("CTR_SNAPSHOT_DIR", str(tmp_path / "no-such-folder"))
        expected = f"CTR_SNAPSHOT_DIR {tmp_path / 'no-such-folder'} does not exist"
    fetched = []
    monkeypatch.setattr(SnapshotProvider, "load", lambda self, dataset: fetched.append(dataset.name))

    assert cli.main(["demo"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: 1 configuration problem(s); nothing was fetched") and expected in err
    assert fetched == []
    assert not database.parent.exists()
    with DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        assert instance.get_runs() == []


# --- security: a hostile symbol through the raw load and the checks -------------------------------


def test_a_hostile_symbol_is_stored_verbatim_and_replaced_by_a_rerun(tmp_path):
    warehouse = DuckDBFileWarehouse(database=str(tmp_path / "w.duckdb"))
    frame = pd.DataFrame({
        "symbol": [HOSTILE, HOSTILE, "NVDA"],
        "trade_date": [date(2026, 1, 15), date(2026, 1, 16), date(2026, 1, 16)],
        "close": [1.0, 2.0, 3.0], "currency": ["USD"] * 3,
        "open": [None] * 3, "high": [None] * 3, "low": [None] * 3, "volume": [None] * 3,
    })
    result = FetchResult(STOCK_PRICES, frame, "snapshot:test", {})
    ids = [HOSTILE, "NVDA"]
    window = (date(2026, 1, 15), date(2026, 1, 16))
    for _ in range(2):
        written = warehouse.replace_window(result, ids, *window, loaded_at=pd.Timestamp("2026-01-17").to_pydatetime())
        assert written.rows_written == 3
    assert written.rows_replaced == 3  # the hostile id matched its own rows as a value, nothing else
    with warehouse.session(read_only=True) as session:
        assert session.rows("select symbol, trade_date, close from raw.stock_prices order by all") == [
            ("NVDA", date(2026, 1, 16), 3.0), (HOSTILE, date(2026, 1, 15), 1.0), (HOSTILE, date(2026, 1, 16), 2.0)
        ]


@pytest.mark.integration
def test_a_hostile_symbol_goes_through_the_raw_load_and_the_checks_without_effect(
    shared, tmp_path, monkeypatch, instance
):
    """Past the pre-flight (which refuses it), the symbol is only ever a bound value: raw.stock_prices
    survives, every other row is untouched, the checks evaluate normally and the members check names it
    as a member without a market cap (a permanently unknown symbol among many)."""
    env = shared.copy_to(tmp_path)
    database = Path(env["DUCKDB_DATABASE"])
    # The folder's name is configuration too: it ends up inside the reader's read_csv('...').
    folder = tmp_path / "snap'); drop table raw.index_prices; --"
    shutil.copytree(shared.env["CTR_SNAPSHOT_DIR"], folder)
    prices = pd.read_csv(folder / "stock_prices.csv", dtype=str, keep_default_na=False)
    nvda = prices[prices["symbol"] == "NVDA"].assign(symbol=HOSTILE)
    pd.concat([prices, nvda]).to_csv(folder / "stock_prices.csv", index=False)
    before = contents(database, ("raw",))

    members = reference.basket_members()
    nvda_member = next(m for m in members if m.symbol == "NVDA")
    hostile = dataclasses.replace(nvda_member, symbol=HOSTILE, name=HOSTILE)
    monkeypatch.setattr(reference, "basket_members", lambda seeds_dir=SEEDS_DIR: (*members, hostile))
    defs = build_definitions(Settings(**{**env, "CTR_SNAPSHOT_DIR": str(folder)}))
    result = run_range(defs, instance, SLICE_START.isoformat(), SLICE_END.isoformat(),
                       [AssetKey(["raw", "stock_prices"])])
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"calendar_freshness": True}

    after = contents(database, ("raw",))
    with duckdb.connect(str(database)) as conn:
        members_check = check_members_priced(WarehouseSession(conn))
    stored = [r for r in after["raw.stock_prices"] if r[0] == HOSTILE]
    assert len(stored) == len(nvda) > 0
    # The reloaded rows name the folder they came from, quote and all, as a value.
    others = [r for r in after["raw.stock_prices"] if r[0] != HOSTILE]
    assert {r[-1] for r in others} == {f"snapshot:{folder.name}"}
    assert [r[:-1] for r in others] == [r[:-1] for r in before["raw.stock_prices"]]
    assert {t: rows for t, rows in after.items() if t != "raw.stock_prices"} == {
        t: rows for t, rows in before.items() if t != "raw.stock_prices"}
    assert not members_check.passed
    assert f"{HOSTILE} (no price yet" in members_check.description
    assert duplicate_keys(database) == {}


# --- fault 12: overlapping backfills --------------------------------------------------------------


@pytest.mark.integration
def test_an_overlapping_backfill_on_the_warehouse_loses_and_duplicates_nothing(shared, tmp_path, instance):
    """The shared build is the backfill of the whole slice; a second backfill over its last six weeks
    (one run, as the UI launches it) leaves every raw row and every mart row as they were."""
    env = shared.copy_to(tmp_path)
    database = Path(env["DUCKDB_DATABASE"])
    before = contents(database)
    overlap_start = date(2025, 12, 8)

    result = run_range(build_definitions(Settings(**env)), instance, overlap_start.isoformat(), SLICE_END.isoformat())
    assert result.success

    after = contents(database)
    assert duplicate_keys(database) == {}
    assert {t: len(r) for t, r in after.items() if t.startswith("marts.")} == {
        t: len(r) for t, r in before.items() if t.startswith("marts.")}
    # Every raw table (as-of ones included: a first day that only restates the value in force is not
    # stored again), the seeds and every mart: identical, row for row.
    same = [t for t in after if not t.startswith("intermediate.")]
    assert differences({t: after[t] for t in same}, {t: before[t] for t in same}) == []


# --- fault 11: SIGKILL in the middle of dbt ------------------------------------------------------


def _dbt_progress(instance: DagsterInstance) -> tuple[str | None, int, bool]:
    """(run id, dbt materialisations so far, dbt step finished) of the one run in the instance."""
    runs = instance.get_runs()
    if not runs:
        return None, 0, False
    run_id = runs[0].run_id
    events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event and e.step_key == DBT_STEP]
    done = sum(1 for e in events if e.event_type == DagsterEventType.ASSET_MATERIALIZATION)
    finished = any(e.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) for e in events)
    return run_id, done, finished


KILLED_MID_DBT = "test_a_demo_killed_in_the_middle_of_dbt_leaves_the_committed_state_and_a_rerun_completes"
KILLED_MID_DBT_KEY = pytest.StashKey["KilledMidDbt"]()
# Seconds the killed demo may take to reach its dbt step's first materialisation.
KILL_DEADLINE = 300
# The scenario: two demos of about a minute each here, up to their own timeouts (KILL_DEADLINE, then
# tests/cli_runs.py RUN_TIMEOUT for the re-run), and a margin for a machine busy with the other tests.
KILLED_MID_DBT_TIMEOUT = KILL_DEADLINE + RUN_TIMEOUT + 120


class KilledMidDbt(threading.Thread):
    """The scenario of test_a_demo_killed_in_the_middle_of_dbt..., run in a thread: its assertions
    raise there and are raised again in the test."""

    def __init__(self, shared, root: Path):
        super().__init__(daemon=True, name="killed-mid-dbt")
        self.shared, self.root = shared, root
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _a_demo_killed_in_the_middle_of_dbt(self.shared, self.root)
        except BaseException as exc:  # noqa: BLE001 - raised again in the test
            self.error = exc

    def stop(self) -> None:
        # At the module's end, whatever happened: its demos are not left running (their own timeouts end them).
        self.join(timeout=KILLED_MID_DBT_TIMEOUT)


@pytest.mark.integration
def test_a_demo_killed_in_the_middle_of_dbt_leaves_the_committed_state_and_a_rerun_completes(shared, request):
    scenario = request.config.stash[KILLED_MID_DBT_KEY]
    scenario.join(timeout=KILLED_MID_DBT_TIMEOUT)
    assert not scenario.is_alive(), f"the scenario did not finish in {KILLED_MID_DBT_TIMEOUT}s; see {scenario.root}"
    if scenario.error is not None:
        raise scenario.error


def _a_demo_killed_in_the_middle_of_dbt(shared, tmp_path: Path) -> None:
    env = new_env(tmp_path)
    snapshot = Path(shared.env["CTR_SNAPSHOT_DIR"])
    env.database.parent.mkdir(parents=True)
    shutil.copy(shared.database, env.database)
    published = published_path_for(env.database)
    published.parent.mkdir()
    shutil.copy(shared.published, published)
    before, before_published = contents(env.database), file_hash(published)

    # 1. The demo's own process SIGKILLed (not its group) once dbt has built part of the graph: dbt ends
    #    with it.
    out_path = tmp_path / "killed.out"
    with out_path.open("w") as out:
        killed = start_demo(env, snapshot, out)
    try:
        with DagsterInstance.from_config(str(env.home)) as instance:
            # Generous: the module's in-process runs share the machine with this demo.
            deadline = time.monotonic() + KILL_DEADLINE
            run_id, built_models, finished = None, 0, False
            while built_models == 0:
                assert killed.poll() is None and time.monotonic() < deadline, out_path.read_text()
                time.sleep(0.1)
                run_id, built_models, finished = _dbt_progress(instance)
            killed.send_signal(signal.SIGKILL)
            killed.wait(timeout=30)
            assert_session_ends(killed.pid)
            run_id, built_models, finished = _dbt_progress(instance)
            # Killed in the middle: dbt had built some models and had not finished.
            assert built_models > 0 and not finished
            assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED
    finally:
        if killed.poll() is None:
            os.killpg(killed.pid, signal.SIGKILL)

    # 2. The file opens read-write (DuckDB replays its WAL) and holds the committed state: the same
    #    tables, the same rows (the killed run's raw loads rewrote the same data), no leftover dbt
    #    temporary tables, no duplicate key; the published copy is untouched.
    duckdb.connect(str(env.database)).close()
    after = contents(env.database)
    assert differences(after, before) == []
    assert duplicate_keys(env.database) == {}
    assert file_hash(published) == before_published

    # 3. The next demo recovers the dead run and completes: the same warehouse as the shared build.
    again = run_demo(env, snapshot)
    assert again.returncode == 0, again.text
    assert again.lines[1].startswith(
        f"  warning (run): Run {run_id} died while writing the warehouse (pid {killed.pid} on "), again.text
    assert differences(contents(env.database), contents(shared.database)) == []
    assert duplicate_keys(env.database) == {}
    assert file_hash(published) != before_published
