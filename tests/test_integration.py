"""The whole graph on a small snapshot, checked row for row against an independent pandas oracle."""

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import instance_for_test

from orchestration.datasets import DATASETS
from orchestration.definitions import build_definitions
from orchestration.settings import SAMPLE_DIR, SEEDS_DIR, Settings
from tests.conftest import run_range
from tests.reference_marts import MART_KEYS, compare_frames, compute_marts

# The sample's first 15 months: Feb 29, Lunar New Year and US holidays, late listings (9660.HK, SNDK,
# CRWV), the NVDA split, and one-year look-backs NULL for the first year and defined after it.
# Starting where the sample starts keeps every as-of input (first shares rows) inside the window.
START, END = date(2024, 1, 1), date(2025, 3, 31)

pytestmark = pytest.mark.integration


def write_small_snapshot(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for dataset in DATASETS:
        frame = pd.read_csv(SAMPLE_DIR / dataset.file_name, dtype=str, keep_default_na=False)
        dates = pd.to_datetime(frame[dataset.date_column]).dt.date
        frame[(dates >= START) & (dates <= END)].to_csv(folder / dataset.file_name, index=False)
    return folder


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("integration")
    snapshot = write_small_snapshot(root / "snapshot")
    with pytest.MonkeyPatch.context() as mp, instance_for_test() as instance:
        mp.setenv("DUCKDB_DATABASE", str(root / "warehouse.duckdb"))
        mp.setenv("CTR_SOURCE", "snapshot")
        mp.setenv("CTR_SNAPSHOT_DIR", str(snapshot))
        mp.setenv("CTR_START_DATE", START.isoformat())
        settings = Settings()
        result = run_range(build_definitions(settings), instance, START.isoformat(), END.isoformat())
        yield settings, snapshot, result


def test_the_whole_graph_materialises_in_one_run(warehouse):
    _, _, result = warehouse
    assert result.success
    failed_checks = [
        e.event_specific_data.asset_check_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    assert failed_checks == []


@pytest.mark.parametrize("mart", sorted(MART_KEYS))
def test_mart_matches_the_independent_oracle_row_for_row(warehouse, mart):
    settings, snapshot, _ = warehouse
    expected = compute_marts(snapshot, SEEDS_DIR)[mart]
    with duckdb.connect(str(settings.duckdb_database), read_only=True) as conn:
        actual = conn.execute(f"select * from marts.{mart}").df()
    assert len(expected) > 0
    assert compare_frames(actual, expected, MART_KEYS[mart], rel_tol=1e-9) == []


def test_readme_query_works_on_the_finished_warehouse(warehouse):
    settings, snapshot, _ = warehouse
    with duckdb.connect(str(settings.duckdb_database), read_only=True) as conn:
        rows = conn.execute(
            "select * from marts.fct_index_returns where index_id = 'STAR50' order by trade_date desc limit 5"
        ).df()
    prices = pd.read_csv(snapshot / "index_prices.csv", parse_dates=["trade_date"])
    star = prices[prices.index_id == "STAR50"].sort_values("trade_date")
    assert list(rows.trade_date) == list(star.trade_date.iloc[::-1][:5])
    # Hand-computed from the CSV: the last close over the last close of the previous month.
    last = star.iloc[-1]
    previous_month_end = star[star.trade_date < last.trade_date.replace(day=1)].iloc[-1]
    assert rows.mtd_return.iloc[0] == pytest.approx(last.close / previous_month_end.close - 1, rel=1e-12)
