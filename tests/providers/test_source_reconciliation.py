"""The cross-source comparison (pure) and the asset check on raw.index_prices that runs it."""

from datetime import date, timedelta

import pandas as pd
import pytest
from dagster import ConfigurableResource, DailyPartitionsDefinition, asset, materialize

from assets.checks.source_reconciliation import (
    RAW_INDEX_PRICES,
    build_source_reconciliation_check,
    reconcile_closes,
)
from orchestration.resources.providers.live import LiveProvider
from tests.providers.helpers import FAST

D = date.fromisoformat
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning")


def frame(index_id: str, closes: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"index_id": index_id, "trade_date": [D(d) for d in closes], "close": list(closes.values())}
    )


BASE = {"2026-01-12": 1400.0, "2026-01-13": 1410.0, "2026-01-14": 1425.0, "2026-01-15": 1430.0}


def test_sources_that_agree_within_half_a_percent_pass():
    right = frame("STAR50", {d: c * 1.004 for d, c in BASE.items()})
    report = reconcile_closes("STAR50", frame("STAR50", BASE), right)
    assert report.passed and report.common_dates == 4 and "4 common dates" in report.summary()


def test_a_close_off_by_more_than_the_tolerance_is_named():
    right = frame("STAR50", {**BASE, "2026-01-14": 1425.0 * 1.01})
    report = reconcile_closes("STAR50", frame("STAR50", BASE), right)
    assert not report.passed
    assert [(d, round(diff, 4)) for d, _, _, diff in report.mismatches] == [
        (D("2026-01-14"), round(1 / 1.01 - 1, 4))
    ]
    assert "2026-01-14 akshare 1425.00 vs yfinance 1439.25 (-0.99%)" in report.summary()


def test_dates_shifted_by_a_day_are_a_misalignment():
    # The classic bug: a source whose dates were taken in UTC, one day early for Asian markets.
    week = {"2026-01-08": 1380.0, "2026-01-09": 1390.0, **BASE}
    shifted = {(D(d) - timedelta(days=1)).isoformat(): c for d, c in week.items()}
    report = reconcile_closes("STAR50", frame("STAR50", week), frame("STAR50", shifted))
    assert not report.passed and report.mismatches
    assert report.only_left == [D("2026-01-09")] and report.only_right == [D("2026-01-11")]  # a Sunday
    assert "dates only in akshare: 2026-01-09; dates only in yfinance: 2026-01-11" in report.summary()


def test_a_missing_day_inside_the_overlap_is_named_and_ranges_are_trimmed():
    left = frame("HSTECH", {**BASE, "2026-01-16": 1440.0})  # beyond the right's range: not a gap
    right = frame("HSTECH", {d: c for d, c in BASE.items() if d != "2026-01-13"})
    report = reconcile_closes("HSTECH", left, right)
    assert report.only_left == [D("2026-01-13")] and report.only_right == [] and not report.mismatches


def test_no_data_from_one_source_fails_with_a_reason():
    report = reconcile_closes("HSTECH", frame("HSTECH", BASE), frame("HSTECH", {}).iloc[0:0])
    assert not report.passed and report.problem == "no closes from yfinance to compare"


PARTITIONS = DailyPartitionsDefinition(start_date="2025-12-01", end_date="2026-02-01")


@asset(key=RAW_INDEX_PRICES, partitions_def=PARTITIONS)
def raw_index_prices() -> None:
    """Stand-in for the lead's raw asset: the check only needs the key."""


def serve_both_sources(market, hstech_scale: float = 1.0) -> None:
    """Yahoo serves the indices eastmoney serves, HSTECH optionally scaled (a disagreement)."""
    from dataclasses import replace

    market.bars["yahoo:000688.SS"] = market.series("em:1.000688", "XSHG")
    market.bars["yahoo:HSTECH.HK"] = [
        replace(b, close=round(b.close * hstech_scale, 2)) for b in market.series("em:124.HSTECH", "XHKG")
    ]


def run_check(provider) -> tuple[bool, dict]:
    check = build_source_reconciliation_check(partitions_def=PARTITIONS)
    result = materialize(
        [raw_index_prices, check], partition_key="2026-01-16", resources={"provider": provider}
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}


def test_check_passes_when_akshare_and_yahoo_agree(net, market, clock):
    serve_both_sources(market)
    passed, metadata = run_check(LiveProvider(**FAST))
    assert passed, metadata["summary"]
    assert metadata["window"] == "2025-12-17..2026-01-16" and metadata["mismatched_indices"] == []


def test_check_fails_and_names_the_mismatches(net, market, clock):
    serve_both_sources(market, hstech_scale=1.02)
    passed, metadata = run_check(LiveProvider(**FAST))
    assert not passed and metadata["mismatched_indices"] == ["HSTECH"]
    assert "FAIL HSTECH" in metadata["summary"] and "OK STAR50" in metadata["summary"]
    assert {m["date"] for m in metadata["HSTECH_mismatches"]} >= {"2026-01-15", "2026-01-16"}


class SnapshotLike(ConfigurableResource):
    @property
    def source_name(self) -> str:
        return "snapshot"


def test_check_is_skipped_with_a_single_source():
    passed, metadata = run_check(SnapshotLike())
    assert passed and "runs in live mode" in metadata["skipped"]
