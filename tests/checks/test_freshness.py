"""Calendar freshness: passes on the clean slice and through holidays, fails naming the stale ids."""

from datetime import UTC, date, datetime

import pytest
from dagster import AssetCheckSeverity

from assets.checks.freshness import (
    check_mart_basket_market_cap,
    check_mart_index_returns,
    check_raw_fx_rates,
    check_raw_index_prices,
    check_raw_stock_prices,
)
from orchestration.calendars import Instant, latest_closed_session
from orchestration.resources.clock import EvaluationClock
from orchestration.resources.providers.snapshot import SnapshotProvider
from tests.checks.conftest import AS_OF, insert
from tests.sample_slice import SLICE_END

CLOCK = EvaluationClock(as_of=AS_OF).resolve()
INDICES = {"STAR50": "XSHG", "CSI300": "XSHG", "CHINEXT": "XSHG", "HSTECH": "XHKG", "HSI": "XHKG", "NDX": "XNAS"}


def at(text: str) -> Instant:
    return EvaluationClock(as_of=text).resolve()


def meta(result, key):
    return result.metadata[key].value


def test_every_calendar_check_passed_in_the_clean_build(built):
    evaluations = built.check_evaluations()
    for key in ("raw/index_prices", "raw/stock_prices", "raw/fx_rates", "marts/fct_index_returns",
                "marts/fct_ai_basket_market_cap"):
        evaluation = evaluations[(key, "calendar_freshness")]
        assert evaluation.passed, evaluation.description
        assert evaluation.metadata["calendar_fallback_used"].value is False
    # In snapshot mode the clock is the end of the snapshot's last date.
    index = evaluations[("raw/index_prices", "calendar_freshness")]
    assert index.metadata["evaluated_as_of"].value == "2026-01-16T23:59:59+00:00"
    assert index.metadata["expected_dates"].value == {i: "2026-01-16" for i in sorted(INDICES)}


def test_clean_warehouse_passes_direct_calls(warehouse_copy):
    for body in (check_raw_index_prices, check_raw_stock_prices, check_raw_fx_rates, check_mart_index_returns,
                 check_mart_basket_market_cap):
        result = body(warehouse_copy, CLOCK, 0)
        assert result.passed, result.description


def test_stale_index_fails_naming_it_and_the_dates(warehouse_copy):
    warehouse_copy.execute("delete from raw.index_prices where index_id = 'HSTECH' and trade_date >= '2026-01-15'")
    result = check_raw_index_prices(warehouse_copy, CLOCK, 0)
    assert not result.passed and result.severity == AssetCheckSeverity.WARN
    assert meta(result, "culprit_count") == 1
    assert meta(result, "expected_dates")["HSTECH"] == "2026-01-16"
    assert meta(result, "actual_dates")["HSTECH"] == "2026-01-14"
    assert "HSTECH (expected 2026-01-16, has 2026-01-14)" in result.description
    assert "| HSTECH | XHKG | 2026-01-16 | 2026-01-14 | stale |" in meta(result, "culprits")


def test_lag_in_sessions_is_configurable(warehouse_copy):
    warehouse_copy.execute("delete from raw.index_prices where index_id = 'NDX' and trade_date >= '2026-01-15'")
    assert not check_raw_index_prices(warehouse_copy, CLOCK, 1).passed
    lagged = check_raw_index_prices(warehouse_copy, CLOCK, 2)
    assert lagged.passed, lagged.description
    assert meta(lagged, "lag_sessions") == 2 and meta(lagged, "expected_dates")["NDX"] == "2026-01-14"


def test_stale_snapshot_file_fails_against_the_snapshot_clock(warehouse_copy, tmp_path):
    # The folder's newest file reaches 2026-01-16 but the stock prices stop two sessions earlier.
    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "index_prices.csv").write_text("index_id,trade_date,close\nNDX,2026-01-16,1\n")
    instant = EvaluationClock(data_end=True).resolve(SnapshotProvider(snapshot_dir=str(folder)))
    assert instant.at == datetime(2026, 1, 16, 23, 59, 59, tzinfo=UTC)
    warehouse_copy.execute("delete from raw.stock_prices where trade_date >= '2026-01-15'")
    result = check_raw_stock_prices(warehouse_copy, instant, 0)
    assert not result.passed
    assert "0700.HK" in meta(result, "culprits") and meta(result, "culprit_count") == 79


def test_missing_member_is_a_culprit_with_no_date(warehouse_copy):
    warehouse_copy.execute("delete from raw.stock_prices where symbol = '0700.HK'")
    result = check_raw_stock_prices(warehouse_copy, CLOCK, 0)
    assert not result.passed
    assert meta(result, "actual_dates")["0700.HK"] is None
    assert "0700.HK (expected 2026-01-16, has no rows)" in result.description


def test_members_not_yet_listed_are_exempt(warehouse_copy):
    warehouse_copy.execute("delete from raw.stock_prices where trade_date > '2025-12-01'")
    result = check_raw_stock_prices(warehouse_copy, at("2025-12-01T23:59:59+00:00"), 0)
    assert result.passed, result.description
    exempt = meta(result, "exempt")
    assert exempt["688795.SS"] == "not listed until 2025-12-05"
    assert set(exempt) == {"688795.SS", "688802.SS", "6082.HK", "2513.HK", "0100.HK"}


