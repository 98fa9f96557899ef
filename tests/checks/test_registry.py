"""The checks the definitions carry: names, targets, severities, and which of them block."""

from assets.checks import build_asset_checks, build_check_sensors
from orchestration.settings import Settings

EXPECTED = {
    # (asset, check): blocking
    ("raw/index_prices", "calendar_freshness"): False,
    ("raw/stock_prices", "calendar_freshness"): False,
    ("raw/fx_rates", "calendar_freshness"): False,
    ("marts/fct_index_returns", "calendar_freshness"): False,
    ("marts/fct_ai_basket_market_cap", "calendar_freshness"): False,
    ("raw/index_prices", "positive_values"): True,
    ("raw/stock_prices", "positive_values"): True,
    ("raw/fx_rates", "positive_values"): True,
    ("raw/shares_outstanding", "positive_values"): True,
    ("raw/index_prices", "daily_move_within_20pct"): False,
    ("raw/stock_prices", "daily_move_within_60pct_unless_split"): False,
    ("marts/fct_ai_basket_market_cap", "market_cap_equals_sum_of_members"): False,
    ("marts/fct_ai_basket_market_cap", "members_priced_equals_listed_members"): False,
    ("marts/fct_ai_basket_market_cap", "change_1y_consistent"): False,
    ("marts/fct_ai_basket_members_daily", "fx_rate_for_every_non_usd_member"): False,
    ("raw/index_constituents", "snapshot_counts_and_weights"): False,
    **{(f"marts/{m}", "freshness_check"): False for m in (
        "fct_index_returns", "fct_relative_performance", "fct_ai_basket_members_daily",
        "fct_ai_basket_market_cap", "fct_ai_market_cap_ratio")},
}


def test_every_check_is_registered_and_only_error_checks_on_raw_block():
    checks = build_asset_checks(Settings())
    specs = {(s.asset_key.to_user_string(), s.name): s for c in checks for s in c.check_specs}
    assert {k: s.blocking for k, s in specs.items()} == EXPECTED
    assert [s.name for s in build_check_sensors(checks)] == ["mart_last_update_sensor"]
