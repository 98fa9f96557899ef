"""The checks the definitions carry: names, targets, severities, which of them block, and the marts'
FreshnessPolicy."""

import pytest

from assets.checks import build_asset_checks
from assets.checks.freshness import MART_FRESHNESS_POLICY
from orchestration.definitions import build_definitions
from orchestration.settings import Settings

EXPECTED = {
    # (asset, check): blocking
    ("raw/index_prices", "calendar_freshness"): False,
    ("raw/stock_prices", "calendar_freshness"): False,
    ("raw/fx_rates", "calendar_freshness"): False,
    ("marts/fct_index_returns", "calendar_freshness"): False,
    ("marts/fct_ai_basket_market_cap", "calendar_freshness"): False,
    ("marts/fct_ai_basket_market_cap", "members_priced_equals_listed_members"): False,
    ("raw/index_constituents", "snapshot_counts_and_weights"): False,
    # The plausibility audits: blocking, so a failure holds the publication back.
    ("marts/fct_index_returns", "index_closes_plausible"): True,
    ("marts/fct_ai_basket_members_daily", "stock_closes_plausible"): True,
    ("marts/fct_ai_basket_members_daily", "share_counts_plausible"): True,
    ("marts/fct_ai_basket_members_daily", "member_market_caps_plausible"): True,
    ("marts/fct_ai_basket_members_daily", "fx_rates_plausible"): True,
    ("marts/fct_ai_basket_market_cap", "basket_totals_plausible"): True,
    ("marts/fct_ai_market_cap_ratio", "market_cap_ratio_plausible"): True,
}


def test_every_check_is_registered_and_only_the_error_checks_and_audits_block():
    checks = build_asset_checks(Settings())
    specs = {(s.asset_key.to_user_string(), s.name): s for c in checks for s in c.check_specs}
    assert {k: s.blocking for k, s in specs.items()} == EXPECTED


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    database = tmp_path_factory.mktemp("reg") / "w.duckdb"
    return build_definitions(Settings(DUCKDB_DATABASE=database, CTR_SOURCE="snapshot")).resolve_asset_graph()


def test_marts_carry_the_freshness_policy_and_raw_assets_do_not(graph):
    policies = {k.to_user_string(): graph.get(k).freshness_policy for k in graph.get_all_asset_keys()}
    assert policies["marts/fct_ai_basket_market_cap"] == MART_FRESHNESS_POLICY
    assert policies["marts/fct_index_returns"] == MART_FRESHNESS_POLICY
    assert policies["raw/stock_prices"] is None
    # Every check in the definitions targets an asset that exists (the dbt manifest has the marts).
    for key in EXPECTED:
        assert any(k.to_user_string() == key[0] for k in graph.get_all_asset_keys())


def test_the_dbt_tests_at_severity_error_block_and_the_publication_depends_on_every_audited_mart(graph):
    """dagster-dbt makes a dbt test of severity error a blocking check (and warn a non-blocking one): a
    failure on a mart skips what is downstream of it in the run, the report and the publication."""
    from assets.checks.plausibility import AUDITED_ASSETS
    from assets.dbt import build_dbt_assets
    from assets.publication import PUBLISHED_KEY
    from orchestration.resources import build_warehouse

    specs = {(s.asset_key.to_user_string(), s.name): s.blocking for s in build_dbt_assets(build_warehouse(Settings())).check_specs}
    assert specs[("marts/fct_ai_basket_market_cap", "assert_basket_market_cap_equals_sum_of_members")] is True
    assert specs[("marts/rpt_headline", "unique_rpt_headline_line")] is True
    assert specs[("marts/fct_ai_basket_members_daily", "assert_basket_members_have_market_cap")] is False  # warn
    assert set(AUDITED_ASSETS) <= graph.get(PUBLISHED_KEY).parent_keys
