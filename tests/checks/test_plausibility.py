"""The plausibility audits on a copy of the clean build, broken one quantity at a time: each audit names
what it refused (id, date, value, previous value), a split is explained by its share count, and the clean
build passes them all."""

from datetime import date

import pytest

from assets.checks.plausibility import AUDITS, LIMITS, evaluate

DAY = date(2026, 1, 14)  # inside the slice, with trading days before and after
WINDOW = date(2026, 1, 12)
MEMBER_CAP = "market_cap_usd = close_local * shares_outstanding * usd_per_unit"


def flagged(wh, start=WINDOW) -> dict[str, list[tuple]]:
    """audit -> the (id, date) pairs it refused, over the window from `start`."""
    out = {}
    for audit in AUDITS:
        outcome = evaluate(wh, audit, start, "test-run")
        if outcome.findings:
            out[audit.name] = [(r[0], r[1]) for r in outcome.findings]
    return out


def test_the_clean_build_passes_every_audit_over_all_its_dates(warehouse_copy):
    assert flagged(warehouse_copy, start=None) == {}


def test_an_index_close_off_by_a_hundred_is_refused_with_its_values(warehouse_copy):
    wh = warehouse_copy
    previous = wh.scalar("select close from marts.fct_index_returns where index_id = 'NDX' and trade_date < ?"
                         " order by trade_date desc limit 1", [DAY])
    close = wh.scalar("select close from marts.fct_index_returns where index_id = 'NDX' and trade_date = ?", [DAY])
    wh.execute("update marts.fct_index_returns set close = close / 100 where index_id = 'NDX' and trade_date = ?",
               [DAY])
    index = next(a for a in AUDITS if a.name == "index_closes_plausible")
    outcome = evaluate(wh, index, WINDOW, "test-run")
    [finding] = [f for f in outcome.findings if f[1] == DAY]
    assert finding[0] == "NDX" and finding[2] == pytest.approx(close / 100) and finding[4] == pytest.approx(previous)
    assert finding[5] == pytest.approx(close / 100 / previous - 1)
    assert finding[6] == LIMITS.index_close
    line = outcome.line()
    assert line.startswith("index_closes_plausible failed:") and f"NDX {DAY}" in line
    assert f"(previous {finding[3]} " in line


def test_a_split_is_explained_by_its_share_count(warehouse_copy):
    wh = warehouse_copy
    wh.execute("update marts.fct_ai_basket_members_daily set close_local = close_local / 10,"
               " shares_outstanding = shares_outstanding * 10 where symbol = '0700.HK' and trade_date >= ?", [DAY])
    assert flagged(wh) == {}


def test_a_share_count_slip_is_refused_and_so_is_the_market_cap_it_makes(warehouse_copy):
    wh = warehouse_copy
    wh.execute("update marts.fct_ai_basket_members_daily set shares_outstanding = shares_outstanding * 1000"
               " where symbol = '0700.HK' and trade_date >= ?", [DAY])
    wh.execute(f"update marts.fct_ai_basket_members_daily set {MEMBER_CAP} where symbol = '0700.HK'")
    found = flagged(wh)
    assert found["share_counts_plausible"] == [("0700.HK", DAY)]
    assert found["member_market_caps_plausible"] == [("0700.HK", DAY)]
    assert "stock_closes_plausible" not in found


def test_a_close_that_triples_without_a_split_is_refused(warehouse_copy):
    wh = warehouse_copy
    wh.execute("update marts.fct_ai_basket_members_daily set close_local = close_local * 3"
               " where symbol = '688256.SS' and trade_date = ?", [DAY])
    wh.execute(f"update marts.fct_ai_basket_members_daily set {MEMBER_CAP} where symbol = '688256.SS'")
    found = flagged(wh)
    # Up on the day, and back down the next one.
    assert found["stock_closes_plausible"][0] == ("688256.SS", DAY)
    assert {d for _, d in found["stock_closes_plausible"]} == {d for _, d in found["member_market_caps_plausible"]}
    assert "share_counts_plausible" not in found


def test_an_inverted_rate_a_basket_total_and_the_ratio_are_each_refused(warehouse_copy):
    wh = warehouse_copy
    wh.execute("update raw.fx_rates set usd_per_unit = 1 / usd_per_unit where currency = 'HKD' and trade_date = ?",
               [DAY])
    wh.execute("update marts.fct_ai_basket_market_cap set market_cap_usd = market_cap_usd * 2"
               " where basket_id = 'GLOBAL_AI_EX_CN' and trade_date = ?", [DAY])
    wh.execute("update marts.fct_ai_market_cap_ratio set cn_to_peer_ratio = cn_to_peer_ratio / 2"
               " where trade_date = ?", [DAY])
    found = flagged(wh)
    # Each on the day, and back on the next one.
    assert ("HKD", DAY) in found["fx_rates_plausible"]
    assert ("GLOBAL_AI_EX_CN", DAY) in found["basket_totals_plausible"]
    assert ("CN_AI/GLOBAL_AI_EX_CN", DAY) in found["market_cap_ratio_plausible"]


def test_an_audit_reads_only_its_window_and_the_look_back(warehouse_copy):
    wh = warehouse_copy
    # A broken value long before the window is not the run's business (a full build audits it).
    wh.execute("update marts.fct_index_returns set close = close / 100 where index_id = 'NDX'"
               " and trade_date = (select min(trade_date) + 7 from marts.fct_index_returns)")
    assert flagged(wh) == {}
    assert "index_closes_plausible" in flagged(wh, start=None)
