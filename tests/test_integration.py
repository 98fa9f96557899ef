"""The whole graph on a small snapshot, checked row for row against an independent pandas oracle."""

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import instance_for_test

from orchestration.datasets import DATASETS
from orchestration.definitions import build_definitions
from orchestration.settings import SAMPLE_DIR, SEEDS_DIR
from tests.conftest import run_range
from tests.reference_marts import MART_KEYS, compare_frames, compute_marts
from tests.snapshot_warehouse import snapshot_settings

# Shaped like a user's own export rather than the sample's tidy start: the folder holds history from
# 2024-01-02, but CTR_START_DATE is 2024-02-12, a Monday on which Shanghai, Shenzhen and Hong Kong are
# closed for Lunar New Year and the US trades. Every share count and constituent list in force at the
# start is dated before it, and the window opens without a CNY rate (the rows of Feb 9 and 12 are cut).
# Also: Feb 29, US and Asian holidays, late listings (9660.HK, SNDK, CRWV), the NVDA split, a
# three-week suspension of 688256.SS, a missing HKD day, and one-year look-backs NULL for the first
# year and defined after it.
FIRST_ROW, START, END = date(2024, 1, 2), date(2024, 2, 12), date(2025, 3, 31)
CUT = {
    "fx_rates": "(currency = 'CNY' and trade_date in ('2024-02-09', '2024-02-12'))"
    " or (currency = 'HKD' and trade_date = '2024-07-10')",
    "stock_prices": "symbol = '688256.SS' and trade_date between '2024-06-03' and '2024-06-21'",
}

pytestmark = pytest.mark.integration


def write_small_snapshot(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for dataset in DATASETS:
        frame = pd.read_csv(SAMPLE_DIR / dataset.file_name, dtype=str, keep_default_na=False)
        dates = pd.to_datetime(frame[dataset.date_column]).dt.date
        frame = frame[(dates >= FIRST_ROW) & (dates <= END)]
        if dataset.name in CUT:
            cut = duckdb.sql(f"select * from frame where not ({CUT[dataset.name]})").df()
            frame = cut.astype(str).replace({"nan": "", "None": ""})
        frame.to_csv(folder / dataset.file_name, index=False)
    return folder


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("integration")
    snapshot = write_small_snapshot(root / "snapshot")
    with instance_for_test() as instance:
        settings = snapshot_settings(root, snapshot, START)
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
    expected = compute_marts(snapshot, SEEDS_DIR, start=START)[mart]
    with duckdb.connect(str(settings.duckdb_database), read_only=True) as conn:
        actual = conn.execute(f"select * from marts.{mart}").df()
    assert len(expected) > 0
    assert compare_frames(actual, expected, MART_KEYS[mart], rel_tol=1e-9) == []


def test_as_of_inputs_dated_before_the_start_are_in_force_from_the_first_day(warehouse):
    settings, _, _ = warehouse
    with duckdb.connect(str(settings.duckdb_database), read_only=True) as conn:
        first_day = conn.execute(
            "select count(*), count(market_cap_usd) from marts.fct_ai_basket_members_daily"
            " where trade_date = ?", [START]
        ).fetchone()
        constituents = conn.execute(
            "select index_id, count(*) from raw.index_constituents where as_of_date = ? group by 1 order by 1",
            [START],
        ).fetchall()
        cny = conn.execute("select usd_per_unit from raw.fx_rates where currency = 'CNY' and trade_date = ?", [START])
        cny = cny.fetchone()
    assert first_day[0] > 0 and first_day[1] == first_day[0]  # only US members trade that day, all priced
    assert constituents == [("HSTECH", 30), ("STAR50", 50)]
    sample_fx = pd.read_csv(SAMPLE_DIR / "fx_rates.csv")
    assert cny == (sample_fx.query("currency == 'CNY' and trade_date == '2024-02-08'").usd_per_unit.item(),)


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
