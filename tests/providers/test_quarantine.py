"""Value-level quarantine: a live answer's unusable values and conflicting duplicate days are set aside
one by one (audit.quarantine), not the id's whole window."""

from dataclasses import replace
from datetime import date, datetime

import duckdb
import pandas as pd
import pytest
from dagster import materialize

from assets.raw import build_raw_assets
from orchestration.datasets import STOCK_PRICES
from orchestration.partitions import daily_partitions
from orchestration.quarantine import quarantine
from orchestration.resources.providers.base import FetchResult
from orchestration.resources.providers.live import LiveProvider
from orchestration.resources.providers.yfinance_provider import forget_cached_responses
from orchestration.resources.warehouse import DuckDBFileWarehouse
from tests.providers.helpers import FAST

D = date.fromisoformat
COLUMNS = ["symbol", "trade_date", "close", "currency", "open", "volume"]


def answer(rows):
    return FetchResult(STOCK_PRICES, pd.DataFrame(rows, columns=COLUMNS), "yfinance:chart(test)")


def test_only_the_unusable_values_and_conflicting_days_are_set_aside():
    result, held = quarantine(answer([
        ("NVDA", D("2026-01-02"), 138.0, "USD", 137.0, 1e6),
        ("NVDA", D("2026-01-05"), 0.0, "USD", 139.0, 1e6),  # a zero close: the day is withheld
        ("NVDA", D("2026-01-06"), 140.0, "USD", -1.0, float("inf")),  # bad open and volume: NULL, row loads
        ("0700.HK", D("2026-01-02"), 390.0, "HKD", 389.0, 2e6),
        ("0700.HK", D("2026-01-02"), 390.0, "HKD", 389.0, 2e6),  # the same answer twice: one row
        ("0700.HK", D("2026-01-05"), 391.0, "HKD", 390.0, 2e6),
        ("0700.HK", D("2026-01-05"), 3910.0, "HKD", 390.0, 2e6),  # two closes for one day: withheld
    ]))
    frame = result.frame
    assert sorted(zip(frame.symbol, frame.trade_date)) == [
        ("0700.HK", D("2026-01-02")), ("NVDA", D("2026-01-02")), ("NVDA", D("2026-01-06"))]
    loaded = frame[frame.trade_date == D("2026-01-06")].iloc[0]
    assert loaded.close == 140.0 and pd.isna(loaded.open) and pd.isna(loaded.volume)
    assert held.withheld == [("0700.HK", D("2026-01-05")), ("NVDA", D("2026-01-05"))]
    records = {(r.id, r.trade_date, r.column_name, r.value) for r in held.rows.itertuples()}
    assert records == {
        ("0700.HK", D("2026-01-05"), "close", 391.0), ("0700.HK", D("2026-01-05"), "close", 3910.0),
        ("NVDA", D("2026-01-05"), "close", 0.0),
        ("NVDA", D("2026-01-06"), "open", -1.0), ("NVDA", D("2026-01-06"), "volume", float("inf")),
    }
    assert set(held.rows.source) == {"yfinance:chart(test)"}
    assert any("2 different answers for the same key (close differ)" in r for r in held.rows.reason)


def test_a_withheld_day_keeps_the_row_the_warehouse_already_holds(tmp_path):
    warehouse = DuckDBFileWarehouse(database=str(tmp_path / "w.duckdb"))
    stamp = datetime(2026, 1, 7)
    first = answer([("NVDA", D("2026-01-05"), 139.5, "USD", 139.0, 1e6),
                    ("NVDA", D("2026-01-06"), 140.0, "USD", 139.0, 1e6)])
    warehouse.replace_window(first, ["NVDA"], D("2026-01-05"), D("2026-01-06"), stamp)
    again, held = quarantine(answer([("NVDA", D("2026-01-05"), 0.0, "USD", 139.0, 1e6),
                                     ("NVDA", D("2026-01-06"), 141.0, "USD", 139.0, 1e6)]))
    warehouse.replace_window(again, ["NVDA"], D("2026-01-05"), D("2026-01-06"), stamp, keep=held.withheld)
    with warehouse.session(read_only=True) as wh:
        assert wh.rows("select trade_date, close from raw.stock_prices order by 1") == [
            (D("2026-01-05"), 139.5), (D("2026-01-06"), 141.0)]


@pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning", "ignore::FutureWarning")
def test_a_live_run_quarantines_a_negative_close_and_loads_the_rest_of_the_symbol(net, market, clock, tmp_path):
    database = tmp_path / "live.duckdb"
    run = {
        "assets": [a for a in build_raw_assets(daily_partitions(D("2026-01-01")))
                   if a.key.path[-1] == "stock_prices"],
        "resources": {"provider": LiveProvider(**FAST), "warehouse": DuckDBFileWarehouse(database=str(database))},
        "tags": {"dagster/asset_partition_range_start": "2026-01-12",
                 "dagster/asset_partition_range_end": "2026-01-16"},
    }
    assert materialize(**run).success
    bars = market.bars["yahoo:NVDA"]
    bad = next(i for i, b in enumerate(bars) if b.day == D("2026-01-14"))
    stored = bars[bad].close
    bars[bad] = replace(bars[bad], close=-1.0)
    forget_cached_responses()  # yfinance memoises the first run's answer in memory
    result = materialize(**run)
    assert result.success
    with duckdb.connect(str(database), read_only=True) as conn:
        nvda = dict(conn.execute(
            "select trade_date, close from raw.stock_prices where symbol = 'NVDA' order by 1").fetchall())
        held = conn.execute("select run_id, dataset, id, trade_date, column_name, value, source from audit.quarantine"
                            ).fetchall()
    # The other days of NVDA loaded; the refused one kept the close of the earlier run.
    assert len(nvda) == 5 and nvda[D("2026-01-14")] == pytest.approx(stored)
    assert held == [(result.run_id, "stock_prices", "NVDA", D("2026-01-14"), "close", -1.0,
                     "yfinance:chart(query2.finance.yahoo.com)")]
    [event] = [e for e in result.get_asset_materialization_events()][:1]
    assert event.materialization.metadata["values_quarantined"].value == 1


def test_a_one_day_window_whose_only_bar_is_missing_is_reported():
    # A daily run's window is one session: the id has no row at all, and is reported all the same,
    # unless it was not listed yet (its listed_on after the window) or the source failed on it.
    day = D("2026-01-16")
    result = replace(answer([("NVDA", day, 138.0, "USD", 137.0, 1e6)]), failures={"INTC": "HTTP 404"})
    _, held = quarantine(result, day, day, {"NVDA": day, "AMD": day, "MU": D("2026-02-02"), "INTC": day})
    assert held.missing == {"AMD": [day]}
    assert [(r.id, r.trade_date, r.column_name, r.source) for r in held.rows.itertuples()] == [
        ("AMD", day, "close", "yfinance:chart(test)")]
    assert pd.isna(held.rows.value[0]) and held.values == 0
