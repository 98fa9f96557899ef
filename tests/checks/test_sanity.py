"""Value sanity: non-positive values (ERROR, blocking); day-on-day moves are the plausibility audits'."""

from datetime import date

import pandas as pd
from dagster import AssetCheckSeverity, AssetKey, Definitions

from assets.checks.sanity import check_positive_values
from orchestration.datasets import FX_RATES, INDEX_PRICES, SHARES_OUTSTANDING, STOCK_PRICES
from orchestration.resources.providers.base import FetchResult
from orchestration.resources.providers.snapshot import SnapshotProvider
from tests.conftest import run_range


def test_clean_data_passes(warehouse_copy):
    for dataset in (INDEX_PRICES, STOCK_PRICES, FX_RATES, SHARES_OUTSTANDING):
        assert check_positive_values(warehouse_copy, dataset).passed


def test_zero_or_negative_price_is_an_error_naming_the_rows(warehouse_copy):
    warehouse_copy.execute("update raw.stock_prices set close = 0 where symbol = 'NVDA' and trade_date = '2026-01-14'")
    warehouse_copy.execute("update raw.stock_prices set low = -1 where symbol = '0700.HK' and trade_date = '2026-01-13'")
    result = check_positive_values(warehouse_copy, STOCK_PRICES)
    assert not result.passed and result.severity == AssetCheckSeverity.ERROR
    assert result.metadata["failing_rows"].value == 2
    assert result.metadata["failing_ids"].value == ["0700.HK", "NVDA"]
    assert "| NVDA | 2026-01-14 | close | 0 |" in result.metadata["rows"].value


def test_infinite_or_overflowing_values_already_in_raw_are_an_error(warehouse_copy):
    # Rows written before the load screened values (or by hand) are still caught by the blocking check.
    warehouse_copy.execute("update raw.stock_prices set close = 'inf' where symbol = 'NVDA' and trade_date = '2026-01-14'")
    warehouse_copy.execute("update raw.fx_rates set usd_per_unit = 1e308 where currency = 'CNY' and trade_date = '2026-01-14'")
    stock, fx = check_positive_values(warehouse_copy, STOCK_PRICES), check_positive_values(warehouse_copy, FX_RATES)
    assert not stock.passed and stock.severity == AssetCheckSeverity.ERROR
    assert stock.metadata["failing_ids"].value == ["NVDA"]
    assert not fx.passed and fx.metadata["failing_ids"].value == ["CNY"]


class BadPriceProvider(SnapshotProvider):
    """A source that delivers a negative close (the snapshot reader would refuse the file)."""

    def stock_prices(self, symbols, start, end):
        frame = pd.DataFrame({"symbol": ["NVDA", "NVDA"], "trade_date": [date(2026, 1, 14), date(2026, 1, 15)],
                              "close": [180.0, -1.0], "currency": ["USD", "USD"]})
        frame = frame[frame["symbol"].isin(symbols) & frame["trade_date"].between(start, end)]
        return FetchResult(STOCK_PRICES, frame, "bad")


def test_negative_price_never_reaches_raw_nor_the_marts(built, tmp_path, instance, monkeypatch):
    monkeypatch.setenv("DUCKDB_DATABASE", str(tmp_path / "w.duckdb"))
    defs = built.defs
    resources = {**defs.resources, "provider": BadPriceProvider(snapshot_dir=str(tmp_path)),
                 "warehouse": type(defs.resources["warehouse"])(database=str(tmp_path / "w.duckdb"))}
    blocked = Definitions(assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs,
                          resources=resources, executor=defs.executor)
    result = run_range(blocked, instance, "2026-01-14", "2026-01-15")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure and e.step_key == "raw__stock_prices")
    cause = failure.event_specific_data.error.cause
    assert "NVDA" in cause.message and "2026-01-15: close = -1.0" in cause.message
    assert "nothing was written" in cause.message
    materialised = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey(["raw", "stock_prices"]) not in materialised
    assert not any(k.path[0] == "marts" for k in materialised)


def test_a_windowed_run_checks_the_rows_of_its_window(warehouse_copy):
    # The raw loads of a partition run replace exactly its window: the rows before it were checked by the
    # runs that wrote them, and a daily run reads a day, not the history.
    warehouse_copy.execute("update raw.stock_prices set close = 0 where symbol = 'NVDA' and trade_date = '2026-01-13'")
    inside = check_positive_values(warehouse_copy, STOCK_PRICES, date(2026, 1, 13), date(2026, 1, 13))
    after = check_positive_values(warehouse_copy, STOCK_PRICES, date(2026, 1, 14), date(2026, 1, 14))
    assert not inside.passed and inside.metadata["failing_ids"].value == ["NVDA"]
    assert after.passed and after.metadata["window"].value == "2026-01-14 to 2026-01-14"
