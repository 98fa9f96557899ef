"""Incremental marts equal a full rebuild, row for row.

A small warehouse is fed from the bundled sample the way the schedules feed it: a first build, then
day by day across a month end and a year end, one multi-day window (a backfill), then a late
correction of old raw rows (an index close, a member's close, an FX rate and a share count), each
followed by an incremental dbt run on that window. A copy of the result is then rebuilt with
--full-refresh, and every incremental table must match it row for row.

dbt runs in this process on the parsed manifest (dbtRunner), so each run costs its SQL and not a
Python start-up and a parse; Dagster's side (the window handed to dbt) is tested in test_dbt_window.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from assets.dbt.exchange_sessions import write_exchange_sessions
from orchestration.datasets import DATASETS
from orchestration.dbt_project import dbt_project
from orchestration.settings import SAMPLE_DIR
from tests.reference_marts import compare_frames

pytestmark = pytest.mark.integration

FIRST = date(2024, 1, 2)
INITIAL_END = date(2024, 11, 28)
# Day by day over November -> December (the month's last session, then the new month's first two: the
# second reads its month-to-date anchor from a run before the previous one), one backfill-sized window,
# then day by day over the year end (the last session of 2024, then 2025's first three: 2025-01-03's
# one-year anchor is 2024-01-03, corrected below).
STEPS = [
    *[(d, d) for d in ("2024-11-29", "2024-12-02", "2024-12-03")],
    ("2024-12-04", "2024-12-30"),
    *[(d, d) for d in ("2024-12-31", "2025-01-02", "2025-01-03", "2025-01-06")],
]
# A late correction of old partitions. 2024-01-03 is the one-year anchor of 2025-01-03 and the previous
# row of 2024-01-04; the share count of 2024-10-08 is in force until 2025-01-02.
CORRECTED = ("2024-01-03", "2024-10-08")
CORRECTIONS = [
    "update raw.index_prices set close = close * 1.1 where trade_date = date '2024-01-03'",
    "update raw.stock_prices set close = close * 1.2 where trade_date = date '2024-01-03' and symbol = '688256.SS'",
    "update raw.fx_rates set usd_per_unit = usd_per_unit * 1.01 where trade_date = date '2024-01-03' and currency = 'HKD'",
    (
        "update raw.shares_outstanding set shares_outstanding = shares_outstanding * 2"
        " where as_of_date = date '2024-10-08' and symbol = '002230.SZ'"
    ),
]

# Every incremental model and its grain.
INCREMENTAL = {
    "intermediate.int_index_period_anchors": ["index_id", "trade_date"],
    "intermediate.int_benchmark_returns_asof": ["index_id", "benchmark_id", "trade_date"],
    "intermediate.int_basket_member_prices": ["basket_id", "symbol", "trade_date"],
    "intermediate.int_basket_member_dates": ["basket_id", "symbol", "trade_date"],
    "intermediate.int_basket_members_asof": ["basket_id", "symbol", "trade_date"],
    "marts.fct_index_returns": ["index_id", "trade_date"],
    "marts.fct_relative_performance": ["index_id", "benchmark_id", "trade_date", "period"],
    "marts.fct_ai_basket_members_daily": ["basket_id", "symbol", "trade_date"],
    "marts.fct_ai_basket_market_cap": ["basket_id", "trade_date"],
    "marts.fct_ai_market_cap_ratio": ["trade_date"],
    "marts.fct_ai_basket_comparison": ["basket_id", "compared_with", "trade_date"],
    "marts.fct_security_returns": ["symbol", "trade_date"],
    "marts.fct_ai_basket_member_contribution": ["basket_id", "symbol", "period", "trade_date"],
    "marts.fct_ai_basket_subsector_contribution": ["basket_id", "subsector", "period", "trade_date"],
}


def load_raw(database: Path, start: date, end: date) -> None:
    """Raw rows of the sample dated in [start, end], as the raw assets would have written them."""
    with duckdb.connect(str(database)) as conn:
        conn.execute("create schema if not exists raw")
        for d in DATASETS:
            conn.execute(d.ddl())
            columns = ", ".join(d.column_names)
            conn.execute(
                f"insert into {d.table} ({columns}, source, loaded_at)"
                f" select {columns}, 'sample:test', now() from read_csv(?, header = true)"
                f" where {d.date_column} between ? and ?",
                [str(SAMPLE_DIR / d.file_name), start, end],
            )
        write_exchange_sessions(conn)  # what the asset reference/exchange_sessions does before dbt


class Dbt:
    """dbt in this process on the project's parsed manifest: no start-up and no parse per run."""

    def __init__(self, database: Path, monkeypatch: pytest.MonkeyPatch):
        from dbt.cli.main import dbtRunner

        self.database, self.monkeypatch = database, monkeypatch
        monkeypatch.setenv("DUCKDB_DATABASE", str(database))
        parsed = dbtRunner().invoke(self._args("parse"))
        assert parsed.success, parsed.exception
        self.runner = dbtRunner(manifest=parsed.result)

    def _args(self, command: str, *extra: str) -> list[str]:
        return [command, "--project-dir", str(dbt_project.project_dir), "--profiles-dir",
                str(dbt_project.profiles_dir), "--target-path", str(self.database.parent / "dbt_target"),
                "--quiet", *extra]

    def run(self, window: tuple[str, str] | None = None, full_refresh: bool = False, database: Path | None = None):
        self.monkeypatch.setenv("DUCKDB_DATABASE", str(database or self.database))
        if window:
            self.monkeypatch.setenv("CTR_WINDOW_MIN_DATE", window[0])
            self.monkeypatch.setenv("CTR_WINDOW_MAX_DATE", window[1])
        else:
            self.monkeypatch.delenv("CTR_WINDOW_MIN_DATE", raising=False)
            self.monkeypatch.delenv("CTR_WINDOW_MAX_DATE", raising=False)
        extra = ["--full-refresh"] if full_refresh else []
        result = self.runner.invoke(self._args("build", "--exclude", "resource_type:test", "resource_type:unit_test", *extra))
        assert result.success, [r.message for r in result.result or [] if r.status != "success"]
        return result