def test_fx_gap_on_the_last_weekday_fails(warehouse_copy):
    warehouse_copy.execute(f"delete from raw.fx_rates where currency = 'KRW' and trade_date = '{SLICE_END}'")
    result = check_raw_fx_rates(warehouse_copy, CLOCK, 0)
    assert not result.passed and "KRW" in result.description


def test_stale_marts_fail_per_index_and_per_basket(warehouse_copy):
    warehouse_copy.execute(f"delete from marts.fct_index_returns where index_id = 'NDX' and trade_date = '{SLICE_END}'")
    warehouse_copy.execute(
        f"delete from marts.fct_ai_basket_market_cap where basket_id = 'CN_AI' and trade_date = '{SLICE_END}'")
    index = check_mart_index_returns(warehouse_copy, CLOCK, 0)
    assert not index.passed and "NDX (expected 2026-01-16, has 2026-01-15)" in index.description
    basket = check_mart_basket_market_cap(warehouse_copy, CLOCK, 0)
    assert not basket.passed and meta(basket, "actual_dates")["CN_AI"] == "2026-01-15"
    assert meta(basket, "actual_dates")["GLOBAL_AI_EX_CN"] == "2026-01-16"


def _index_rows(last: dict[str, str]) -> list[tuple]:
    return [(i, date.fromisoformat(d), 100.0) for i, d in last.items()]


@pytest.mark.parametrize(
    ("as_of", "last"),
    [
        # Lunar New Year 2025: Shanghai shut from Jan 28, Hong Kong from Jan 29 (half day on the 28th).
        ("2025-01-31T23:59:59+00:00", {"STAR50": "2025-01-27", "HSTECH": "2025-01-28", "NDX": "2025-01-31"}),
        # Golden Week 2025: Shanghai shut Oct 1-8; Hong Kong shut Oct 1 and Oct 7.
        ("2025-10-07T23:59:59+00:00", {"STAR50": "2025-09-30", "HSTECH": "2025-10-06", "NDX": "2025-10-07"}),
        # Independence Day 2025: New York shut.
        ("2025-07-04T23:59:59+00:00", {"STAR50": "2025-07-04", "HSTECH": "2025-07-04", "NDX": "2025-07-03"}),
        # Before New York's close on a trading day the previous session is the latest closed one.
        ("2025-07-07T15:00:00+00:00", {"STAR50": "2025-07-07", "HSTECH": "2025-07-07", "NDX": "2025-07-03"}),
    ],
)
def test_holidays_raise_no_alarm(tiny, as_of, last):
    rows = {**{i: last["STAR50"] for i in ("STAR50", "CSI300", "CHINEXT")},
            **{i: last["HSTECH"] for i in ("HSTECH", "HSI")}, "NDX": last["NDX"]}
    insert(tiny, "raw.index_prices", _index_rows(rows), "index_id, trade_date, close")
    result = check_raw_index_prices(tiny, at(as_of), 0)
    assert result.passed, result.description
    # One session less is stale, on every calendar.
    tiny.execute("delete from raw.index_prices where index_id = 'NDX'")
    earlier = latest_closed_session("XNAS", at(as_of).at, 1).day
    insert(tiny, "raw.index_prices", [("NDX", earlier, 100.0)], "index_id, trade_date, close")
    assert not check_raw_index_prices(tiny, at(as_of), 0).passed


def test_shanghai_after_2026_falls_back_to_weekdays_and_reports_it(tiny):
    rows = {**{i: "2027-01-05" for i in ("STAR50", "CSI300", "CHINEXT", "HSTECH", "HSI")}, "NDX": "2027-01-04"}
    insert(tiny, "raw.index_prices", _index_rows(rows), "index_id, trade_date, close")
    result = check_raw_index_prices(tiny, at("2027-01-05T12:00:00+00:00"), 0)
    assert result.passed, result.description
    assert meta(result, "calendar_fallback_used") is True
    assert any("XSHG has no calendar data for 2027-01-05" in f for f in meta(result, "calendar_fallbacks"))
    assert "Calendar fallback (Mon-Fri) used" in result.description


def test_empty_raw_table_fails_as_warn_saying_why(tiny, tmp_path):
    folder = tmp_path / "snap"
    folder.mkdir()
    result = check_raw_stock_prices(tiny, CLOCK, 0, SnapshotProvider(snapshot_dir=str(folder)))
    assert not result.passed and result.severity == AssetCheckSeverity.WARN
    assert result.description.startswith("raw.stock_prices is empty: the snapshot has no stock_prices.csv")


def test_clock_resolution():
    assert EvaluationClock(as_of="2026-01-16T10:00:00").resolve().at == datetime(2026, 1, 16, 10, tzinfo=UTC)
    now = EvaluationClock().resolve()
    assert now.basis.startswith("now") and abs((datetime.now(UTC) - now.at).total_seconds()) < 60
    # A provider that cannot say what it holds (live) leaves the clock at now.
    assert EvaluationClock(data_end=True).resolve(None).basis.startswith("now")
