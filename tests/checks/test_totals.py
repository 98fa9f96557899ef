"""Totals on the marts and the constituent snapshots: clean passes, each broken total fails by name."""

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
from dagster import AssetCheckSeverity

from assets.checks.totals import check_constituents, check_members_priced
from orchestration.resources.providers.snapshot import SnapshotProvider
from orchestration.settings import DBT_PROJECT_DIR

TOTALS = (check_members_priced, check_constituents)


def dbt_test(database: Path, test_name: str, window_start: str | None = None) -> list[dict]:
    """Run one dbt test against `database` (closed by the caller); returns its run_results entry.
    `window_start`: as an incremental run from the Dagster asset (CTR_WINDOW_MIN_DATE)."""
    env = {**os.environ, "DUCKDB_DATABASE": str(database)}
    env.pop("CTR_WINDOW_MIN_DATE", None)
    if window_start:
        env["CTR_WINDOW_MIN_DATE"] = window_start
    dbt = str(Path(sys.executable).parent / "dbt")
    # Its own target folder: the project's target/manifest.json is read by runs in other test processes.
    target = database.parent / "dbt_target"
    target.mkdir(exist_ok=True)
    shutil.copy(DBT_PROJECT_DIR / "target" / "partial_parse.msgpack", target)  # as dagster-dbt does: no full parse
    subprocess.run([dbt, "test", "--select", test_name, "--profiles-dir", ".", "--quiet", "--target-path", str(target)],
                   cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False)
    results = json.loads((target / "run_results.json").read_text())["results"]
    return [r for r in results if test_name in r["unique_id"]]


def broken_copy(built, tmp_path, *statements: str) -> Path:
    # Named like the warehouse: dbt's compiled SQL refers to the catalog by the file's name.
    copy = tmp_path / "copy" / built.database.name
    copy.parent.mkdir()
    shutil.copy(built.database, copy)
    with duckdb.connect(str(copy)) as conn:
        for sql in statements:
            conn.execute(sql)
    return copy


def meta(result, key):
    return result.metadata[key].value


def test_totals_passed_in_the_clean_build(built):
    evaluations = built.check_evaluations()
    for key in [("marts/fct_ai_basket_market_cap", "assert_basket_market_cap_equals_sum_of_members"),
                ("marts/fct_ai_basket_market_cap", "members_priced_equals_listed_members"),
                ("marts/fct_ai_basket_market_cap", "assert_basket_change_1y_follows_from_a_year_earlier"),
                ("marts/fct_ai_basket_members_daily", "assert_basket_members_have_market_cap"),
                ("raw/index_constituents", "snapshot_counts_and_weights")]:
        assert evaluations[key].passed, evaluations[key].description


def test_clean_warehouse_passes_direct_calls(warehouse_copy):
    for body in TOTALS:
        result = body(warehouse_copy)
        assert result.passed, result.description


def test_broken_basket_total_fails_the_dbt_test(built, tmp_path):
    copy = broken_copy(built, tmp_path,
        """update marts.fct_ai_basket_market_cap set market_cap_usd = market_cap_usd * 1.001
           where basket_id = 'CN_AI' and trade_date = '2026-01-14'""",
        """delete from marts.fct_ai_basket_members_daily
           where basket_id = 'GLOBAL_AI_EX_CN' and symbol = 'NVDA' and trade_date = '2026-01-13'""")
    [result] = dbt_test(copy, "assert_basket_market_cap_equals_sum_of_members")
    assert result["status"] == "fail" and result["failures"] == 2


