"""The close and share-count audits accept a jump that a split the sources reported explains
(raw.corporate_actions), and only that: on a copy-free hand-built members table, in milliseconds."""

from datetime import date

import duckdb
import pytest

from assets.checks import plausibility

D = date.fromisoformat


def audit(name):
    return next(a for a in plausibility.AUDITS if a.name == name)


@pytest.fixture
def session(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("create schema raw; create schema marts")
        conn.execute("create table raw.stock_prices (symbol varchar, trade_date date, close double, source varchar)")
        conn.execute("create table marts.fct_ai_basket_members_daily (basket_id varchar, symbol varchar,"
                     " trade_date date, close_local double, shares_outstanding double, usd_per_unit double,"
                     " market_cap_usd double)")
        yield conn


def members(conn, rows):
    conn.executemany("insert into marts.fct_ai_basket_members_daily values ('GLOBAL_AI_EX_CN', 'NVDA', ?, ?, ?, 1,"
                     " ? * ?)", [(d, c, s, c, s) for d, c, s in rows])
    conn.executemany("insert into raw.stock_prices values ('NVDA', ?, ?, 'yfinance:chart(test)')",
                     [(d, c) for d, c, _ in rows])


def findings(conn, name):
    outcome = plausibility.evaluate(plausibility.WarehouseSession(conn), audit(name), None, "run")
    return [(r[0], r[1]) for r in outcome.findings]


SPLIT_DAY = D("2026-01-14")
# The close falls tenfold at the split; the share count source catches up a day later.
LAGGING = [(D("2026-01-13"), 430.0, 2.4e9), (SPLIT_DAY, 43.5, 2.4e9), (D("2026-01-15"), 44.0, 2.4e10)]


def test_an_unreported_tenfold_close_drop_is_refused(session):
    members(session, LAGGING)
    assert findings(session, "stock_closes_plausible") == [("NVDA", SPLIT_DAY)]
    assert findings(session, "share_counts_plausible") == [("NVDA", D("2026-01-15"))]


def test_a_reported_split_explains_the_close_and_the_late_share_count(session):
    members(session, LAGGING)
    session.execute("create table raw.corporate_actions (symbol varchar, ex_date date, action varchar,"
                    " ratio double, source varchar, loaded_at timestamp)")
    session.execute("insert into raw.corporate_actions values ('NVDA', ?, 'split', 10, 'yfinance:chart(test)', now())",
                    [SPLIT_DAY])
    assert findings(session, "stock_closes_plausible") == []
    # The share count caught up a day after the ex-date: a split of the last LOOKBACK_DAYS explains it.
    assert findings(session, "share_counts_plausible") == []
    # The market cap in USD still fell tenfold for a day: no split excuses that, the publication waits.
    assert findings(session, "member_market_caps_plausible") == [("NVDA", D("2026-01-15")), ("NVDA", SPLIT_DAY)]


def test_a_reported_split_of_another_ratio_explains_nothing(session):
    members(session, LAGGING)
    session.execute("create table raw.corporate_actions (symbol varchar, ex_date date, action varchar,"
                    " ratio double, source varchar, loaded_at timestamp)")
    session.execute("insert into raw.corporate_actions values ('NVDA', ?, 'split', 2, 'x', now())", [SPLIT_DAY])
    assert findings(session, "stock_closes_plausible") == [("NVDA", SPLIT_DAY)]
