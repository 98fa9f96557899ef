"""A snapshot folder with only index_prices.csv and fx_rates.csv: the graph builds what it can, and the
checks on what it cannot build fail as WARN saying which file is missing, instead of crashing."""

from datetime import date

import pytest
from dagster import AssetCheckSeverity, instance_for_test

from tests.checks.conftest import materialise
from tests.sample_slice import write_slice

START, END = date(2026, 1, 12), date(2026, 1, 16)
NO_STOCKS = "raw.stock_prices is empty: the snapshot has no stock_prices.csv"


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    root = tmp_path_factory.mktemp("partial")
    folder = write_slice(root / "snapshot", START, END, files={"index_prices", "fx_rates"})
    with instance_for_test() as instance:
        yield materialise(folder, root, START, END, instance)


def test_index_side_builds_and_is_green(partial):
    evaluations = partial.check_evaluations()
    for key in [("raw/index_prices", "calendar_freshness"), ("raw/fx_rates", "calendar_freshness"),
                ("marts/fct_index_returns", "calendar_freshness")]:
        assert evaluations[key].passed, evaluations[key].description


def test_basket_checks_fail_as_warn_naming_the_missing_file(partial):
    evaluations = partial.check_evaluations()
    stocks = evaluations[("raw/stock_prices", "calendar_freshness")]
    assert not stocks.passed and stocks.severity == AssetCheckSeverity.WARN
    assert stocks.description.startswith(NO_STOCKS)
    for name in ("calendar_freshness", "members_priced_equals_listed_members"):
        evaluation = evaluations[("marts/fct_ai_basket_market_cap", name)]
        assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN, name
        assert evaluation.description.startswith(f"marts.fct_ai_basket_market_cap is empty: {NO_STOCKS}"), name
    constituents = evaluations[("raw/index_constituents", "snapshot_counts_and_weights")]
    assert "the snapshot has no index_constituents.csv" in constituents.description
    # No ERROR anywhere: an absent file is a gap to report, not a broken input.
    errors = [k for k, e in evaluations.items() if not e.passed and e.severity == AssetCheckSeverity.ERROR]
    assert errors == []


def test_the_run_itself_succeeds(partial):
    failed = [e.step_key for e in partial.result.all_events if e.is_step_failure]
    assert partial.result.success, f"steps failed: {failed}"