def test_an_incremental_run_checks_the_key_of_the_rows_it_rewrote_and_a_full_build_every_row(built, tmp_path):
    # A duplicate member-day dated before the window: a run recomputing from 2026-01-14 did not write
    # it (it rewrites rows from its window start on), so its test does not scan the 20M rows before.
    copy = broken_copy(built, tmp_path,
        """insert into marts.fct_ai_basket_members_daily select * from marts.fct_ai_basket_members_daily
           where symbol = 'NVDA' and trade_date = '2026-01-13'""")
    test = "unique_combination_fct_ai_basket_members_daily_basket_id__symbol__trade_date"
    [windowed] = dbt_test(copy, test, window_start="2026-01-14")
    [whole] = dbt_test(copy, test)
    assert windowed["status"] == "pass"
    assert whole["status"] == "fail" and whole["failures"] == 1


def test_missing_member_warns_naming_the_symbol_and_why(warehouse_copy):
    # No price at all for Tencent, and no shares for Cambricon from 2026-01-12.
    warehouse_copy.execute("delete from marts.fct_ai_basket_members_daily where symbol = '0700.HK'")
    warehouse_copy.execute("""update marts.fct_ai_basket_members_daily set shares_outstanding = null,
                              market_cap_usd = null where symbol = '688256.SS' and trade_date >= '2026-01-12'""")
    result = check_members_priced(warehouse_copy)
    assert not result.passed and result.severity == AssetCheckSeverity.WARN
    assert meta(result, "missing_symbols") == ["0700.HK", "688256.SS"]
    table = meta(result, "by_symbol")
    assert "| CN_AI | 0700.HK | missing | no price yet |" in table
    assert "| CN_AI | 688256.SS | missing | no shares outstanding as of the date | 5 | 2026-01-12 | 2026-01-16 |" in table
    assert "['0700.HK', '688256.SS']" in meta(result, "failing_days_latest_first") or \
        "0700.HK, 688256.SS" in meta(result, "failing_days_latest_first")


def test_a_member_priced_before_its_listing_in_place_of_a_missing_one_warns(warehouse_copy):
    # Same count, different members: on 2026-01-07 Tencent has no price and Zhipu (listed 2026-01-08)
    # has one, so members_priced still equals the members listed; the check compares the members.
    warehouse_copy.execute("""update marts.fct_ai_basket_members_daily set symbol = '2513.HK'
                              where symbol = '0700.HK' and trade_date = '2026-01-07'""")
    result = check_members_priced(warehouse_copy)
    assert not result.passed
    table = meta(result, "by_symbol")
    assert "| CN_AI | 0700.HK | missing | no price yet | 1 | 2026-01-07 | 2026-01-07 |" in table
    assert "| CN_AI | 2513.HK | unexpected | priced before its seed listing date | 1 | 2026-01-07 | 2026-01-07 |" in table
    assert meta(result, "failing_days") == 1


def test_late_listings_and_closed_exchanges_are_not_missing(warehouse_copy):
    # The clean slice has five December/January listings and Tokyo members absent on Tokyo holidays
    # (2026-01-01..02, 01-12): none of that is a gap.
    result = check_members_priced(warehouse_copy)
    assert result.passed, result.description
    listed = warehouse_copy.execute("""select members_priced from marts.fct_ai_basket_market_cap
                                       where basket_id = 'CN_AI' and trade_date = '2026-01-16'""").fetchone()[0]
    assert listed == 33


def test_fx_gap_warns_in_the_dbt_test(built, tmp_path):
    copy = broken_copy(built, tmp_path,
        """update marts.fct_ai_basket_members_daily set usd_per_unit = null, market_cap_usd = null
           where currency = 'KRW' and trade_date = '2026-01-15'""")
    [result] = dbt_test(copy, "assert_basket_members_have_market_cap")
    assert result["status"] == "warn" and result["failures"] == 2  # one row per member: 000660.KS, 005930.KS