def read(database: Path, table: str) -> pd.DataFrame:
    # Not read_only: dbt's adapter in this process may still hold the file with the default configuration.
    with duckdb.connect(str(database)) as conn:
        return conn.execute(f"select * from {table}").df()


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    """(incremental, full refresh) warehouses after the same sequence of raw loads."""
    root = tmp_path_factory.mktemp("incremental")
    # One file name for both: the parsed manifest names the catalog after it.
    incremental = root / "incremental" / "warehouse.duckdb"
    incremental.parent.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        load_raw(incremental, FIRST, INITIAL_END)
        dbt = Dbt(incremental, mp)
        dbt.run()
        for start, end in STEPS:
            load_raw(incremental, date.fromisoformat(start), date.fromisoformat(end))
            dbt.run((start, end))
        with duckdb.connect(str(incremental)) as conn:
            for statement in CORRECTIONS:
                assert conn.execute(statement).fetchone()[0] > 0, statement
        for day in CORRECTED:
            dbt.run((day, day))
        rebuilt = root / "full_refresh" / incremental.name
        rebuilt.parent.mkdir()
        # dbt's adapter in this process may still hold the file: checkpoint so the copy has every write.
        with duckdb.connect(str(incremental)) as conn:
            conn.execute("checkpoint")
        shutil.copy(incremental, rebuilt)
        dbt.run(full_refresh=True, database=rebuilt)
        # The docs site is generated from the same manifest and the warehouse's catalog.
        docs = dbt.runner.invoke(["docs", *dbt._args("generate")])
        assert docs.success, docs.exception
        catalog = json.loads((incremental.parent / "dbt_target" / "catalog.json").read_text())
    return incremental, rebuilt, catalog


@pytest.mark.parametrize("table", sorted(INCREMENTAL))
def test_incremental_runs_equal_a_full_refresh_row_for_row(warehouses, table):
    incremental, rebuilt, _ = warehouses
    actual, expected = read(incremental, table), read(rebuilt, table)
    assert len(expected) > 0
    assert list(actual.columns) == list(expected.columns)
    assert compare_frames(actual, expected, INCREMENTAL[table], rel_tol=1e-12) == []


def test_the_late_correction_reached_the_one_year_ahead_rows(warehouses):
    incremental, _, _ = warehouses
    with duckdb.connect(str(incremental)) as conn:
        anchored = conn.execute(
            "select r.trailing_1y_return, r.close / a.one_year_back_close - 1"
            " from marts.fct_index_returns as r join intermediate.int_index_period_anchors as a using (index_id, trade_date)"
            " where r.index_id = 'NDX' and r.trade_date = date '2025-01-03'"
        ).fetchone()
        corrected = conn.execute(
            "select close from raw.index_prices where index_id = 'NDX' and trade_date = date '2024-01-03'"
        ).fetchone()[0]
        one_year_back = conn.execute(
            "select one_year_back_date, one_year_back_close from intermediate.int_index_period_anchors"
            " where index_id = 'NDX' and trade_date = date '2025-01-03'"
        ).fetchone()
    assert one_year_back == (date(2024, 1, 3), pytest.approx(corrected, rel=1e-12))
    assert anchored[0] == pytest.approx(anchored[1], rel=1e-12)


def test_dbt_docs_generate_documents_every_mart(warehouses):
    *_, catalog = warehouses
    documented = {node["metadata"]["name"] for node in catalog["nodes"].values() if node["metadata"]["schema"] == "marts"}
    assert {"fct_index_returns", "fct_ai_market_cap_ratio", "dim_security"} <= documented
