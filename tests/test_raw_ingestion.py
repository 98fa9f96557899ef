from datetime import date

import duckdb
import pytest
from dagster import AssetKey

from orchestration.datasets import DATASETS
from orchestration.definitions import build_definitions
from tests.conftest import run_range

RAW_KEYS = [AssetKey(["raw", d.name]) for d in DATASETS]

INDEX_PRICES = """index_id,trade_date,close,open,high,low,volume
STAR50,2024-01-02,900.0,899,905,890,1000
STAR50,2024-01-03,910.5,,,,
STAR50,2024-01-04,905.25,,,,
NDX,2024-01-02,16500,,,,
NDX,2024-01-03,16400,,,,
NDX,2024-01-05,16600,,,,
NOT_IN_SEEDS,2024-01-02,1,,,,
"""
FX_RATES = """currency,trade_date,usd_per_unit
CNY,2024-01-02,0.14
CNY,2024-01-03,0.1401
HKD,2024-01-02,0.128
"""
STOCK_PRICES = """symbol,trade_date,close,currency
NVDA,2024-01-02,48.1,USD
NVDA,2024-01-03,47.5,USD
0700.HK,2024-01-02,290.0,HKD
"""


@pytest.fixture
def snapshot(tmp_path):
    folder = tmp_path / "snapshot"
    folder.mkdir()
    (folder / "index_prices.csv").write_text(INDEX_PRICES)
    (folder / "fx_rates.csv").write_text(FX_RATES)
    return folder


def table_rows(settings, table):
    with duckdb.connect(str(settings.duckdb_database), read_only=True) as conn:
        return conn.execute(f"select * exclude (loaded_at) from raw.{table} order by all").fetchall()


def test_backfill_range_is_one_run_and_rerunning_it_changes_nothing(snapshot, settings_for, instance):
    settings = settings_for(snapshot)
    defs = build_definitions(settings)

    first = run_range(defs, instance, "2024-01-01", "2024-01-05", RAW_KEYS)
    assert first.success
    assert len(instance.get_runs()) == 1
    prices = table_rows(settings, "index_prices")
    assert len(prices) == 6  # NOT_IN_SEEDS is not requested
    assert len(table_rows(settings, "fx_rates")) == 3

    # One run asked the provider for the whole window at once.
    mats = instance.get_latest_materialization_event(AssetKey(["raw", "index_prices"]))
    assert mats.asset_materialization.metadata["window"].value == "2024-01-01..2024-01-05"

    again = run_range(defs, instance, "2024-01-01", "2024-01-05", RAW_KEYS)
    assert again.success
    assert table_rows(settings, "index_prices") == prices

    single = run_range(defs, instance, "2024-01-03", "2024-01-03", RAW_KEYS)
    assert single.success
    assert table_rows(settings, "index_prices") == prices


def test_folder_with_some_files_loads_what_it_has(snapshot, settings_for, instance):
    settings = settings_for(snapshot)
    result = run_range(build_definitions(settings), instance, "2024-01-01", "2024-01-05", RAW_KEYS)
    assert result.success
    # Tables for absent files exist, empty, so dbt sources always resolve.
    assert table_rows(settings, "stock_prices") == []
    assert table_rows(settings, "index_constituents") == []
    mat = instance.get_latest_materialization_event(AssetKey(["raw", "stock_prices"])).asset_materialization
    assert "stock_prices.csv does not exist" in str(mat.metadata["ids_failed"].value)


def test_rows_carry_source_and_load_time(snapshot, settings_for, instance):
    settings = settings_for(snapshot)
    run_range(build_definitions(settings), instance, "2024-01-02", "2024-01-02", RAW_KEYS)
    with duckdb.connect(str(settings.duckdb_database), read_only=True) as conn:
        source, loaded_at = conn.execute("select distinct source, loaded_at from raw.index_prices").fetchone()
    assert source == "snapshot:snapshot"
    assert loaded_at.date() >= date(2026, 1, 1)


def test_bad_file_fails_the_asset_with_location_and_keeps_existing_rows(snapshot, settings_for, instance):
    settings = settings_for(snapshot)
    defs = build_definitions(settings)
    (snapshot / "stock_prices.csv").write_text(STOCK_PRICES)
    assert run_range(defs, instance, "2024-01-01", "2024-01-05", RAW_KEYS).success
    before = table_rows(settings, "stock_prices")
    assert len(before) == 3

    (snapshot / "stock_prices.csv").write_text(STOCK_PRICES + "NVDA,2024-01-04,-1,USD\n")
    failed = run_range(build_definitions(settings), instance, "2024-01-01", "2024-01-05", RAW_KEYS)
    assert not failed.success
    errors = [
        str(e.event_specific_data.error.cause or e.event_specific_data.error)
        for e in failed.all_events
        if e.is_step_failure
    ]
    assert any("stock_prices.csv, line 5, column 'close' (symbol NVDA): must be greater than zero" in e for e in errors)
    assert table_rows(settings, "stock_prices") == before


def test_a_snapshot_file_written_inside_duckdb_lands_exactly_as_through_a_frame(tmp_path):
    # A snapshot file goes source-to-table in SQL (no frame of 20M rows); a live source goes through a
    # frame. Both must write the same rows and report the same summary, on the bundled sample's prices.
    from datetime import datetime

    from assets.raw import write_from_query
    from orchestration import reference
    from orchestration.datasets import STOCK_PRICES
    from orchestration.resources.providers.snapshot import SnapshotProvider
    from orchestration.resources.warehouse import DuckDBFileWarehouse
    from orchestration.settings import SAMPLE_DIR

    provider = SnapshotProvider(snapshot_dir=str(SAMPLE_DIR))
    ids = [*reference.stock_symbols()[:12], "NOT.LISTED"]
    start, end, loaded_at = date(2025, 12, 20), date(2026, 1, 10), datetime(2026, 1, 11)
    by_query = DuckDBFileWarehouse(database=str(tmp_path / "query.duckdb"))
    by_frame = DuckDBFileWarehouse(database=str(tmp_path / "frame.duckdb"))
    fetched = provider.fetch_query(STOCK_PRICES, ids, start, end)
    assert fetched is not None and "NOT.LISTED" in fetched.failures
    summaries = [
        write_from_query(fetched, by_query, ids, start, end, loaded_at),
        by_frame.replace_window(provider.fetch(STOCK_PRICES, ids, start, end), ids, start, end, loaded_at),
    ]
    tables = []
    for warehouse in (by_query, by_frame):
        with warehouse.session() as wh:
            tables.append(wh.rows("select * from raw.stock_prices order by symbol, trade_date"))
    assert tables[0] == tables[1] and len(tables[0]) > 100
    assert summaries[0] == summaries[1]
    assert summaries[0].first_date == start.replace(day=22) and len(summaries[0].ids_loaded) == 12