def test_one_year_change_checked_against_the_value_a_year_earlier(tmp_path):
    database = tmp_path / "china_tech_rally.duckdb"
    rows = [
        ("CN_AI", date(2023, 2, 28), 33, 33, 80.0, None, None, None),
        ("CN_AI", date(2024, 2, 28), 33, 33, 90.0, 80.0, 10.0, 12.5),
        # Feb 29 looks back to Feb 28.
        ("CN_AI", date(2024, 2, 29), 33, 33, 100.0, 80.0, 20.0, 25.0),
        # No value today: the year-ago value is still known, the change is not.
        ("CN_AI", date(2024, 3, 1), 33, 0, None, 80.0, None, None),
        ("CN_AI", date(2025, 2, 28), 33, 33, 150.0, 90.0, 60.0, 100 * (150 / 90 - 1)),
        # 2024-03-03 falls on a weekend after a day without value: the latest value before is Feb 29's.
        ("CN_AI", date(2025, 3, 3), 33, 33, 120.0, 100.0, 20.0, 20.0),
    ]
    with duckdb.connect(str(database)) as conn:
        conn.execute("create schema marts")
        conn.execute("""create table marts.fct_ai_basket_market_cap (basket_id varchar, trade_date date,
                        members int, members_priced int, market_cap_usd double, market_cap_usd_1y_ago double,
                        change_1y_usd double, change_1y_pct double)""")
        conn.executemany("insert into marts.fct_ai_basket_market_cap values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    test = "assert_basket_change_1y_follows_from_a_year_earlier"
    [clean] = dbt_test(database, test)
    assert clean["status"] == "pass", clean
    # The classic slips: anchoring Feb 28 2025 on Feb 29 2024, and a change not matching its anchor.
    with duckdb.connect(str(database)) as conn:
        conn.execute("update marts.fct_ai_basket_market_cap set market_cap_usd_1y_ago = 100, change_1y_usd = 50,"
                     " change_1y_pct = 50 where trade_date = '2025-02-28'")
        conn.execute("update marts.fct_ai_basket_market_cap set change_1y_usd = 25 where trade_date = '2025-03-03'")
    [broken] = dbt_test(database, test)
    assert broken["status"] == "fail" and broken["failures"] == 2


def test_constituent_snapshot_counts_and_weights(warehouse_copy):
    warehouse_copy.execute("""delete from raw.index_constituents where index_id = 'STAR50' and as_of_date = '2026-01-05'
                              and symbol = (select min(symbol) from raw.index_constituents
                                            where index_id = 'STAR50' and as_of_date = '2026-01-05')""")
    warehouse_copy.execute("""update raw.index_constituents set weight = weight + 1
                              where index_id = 'HSTECH' and as_of_date = '2026-01-02' and symbol = '0700.HK'""")
    result = check_constituents(warehouse_copy)
    assert not result.passed and result.severity == AssetCheckSeverity.WARN
    assert meta(result, "failing_snapshots") == 2
    assert "STAR50 2026-01-05 (49 names" in result.description
    assert "HSTECH 2026-01-02 (30 names, weights 101.0)" in result.description


def test_empty_marts_fail_as_warn_saying_why(warehouse_copy, tmp_path):
    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "index_prices.csv").write_text("index_id,trade_date,close\n")
    (folder / "fx_rates.csv").write_text("currency,trade_date,usd_per_unit\n")
    for table in ("raw.stock_prices", "raw.shares_outstanding", "raw.index_constituents",
                  "marts.fct_ai_basket_members_daily", "marts.fct_ai_basket_market_cap"):
        warehouse_copy.execute(f"delete from {table}")
    provider = SnapshotProvider(snapshot_dir=str(folder))
    for body in TOTALS:
        result = body(warehouse_copy, provider)
        assert not result.passed and result.severity == AssetCheckSeverity.WARN, body.__name__
    basket = check_members_priced(warehouse_copy, provider)
    assert basket.description.startswith(
        "marts.fct_ai_basket_market_cap is empty: raw.stock_prices is empty: the snapshot has no stock_prices.csv")
    assert "raw.shares_outstanding is empty: the snapshot has no shares_outstanding.csv" in basket.description
    assert "raw.index_constituents is empty: the snapshot has no index_constituents.csv" in \
        check_constituents(warehouse_copy, provider).description
