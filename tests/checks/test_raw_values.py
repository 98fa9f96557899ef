"""Values no price, rate or share count can take (zero, negative, NaN, infinite, 1e15 and more): the load
refuses them, and a row that reached raw another way fails the staging models' dbt test, so nothing is
built on it. How far a value may move day on day is the plausibility audits' (test_plausibility.py)."""

import shutil
from datetime import date

import duckdb
import pandas as pd
from dagster import AssetKey, Definitions

from orchestration.datasets import STOCK_PRICES
from orchestration.definitions import build_definitions
from orchestration.resources.providers.base import FetchResult
from orchestration.resources.providers.snapshot import SnapshotProvider
from orchestration.settings import Settings
from tests.conftest import run_range

DBT_LAYERS = ("staging", "intermediate", "marts")


def test_a_bad_value_already_in_raw_fails_the_staging_test_and_builds_nothing_on_it(built, tmp_path, instance):
    day = "2026-01-14"
    database = tmp_path / "warehouse" / built.database.name  # dbt names the catalog after the file
    database.parent.mkdir()
    shutil.copy(built.database, database)
    with duckdb.connect(str(database)) as conn:
        conn.execute("update raw.stock_prices set close = 'inf' where symbol = 'NVDA' and trade_date = ?", [day])
        conn.execute("update raw.fx_rates set usd_per_unit = 1e308 where currency = 'CNY' and trade_date = ?", [day])
    defs = build_definitions(Settings(**{**built.env, "DUCKDB_DATABASE": str(database)}))
    dbt_keys = [k for k in defs.resolve_all_asset_keys() if k.path[0] in DBT_LAYERS]
    result = run_range(defs, instance, day, day, dbt_keys)
    assert not result.success
    failed = {e.asset_key.to_user_string() for e in result.get_asset_check_evaluations() if not e.passed}
    assert {"staging/stg_stock_prices", "staging/stg_fx_rates"} <= failed
    built_now = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey(["marts", "fct_ai_basket_members_daily"]) not in built_now
    assert AssetKey(["marts", "fct_fx_rates"]) not in built_now


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
