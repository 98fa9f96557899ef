"""The carry-in rule: an as-of dataset's window opens with the value in force at its first day."""

from datetime import date

import pandas as pd

from orchestration.datasets import FX_RATES, INDEX_CONSTITUENTS, SHARES_OUTSTANDING
from orchestration.resources.providers.base import carry_in
from orchestration.resources.providers.snapshot import SnapshotProvider

START, END = date(2025, 3, 1), date(2025, 3, 31)


def frame(rows, columns):
    out = pd.DataFrame(rows, columns=columns)
    out[columns[1]] = pd.to_datetime(out[columns[1]]).dt.date
    return out


def test_the_count_in_force_at_start_is_restamped_to_start():
    shares = frame(
        [("A", "2024-06-30", 100.0), ("A", "2025-01-15", 110.0), ("A", "2025-03-20", 120.0), ("A", "2025-04-02", 130.0)],
        ["symbol", "as_of_date", "shares_outstanding"],
    )
    out = carry_in(SHARES_OUTSTANDING, shares, START, END)
    assert out.values.tolist() == [["A", START, 110.0], ["A", date(2025, 3, 20), 120.0]]


def test_an_id_with_a_row_on_the_first_day_carries_nothing():
    fx = frame([("CNY", "2025-02-28", 0.137), ("CNY", "2025-03-01", 0.138)], ["currency", "trade_date", "usd_per_unit"])
    assert carry_in(FX_RATES, fx, START, END).values.tolist() == [["CNY", START, 0.138]]


def test_a_window_opening_on_a_holiday_gets_the_last_rate_before_it():
    fx = frame([("HKD", "2025-02-27", 0.1285), ("HKD", "2025-02-28", 0.1286), ("HKD", "2025-03-03", 0.1287)],
               ["currency", "trade_date", "usd_per_unit"])
    assert carry_in(FX_RATES, fx, START, END).values.tolist() == [["HKD", START, 0.1286], ["HKD", date(2025, 3, 3), 0.1287]]


def test_the_whole_constituent_list_in_force_is_carried():
    lists = frame(
        [("STAR50", "2024-12-13", "A.SS", 1.0), ("STAR50", "2025-01-10", "A.SS", 2.0), ("STAR50", "2025-01-10", "B.SS", 3.0)],
        ["index_id", "as_of_date", "symbol", "weight"],
    )
    out = carry_in(INDEX_CONSTITUENTS, lists, START, END)
    assert out.values.tolist() == [["STAR50", START, "A.SS", 2.0], ["STAR50", START, "B.SS", 3.0]]


def test_rows_after_the_window_and_ids_without_history_are_left_out():
    shares = frame([("A", "2025-04-02", 130.0)], ["symbol", "as_of_date", "shares_outstanding"])
    assert carry_in(SHARES_OUTSTANDING, shares, START, END).empty


def test_the_snapshot_provider_carries_values_from_before_the_window(tmp_path):
    (tmp_path / "shares_outstanding.csv").write_text(
        "symbol,as_of_date,shares_outstanding\nNVDA,2023-06-30,2.46e9\nNVDA,2024-06-10,2.45e10\n"
    )
    (tmp_path / "fx_rates.csv").write_text("currency,trade_date,usd_per_unit\nCNY,2023-12-29,0.1408\nCNY,2024-01-02,0.1400\n")
    provider = SnapshotProvider(snapshot_dir=str(tmp_path))
    shares = provider.fetch(SHARES_OUTSTANDING, ["NVDA"], date(2024, 1, 1), date(2024, 12, 31)).frame
    assert shares.values.tolist() == [["NVDA", date(2024, 1, 1), 2.46e9], ["NVDA", date(2024, 6, 10), 2.45e10]]
    fx = provider.fetch(FX_RATES, ["CNY"], date(2024, 1, 1), date(2024, 1, 31)).frame
    assert fx.values.tolist() == [["CNY", date(2024, 1, 1), 0.1408], ["CNY", date(2024, 1, 2), 0.1400]]


def test_daily_runs_store_a_share_count_once_not_once_a_day(tmp_path):
    """After the first window, the value the carry-in brings along is already in force in raw: the
    next windows do not store it again (raw.shares_outstanding must not grow by a row per symbol a day)."""
    from datetime import timedelta

    from assets.raw import drop_restatements
    from orchestration.resources.warehouse import DuckDBFileWarehouse

    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "shares_outstanding.csv").write_text(
        "symbol,as_of_date,shares_outstanding\nNVDA,2023-06-30,2.46e9\nNVDA,2024-01-04,2.47e9\n"
    )
    provider = SnapshotProvider(snapshot_dir=str(tmp_path / "snap"))
    warehouse = DuckDBFileWarehouse(database=str(tmp_path / "w.duckdb"))
    day = date(2024, 1, 1)
    for _ in range(6):
        fetched = provider.fetch(SHARES_OUTSTANDING, ["NVDA"], day, day)
        result = drop_restatements(fetched, warehouse, day)
        warehouse.replace_window(result, ["NVDA"], day, day, loaded_at=pd.Timestamp("2026-01-01").to_pydatetime())
        day += timedelta(days=1)
    with warehouse.session() as wh:
        rows = wh.rows("select as_of_date, shares_outstanding from raw.shares_outstanding order by 1")
    assert rows == [(date(2024, 1, 1), 2.46e9), (date(2024, 1, 4), 2.47e9)]
