"""Unit tests of the pandas reference marts (the oracle the integration test checks dbt against).

Every scenario is a tiny hand-built snapshot written to tmp_path, with its own tiny seeds; the
expected numbers are literals derived by hand in the comments. No network, no dbt, no DuckDB.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.reference_marts import (
    MART_COLUMNS,
    MART_KEYS,
    compare_frames,
    compute_marts,
    compute_marts_from_frames,
    one_year_back,
)

NULL = None
CATALOG = """index_id,name,market,currency,calendar,role,akshare_symbol,akshare_em_symbol,yahoo_symbol
STAR50,SSE STAR 50,CN,CNY,XSHG,china_tech,000688,sh000688,000688.SS
HSTECH,Hang Seng TECH,HK,HKD,XHKG,china_tech,HSTECH,HSTECH,HSTECH.HK
NDX,Nasdaq-100,US,USD,XNAS,benchmark,,,^NDX
"""
MEMBERS = """basket_id,symbol,name,subsector,currency,calendar,listed_on
CN_AI,A.SS,Alpha,cloud,CNY,XSHG,2010-01-01
CN_AI,B.HK,Beta,cloud,HKD,XHKG,2024-01-04
CN_AI,C.SS,Gamma (configured; never priced),cloud,CNY,XSHG,2030-01-01
GLOBAL_AI_EX_CN,P,Peer,chip design,USD,XNYS,2000-01-01
"""


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text.strip() + "\n", encoding="utf-8")


def make(tmp_path: Path, **files: str) -> tuple[Path, Path]:
    """Snapshot folder with the given files (name -> CSV text) and a seeds folder."""
    snap, seeds = tmp_path / "snapshot", tmp_path / "seeds"
    snap.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write(snap, f"{name}.csv", text)
    write(seeds, "index_catalog.csv", CATALOG)
    write(seeds, "ai_basket_members.csv", MEMBERS)
    return snap, seeds


def rows(df: pd.DataFrame, **where) -> list[dict]:
    """Rows matching the filters, as dicts with dates as ISO strings and NaN/NA as None."""
    for col, value in where.items():
        df = df[df[col] == (pd.Timestamp(value) if col == "trade_date" else value)]
    out = []
    for rec in df.to_dict("records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, pd.Timestamp):
                v = v.date().isoformat()
            elif v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                v = None
            elif isinstance(v, np.bool_):
                v = bool(v)
            clean[k] = v
        out.append(clean)
    return out


def one(df: pd.DataFrame, **where) -> dict:
    found = rows(df, **where)
    assert len(found) == 1, f"expected one row for {where}, got {found}"
    return found[0]


def approx(expected: dict) -> dict:
    return {
        k: (pytest.approx(v, rel=1e-12, abs=1e-12) if isinstance(v, float) else v)
        for k, v in expected.items()
    }


# ------------------------------------------------------------------------------------------------
# fct_index_returns: month-end anchor across a holiday
# ------------------------------------------------------------------------------------------------


def test_month_end_anchor_across_holiday(tmp_path):
    # STAR50: 2024-09-30 is the last close of September; Oct 1-7 is the Golden Week holiday.
    # August's last trading day is Fri 2024-08-30 (Aug 31 is a Saturday). There are no closes
    # between 2023-12-29 and 2024-08-30 (a gap in the series on purpose).
    snap, seeds = make(
        tmp_path,
        index_prices="""
index_id,trade_date,close
STAR50,2023-12-29,80
STAR50,2024-08-30,90
STAR50,2024-09-27,100
STAR50,2024-09-30,110
STAR50,2024-10-08,121
STAR50,2024-10-09,99
UNKNOWN,2024-10-08,5
""",
    )
    out = compute_marts(snap, seeds)["fct_index_returns"]
    assert list(out.columns) == MART_COLUMNS["fct_index_returns"]
    assert set(out["index_id"]) == {"STAR50"}  # UNKNOWN is not in the catalog
    assert len(out) == 6

    # First row: nothing before it -> all NULL; currency from the catalog.
    assert one(out, trade_date="2023-12-29") == {
        "index_id": "STAR50",
        "trade_date": "2023-12-29",
        "close": 80.0,
        "currency": "CNY",
        "daily_return": NULL,
        "mtd_return": NULL,
        "ytd_return": NULL,
        "trailing_1y_return": NULL,
    }
    # 2024-08-30: previous month end = latest close < 2024-08-01 = 2023-12-29 (80), months back:
    # mtd = 90/80 - 1 = 0.125; ytd anchor latest < 2024-01-01 = 80 -> 0.125; daily 90/80-1 = 0.125;
    # one year back 2023-08-30: no close <= it -> NULL.
    assert one(out, trade_date="2024-08-30") == approx(
        {
            "index_id": "STAR50",
            "trade_date": "2024-08-30",
            "close": 90.0,
            "currency": "CNY",
            "daily_return": 0.125,
            "mtd_return": 0.125,
            "ytd_return": 0.125,
            "trailing_1y_return": NULL,
        }
    )
    # 2024-09-27: mtd anchor = 2024-08-30 (90): 100/90 - 1 = 1/9; ytd 100/80 - 1 = 0.25.
    assert one(out, trade_date="2024-09-27") == approx(
        {
            "index_id": "STAR50",
            "trade_date": "2024-09-27",
            "close": 100.0,
            "currency": "CNY",
            "daily_return": 1 / 9,
            "mtd_return": 1 / 9,
            "ytd_return": 0.25,
            "trailing_1y_return": NULL,
        }
    )
    # 2024-09-30: mtd 110/90 - 1 = 2/9; daily 110/100 - 1 = 0.1; ytd 110/80 - 1 = 0.375.
    assert one(out, trade_date="2024-09-30") == approx(
        {
            "index_id": "STAR50",
            "trade_date": "2024-09-30",
            "close": 110.0,
            "currency": "CNY",
            "daily_return": 0.1,
            "mtd_return": 2 / 9,
            "ytd_return": 0.375,
            "trailing_1y_return": NULL,
        }
    )
    # 2024-10-08 (first day after the holiday): mtd anchor = latest < 2024-10-01 = 2024-09-30
    # (110): 121/110 - 1 = 0.1; daily vs previous row (09-30) = 0.1; ytd 121/80 - 1 = 0.5125.
    assert one(out, trade_date="2024-10-08") == approx(
        {
            "index_id": "STAR50",
            "trade_date": "2024-10-08",
            "close": 121.0,
            "currency": "CNY",
            "daily_return": 0.1,
            "mtd_return": 0.1,
            "ytd_return": 0.5125,
            "trailing_1y_return": NULL,
        }
    )
    # 2024-10-09: mtd 99/110 - 1 = -0.1; daily 99/121 - 1 = -2/11; ytd 99/80 - 1 = 0.2375.
    assert one(out, trade_date="2024-10-09") == approx(
        {
            "index_id": "STAR50",
            "trade_date": "2024-10-09",
            "close": 99.0,
            "currency": "CNY",
            "daily_return": -2 / 11,
            "mtd_return": -0.1,
            "ytd_return": 0.2375,
            "trailing_1y_return": NULL,
        }
    )


# ------------------------------------------------------------------------------------------------
# Feb 29 -> Feb 28 (index returns, relative performance 1Y)
# ------------------------------------------------------------------------------------------------


def test_one_year_back_helper():
    assert one_year_back(date(2024, 2, 29)) == date(2023, 2, 28)
    assert one_year_back(date(2025, 2, 28)) == date(2024, 2, 28)
    assert one_year_back(date(2024, 3, 1)) == date(2023, 3, 1)


def test_feb_29(tmp_path):
    snap, seeds = make(
        tmp_path,
        index_prices="""
index_id,trade_date,close
STAR50,2023-02-27,100
STAR50,2023-02-28,105
STAR50,2023-03-01,107
STAR50,2024-02-28,120
STAR50,2024-02-29,126
STAR50,2025-02-28,140
STAR50,2025-03-03,151.2
NDX,2023-02-28,1000
NDX,2024-02-29,1500
NDX,2025-02-28,1650
""",
    )
    marts = compute_marts(snap, seeds)
    ret = marts["fct_index_returns"]
    one_year = {r["trade_date"]: r["trailing_1y_return"] for r in rows(ret, index_id="STAR50")}
    assert one_year["2023-02-27"] is None
    assert one_year["2023-03-01"] is None  # 2022-03-01: nothing that early
    # 2024-02-28: as of 2023-02-28 = 105 -> 120/105 - 1 = 1/7
    assert one_year["2024-02-28"] == pytest.approx(1 / 7, rel=1e-12)
    # 2024-02-29 -> 2023-02-28 (not Mar 1 = 107): 126/105 - 1 = 0.2
    assert one_year["2024-02-29"] == pytest.approx(0.2, rel=1e-12)
    # 2025-02-28 -> as of 2024-02-28 = 120 (the Feb 29 close is later): 140/120 - 1 = 1/6
    assert one_year["2025-02-28"] == pytest.approx(1 / 6, rel=1e-12)
    # 2025-03-03 -> as of 2024-03-03 = 2024-02-29 (126): 151.2/126 - 1 = 0.2
    assert one_year["2025-03-03"] == pytest.approx(0.2, rel=1e-12)

    rel = marts["fct_relative_performance"]
    assert list(rel.columns) == MART_COLUMNS["fct_relative_performance"]
    assert set(rel["index_id"]) == {"STAR50"}  # no NDX-vs-NDX rows
    # 2023-02-27: NDX has no close as of that day -> no rows at all.
    assert rows(rel, trade_date="2023-02-27") == []
    # 2023-02-28: NDX 1Y anchor as of 2022-02-28 does not exist -> NULL on both sides.
    assert one(rel, trade_date="2023-02-28", period="1Y") == {
        "index_id": "STAR50",
        "benchmark_id": "NDX",
        "trade_date": "2023-02-28",
        "period": "1Y",
        "index_return": NULL,
        "benchmark_return": NULL,
        "excess_return": NULL,
        "outperformed": NULL,
    }
    # 2024-02-29: NDX as of d = 1500, as of 2023-02-28 = 1000 -> 0.5; index 0.2; excess -0.3.
    assert one(rel, trade_date="2024-02-29", period="1Y") == approx(
        {
            "index_id": "STAR50",
            "benchmark_id": "NDX",
            "trade_date": "2024-02-29",
            "period": "1Y",
            "index_return": 0.2,
            "benchmark_return": 0.5,
            "excess_return": -0.3,
            "outperformed": False,
        }
    )
    # 2024-02-28: NDX as of d = 1000 (2023-02-28), 1Y anchor as of 2023-02-28 = 1000 -> 0.0;
    # excess 1/7 > 0.
    assert one(rel, trade_date="2024-02-28", period="1Y") == approx(
        {
            "index_id": "STAR50",
            "benchmark_id": "NDX",
            "trade_date": "2024-02-28",
            "period": "1Y",
            "index_return": 1 / 7,
            "benchmark_return": 0.0,
            "excess_return": 1 / 7,
            "outperformed": True,
        }
    )
    # 2025-02-28: NDX 1650 / as of 2024-02-28 (= 1000, from 2023-02-28) - 1 = 0.65;
    # excess 1/6 - 0.65 = -0.48333...
    assert one(rel, trade_date="2025-02-28", period="1Y") == approx(
        {
            "index_id": "STAR50",
            "benchmark_id": "NDX",
            "trade_date": "2025-02-28",
            "period": "1Y",
            "index_return": 1 / 6,
            "benchmark_return": 0.65,
            "excess_return": 1 / 6 - 0.65,
            "outperformed": False,
        }
    )
    # STAR50 has 7 dates, NDX exists as of 6 of them -> 6 x 3 periods.
    assert len(rel) == 18


# ------------------------------------------------------------------------------------------------
# fct_relative_performance: the benchmark did not trade on the index's date
# ------------------------------------------------------------------------------------------------


def test_benchmark_not_trading_on_index_date(tmp_path):
    # 2025-09-01 is Labor Day in the US: HSTECH trades, NDX does not.
    snap, seeds = make(
        tmp_path,
        index_prices="""
index_id,trade_date,close
HSTECH,2024-12-30,20
HSTECH,2025-08-29,50
HSTECH,2025-09-01,55
HSTECH,2025-09-02,44
NDX,2024-12-31,160
NDX,2025-08-29,200
NDX,2025-09-02,190
""",
    )
    marts = compute_marts(snap, seeds)
    ret = marts["fct_index_returns"]
    # HSTECH 2025-09-01: mtd 55/50 - 1 = 0.1; ytd 55/20 - 1 = 1.75; daily 0.1.
    assert one(ret, index_id="HSTECH", trade_date="2025-09-01") == approx(
        {
            "index_id": "HSTECH",
            "trade_date": "2025-09-01",
            "close": 55.0,
            "currency": "HKD",
            "daily_return": 0.1,
            "mtd_return": 0.1,
            "ytd_return": 1.75,
            "trailing_1y_return": NULL,
        }
    )
    # NDX 2025-09-02: daily 190/200 - 1 = -0.05; mtd anchor < 09-01 = 200 -> -0.05; ytd 190/160 - 1.
    assert one(ret, index_id="NDX", trade_date="2025-09-02") == approx(
        {
            "index_id": "NDX",
            "trade_date": "2025-09-02",
            "close": 190.0,
            "currency": "USD",
            "daily_return": -0.05,
            "mtd_return": -0.05,
            "ytd_return": 0.1875,
            "trailing_1y_return": NULL,
        }
    )

    rel = marts["fct_relative_performance"]
    # 2024-12-30 is before NDX's first close: no rows; 3 dates x 3 periods remain.
    assert rows(rel, trade_date="2024-12-30") == []
    assert len(rel) == 9
    got = {(r["trade_date"], r["period"]): r for r in rows(rel)}

    def expect(d, period, idx, bench, excess, outperformed):
        assert got[(d, period)] == approx(
            {
                "index_id": "HSTECH",
                "benchmark_id": "NDX",
                "trade_date": d,
                "period": period,
                "index_return": idx,
                "benchmark_return": bench,
                "excess_return": excess,
                "outperformed": outperformed,
            }
        )

    # 2025-08-29: HSTECH mtd/ytd = 50/20 - 1 = 1.5 (anchor 2024-12-30 for both);
    # NDX as of d = 200, anchors < 08-01 and < 2025-01-01 are both 160 -> 0.25; excess 1.25.
    expect("2025-08-29", "MTD", 1.5, 0.25, 1.25, True)
    expect("2025-08-29", "YTD", 1.5, 0.25, 1.25, True)
    expect("2025-08-29", "1Y", NULL, NULL, NULL, NULL)
    # 2025-09-01: NDX as of d = 200 (08-29); its MTD anchor (last close < 09-01) is also 200 -> 0.
    # HSTECH mtd 0.1 -> excess 0.1. YTD: NDX 200/160 - 1 = 0.25; HSTECH 1.75 -> excess 1.5.
    expect("2025-09-01", "MTD", 0.1, 0.0, 0.1, True)
    expect("2025-09-01", "YTD", 1.75, 0.25, 1.5, True)
    expect("2025-09-01", "1Y", NULL, NULL, NULL, NULL)
    # 2025-09-02: HSTECH mtd 44/50 - 1 = -0.12, ytd 44/20 - 1 = 1.2; NDX mtd -0.05, ytd 0.1875.
    expect("2025-09-02", "MTD", -0.12, -0.05, -0.07, False)
    expect("2025-09-02", "YTD", 1.2, 0.1875, 1.0125, True)


# ------------------------------------------------------------------------------------------------
# Baskets: late-listing member, FX gap, missing FX, basket with no priced member, ratio
# ------------------------------------------------------------------------------------------------

BASKET_FILES = {
    # A.SS trades Jan 2-4 and 8; B.HK lists late (first close Jan 4) and trades Jan 5 when A does not.
    # P (USD) trades Jan 3 and 5. ZZZ is not a basket member and must be ignored.
    "stock_prices": """
symbol,trade_date,close,currency
A.SS,2024-01-02,10,CNY
A.SS,2024-01-03,11,CNY
A.SS,2024-01-04,12,CNY
A.SS,2024-01-08,13,CNY
B.HK,2024-01-04,20,HKD
B.HK,2024-01-05,22,HKD
P,2024-01-03,50,USD
P,2024-01-05,55,USD
ZZZ,2024-01-03,1,USD
""",
    # CNY has a gap on Jan 3 (Jan 2's rate applies). HKD has its first rate on Jan 5.
    "fx_rates": """
currency,trade_date,usd_per_unit
CNY,2024-01-02,0.14
CNY,2024-01-04,0.15
HKD,2024-01-05,0.128
""",
    # A's count changes on Jan 4; P has shares only from Jan 5 on.
    "shares_outstanding": """
symbol,as_of_date,shares_outstanding
A.SS,2023-12-31,1000
A.SS,2024-01-04,1100
B.HK,2024-01-01,500
P,2024-01-05,100
ZZZ,2024-01-01,1
""",
}


def test_basket_members_daily(tmp_path):
    snap, seeds = make(tmp_path, **BASKET_FILES)
    daily = compute_marts(snap, seeds)["fct_ai_basket_members_daily"]
    cols = MART_COLUMNS["fct_ai_basket_members_daily"]
    assert list(daily.columns) == cols
    expected = [
        # CN_AI dates = union of A's and B's dates: Jan 2, 3, 4, 5, 8.
        ("CN_AI", "A.SS", "2024-01-02", 10.0, "CNY", 0.14, 1000.0, 1400.0),  # 10*1000*0.14
        ("CN_AI", "A.SS", "2024-01-03", 11.0, "CNY", 0.14, 1000.0, 1540.0),  # FX gap: Jan 2 rate
        ("CN_AI", "A.SS", "2024-01-04", 12.0, "CNY", 0.15, 1100.0, 1980.0),  # new share count
        ("CN_AI", "A.SS", "2024-01-05", 12.0, "CNY", 0.15, 1100.0, 1980.0),  # A closed: carried
        ("CN_AI", "A.SS", "2024-01-08", 13.0, "CNY", 0.15, 1100.0, 2145.0),  # 13*1100*0.15
        # B lists Jan 4: no rows before; no HKD rate as of Jan 4 -> NULL FX and market cap.
        ("CN_AI", "B.HK", "2024-01-04", 20.0, "HKD", NULL, 500.0, NULL),
        ("CN_AI", "B.HK", "2024-01-05", 22.0, "HKD", 0.128, 500.0, 1408.0),  # 22*500*0.128
        ("CN_AI", "B.HK", "2024-01-08", 22.0, "HKD", 0.128, 500.0, 1408.0),
        # C.SS never traded: no rows. P: USD -> usd_per_unit 1; no shares before Jan 5.
        ("GLOBAL_AI_EX_CN", "P", "2024-01-03", 50.0, "USD", 1.0, NULL, NULL),
        ("GLOBAL_AI_EX_CN", "P", "2024-01-05", 55.0, "USD", 1.0, 100.0, 5500.0),
    ]
    assert rows(daily) == [approx(dict(zip(cols, r))) for r in expected]


def test_basket_market_cap_and_ratio(tmp_path):
    snap, seeds = make(tmp_path, **BASKET_FILES)
    marts = compute_marts(snap, seeds)
    cap = marts["fct_ai_basket_market_cap"]
    assert list(cap.columns) == MART_COLUMNS["fct_ai_basket_market_cap"]
    cols = ["basket_id", "trade_date", "members", "members_priced", "market_cap_usd"]
    got = [{k: r[k] for k in cols} for r in rows(cap)]
    expected = [
        # members = 3 configured CN members (C.SS never priced still counts).
        ("CN_AI", "2024-01-02", 3, 1, 1400.0),
        ("CN_AI", "2024-01-03", 3, 1, 1540.0),
        ("CN_AI", "2024-01-04", 3, 1, 1980.0),  # B has a NULL market cap (no FX yet)
        ("CN_AI", "2024-01-05", 3, 2, 3388.0),  # 1980 + 1408
        ("CN_AI", "2024-01-08", 3, 2, 3553.0),  # 2145 + 1408
        ("GLOBAL_AI_EX_CN", "2024-01-03", 1, 0, NULL),  # no priced member -> NULL, not 0
        ("GLOBAL_AI_EX_CN", "2024-01-05", 1, 1, 5500.0),
    ]
    assert got == [approx(dict(zip(cols, r))) for r in expected]
    assert cap["members"].dtype == "int64" and cap["members_priced"].dtype == "int64"
    # Nothing a year earlier -> the 1y columns are NULL everywhere.
    assert cap[["market_cap_usd_1y_ago", "change_1y_usd", "change_1y_pct"]].isna().all().all()

    ratio = marts["fct_ai_market_cap_ratio"]
    assert list(ratio.columns) == MART_COLUMNS["fct_ai_market_cap_ratio"]
    # Dates = Jan 2, 3, 4, 5, 8; the peer basket has a non-NULL value as of d only from Jan 5
    # (Jan 3 is NULL), and on Jan 8 (no peer row) its Jan 5 value is carried.
    assert rows(ratio) == [
        approx(
            {
                "trade_date": "2024-01-05",
                "cn_market_cap_usd": 3388.0,
                "peer_market_cap_usd": 5500.0,
                "cn_to_peer_ratio": 0.616,
            }
        ),  # 3388/5500
        approx(
            {
                "trade_date": "2024-01-08",
                "cn_market_cap_usd": 3553.0,
                "peer_market_cap_usd": 5500.0,
                "cn_to_peer_ratio": 3553 / 5500,
            }
        ),  # 0.646
    ]


def test_basket_one_year_ago_feb_29_and_null_values(tmp_path):
    # P alone in its basket, shares = 1 from 2023-02-28 on, so market cap = close in USD;
    # 2023-02-27 has no shares yet (NULL). On 2023-03-01 P is quoted in EUR, for which there is no
    # FX rate, so that day is NULL again although earlier days have values (contrived, on purpose).
    # CN basket: A.SS, close 1, 1 share, 0.5 USD per CNY -> 0.5 on every date it trades.
    snap, seeds = make(
        tmp_path,
        stock_prices="""
symbol,trade_date,close,currency
P,2023-02-27,90,USD
P,2023-02-28,100,USD
P,2023-03-01,999,EUR
P,2024-02-27,140,USD
P,2024-02-29,150,USD
P,2024-03-01,160,USD
P,2025-02-27,190,USD
P,2025-02-28,200,USD
A.SS,2023-02-27,1,CNY
A.SS,2023-03-01,1,CNY
A.SS,2024-03-04,1,CNY
""",
        shares_outstanding="""
symbol,as_of_date,shares_outstanding
P,2023-02-28,1
A.SS,2023-01-01,1
""",
        fx_rates="""
currency,trade_date,usd_per_unit
CNY,2023-01-01,0.5
""",
    )
    marts = compute_marts(snap, seeds)
    cap = marts["fct_ai_basket_market_cap"]
    cols = [
        "trade_date",
        "members_priced",
        "market_cap_usd",
        "market_cap_usd_1y_ago",
        "change_1y_usd",
        "change_1y_pct",
    ]
    got = [{k: r[k] for k in cols} for r in rows(cap, basket_id="GLOBAL_AI_EX_CN")]
    expected = [
        ("2023-02-27", 0, NULL, NULL, NULL, NULL),
        ("2023-02-28", 1, 100.0, NULL, NULL, NULL),
        ("2023-03-01", 0, NULL, NULL, NULL, NULL),  # EUR without a rate
        # <= 2023-02-27: only a NULL-valued row -> NULL
        ("2024-02-27", 1, 140.0, NULL, NULL, NULL),
        # Feb 29 -> 2023-02-28 = 100: +50 USD, +50 %
        ("2024-02-29", 1, 150.0, 100.0, 50.0, 50.0),
        # <= 2023-03-01: that row is NULL, so the latest NON-NULL one (2023-02-28 = 100): +60, +60 %
        ("2024-03-01", 1, 160.0, 100.0, 60.0, 60.0),
        # <= 2024-02-27 = 140: +50, 100*(190/140 - 1) = 35.714285...%
        ("2025-02-27", 1, 190.0, 140.0, 50.0, 100 * (190 / 140 - 1)),
        # <= 2024-02-28 = 140 (the Feb 29 row is later): +60, 100*(200/140 - 1) = 42.857...%
        ("2025-02-28", 1, 200.0, 140.0, 60.0, 100 * (200 / 140 - 1)),
    ]
    assert got == [approx(dict(zip(cols, r))) for r in expected]
    assert len(rows(cap, basket_id="CN_AI")) == 3

    # Ratio dates = union of both baskets' dates (9 distinct); each side = latest non-NULL <= d.
    # 2023-02-27: peer has no value yet -> no row. 2023-03-01: peer NULL that day -> carries 100.
    # 2024-03-04: peer has no row that day -> carries 160.
    ratio = marts["fct_ai_market_cap_ratio"]
    assert [(r["trade_date"], r["peer_market_cap_usd"]) for r in rows(ratio)] == [
        ("2023-02-28", 100.0),
        ("2023-03-01", 100.0),
        ("2024-02-27", 140.0),
        ("2024-02-29", 150.0),
        ("2024-03-01", 160.0),
        ("2024-03-04", 160.0),
        ("2025-02-27", 190.0),
        ("2025-02-28", 200.0),
    ]
    assert (ratio["cn_market_cap_usd"] == 0.5).all()
    assert one(ratio, trade_date="2023-03-01")["cn_to_peer_ratio"] == pytest.approx(0.005)  # 0.5/100
    assert one(ratio, trade_date="2024-03-04")["cn_to_peer_ratio"] == pytest.approx(0.003125)  # 0.5/160


def test_ratio_needs_both_baskets(tmp_path):
    # Only the peer basket has prices: no CN rows, hence no ratio rows.
    snap, seeds = make(
        tmp_path,
        stock_prices="""
symbol,trade_date,close,currency
P,2024-01-02,10,USD
""",
        shares_outstanding="""
symbol,as_of_date,shares_outstanding
P,2024-01-01,5
""",
    )
    marts = compute_marts(snap, seeds)
    assert rows(marts["fct_ai_basket_market_cap"]) == [
        {
            "basket_id": "GLOBAL_AI_EX_CN",
            "trade_date": "2024-01-02",
            "members": 1,
            "members_priced": 1,
            "market_cap_usd": 50.0,
            "market_cap_usd_1y_ago": NULL,
            "change_1y_usd": NULL,
            "change_1y_pct": NULL,
        }
    ]
    assert marts["fct_ai_market_cap_ratio"].empty


# ------------------------------------------------------------------------------------------------
# Missing files -> empty marts with the right columns
# ------------------------------------------------------------------------------------------------


def test_missing_files_give_empty_marts(tmp_path):
    snap, seeds = make(
        tmp_path,
        index_prices="""
index_id,trade_date,close,open,extra_ignored
NDX,2024-01-02,100,99,x
""",
        fx_rates="""
currency,trade_date,usd_per_unit
CNY,2024-01-02,0.14
""",
    )
    marts = compute_marts(snap, seeds)
    assert set(marts) == set(MART_COLUMNS)
    for name, df in marts.items():
        assert list(df.columns) == MART_COLUMNS[name]
    assert len(marts["fct_index_returns"]) == 1
    for name in [
        "fct_relative_performance",
        "fct_ai_basket_members_daily",
        "fct_ai_basket_market_cap",
        "fct_ai_market_cap_ratio",
    ]:
        assert marts[name].empty, name

    empty_snap, _ = make(tmp_path / "empty")
    for name, df in compute_marts(empty_snap, seeds).items():
        assert df.empty and list(df.columns) == MART_COLUMNS[name]


def test_duplicate_keys_are_rejected(tmp_path):
    snap, seeds = make(
        tmp_path,
        index_prices="""
index_id,trade_date,close
NDX,2024-01-02,100
NDX,2024-01-02,101
""",
    )
    with pytest.raises(ValueError, match="duplicate"):
        compute_marts(snap, seeds)


def test_rows_are_sorted_by_grain(tmp_path):
    snap, seeds = make(tmp_path, **BASKET_FILES)
    for name, df in compute_marts(snap, seeds).items():
        keys = MART_KEYS[name]
        assert df.equals(df.sort_values(keys).reset_index(drop=True)), name
        assert not df.duplicated(keys).any(), name


# ------------------------------------------------------------------------------------------------
# Cross-check against a naive row-by-row implementation on random data
# ------------------------------------------------------------------------------------------------


def _naive_marts(ip: pd.DataFrame, sp: pd.DataFrame, fx: pd.DataFrame, so: pd.DataFrame):
    """Deliberately slow, loop-based restatement of the definitions (dates as datetime.date)."""

    def latest(pairs, limit, strict):  # pairs: sorted [(date, value)]
        found = None
        for d, v in pairs:
            if d < limit or (not strict and d == limit):
                found = v
        return found

    def ratio(a, b):
        return None if a is None or b is None else a / b - 1

    series = {i: sorted(zip(g.trade_date, g.close)) for i, g in ip.groupby("index_id")}
    returns = {}
    for i, pairs in series.items():
        for n, (d, c) in enumerate(pairs):
            returns[(i, d)] = (
                None if n == 0 else c / pairs[n - 1][1] - 1,
                ratio(c, latest(pairs, date(d.year, d.month, 1), True)),
                ratio(c, latest(pairs, date(d.year, 1, 1), True)),
                ratio(c, latest(pairs, one_year_back(d), False)),
            )
    relative = {}
    bench = series.get("NDX", [])
    for (i, d), (_, mtd, ytd, y1) in returns.items():
        now = latest(bench, d, False)
        if i == "NDX" or now is None:
            continue
        for period, own, limit, strict in (
            ("MTD", mtd, date(d.year, d.month, 1), True),
            ("YTD", ytd, date(d.year, 1, 1), True),
            ("1Y", y1, one_year_back(d), False),
        ):
            b = ratio(now, latest(bench, limit, strict))
            relative[(i, d, period)] = (own, b, None if own is None or b is None else own - b)

    members = {"CN_AI": ["A.SS", "B.HK", "C.SS"], "GLOBAL_AI_EX_CN": ["P"]}
    prices = {s: sorted(zip(g.trade_date, zip(g.close, g.currency))) for s, g in sp.groupby("symbol")}
    rates = {c: sorted(zip(g.trade_date, g.usd_per_unit)) for c, g in fx.groupby("currency")}
    counts = {s: sorted(zip(g.as_of_date, g.shares_outstanding)) for s, g in so.groupby("symbol")}
    daily, caps = {}, {}
    for basket, syms in members.items():
        dates = sorted({d for s in syms for d, _ in prices.get(s, [])})
        for d in dates:
            total, priced = 0.0, 0
            for s in syms:
                if s not in prices or prices[s][0][0] > d:
                    continue
                close, cur = latest(prices[s], d, False)
                rate = 1.0 if cur == "USD" else latest(rates.get(cur, []), d, False)
                shares = latest(counts.get(s, []), d, False)
                mcap = None if rate is None or shares is None else close * shares * rate
                daily[(basket, s, d)] = (close, cur, rate, shares, mcap)
                if mcap is not None:
                    total, priced = total + mcap, priced + 1
            caps[(basket, d)] = (priced, total if priced else None)
    return returns, relative, daily, caps


def _random_inputs(seed: int):
    rnd = random.Random(seed)
    days = [date(2023, 12, 1) + timedelta(n) for n in range(500)]  # spans 2024-02-29

    def pick(p):
        return [d for d in days if rnd.random() < p]

    ip = pd.DataFrame(
        [(i, d, rnd.uniform(50, 150)) for i in ["STAR50", "HSTECH", "NDX"] for d in pick(0.4)],
        columns=["index_id", "trade_date", "close"],
    )
    sp = pd.DataFrame(
        [
            (s, d, rnd.uniform(5, 50), cur)
            for s, cur in [("A.SS", "CNY"), ("B.HK", "HKD"), ("P", "USD")]
            for d in pick(0.3)
            if not (s == "B.HK" and d < date(2024, 5, 1))
        ],
        columns=["symbol", "trade_date", "close", "currency"],
    )
    fx = pd.DataFrame(
        [(c, d, rnd.uniform(0.1, 0.2)) for c in ["CNY", "HKD"] for d in pick(0.2) if d > date(2024, 1, 15)],
        columns=["currency", "trade_date", "usd_per_unit"],
    )
    so = pd.DataFrame(
        [(s, d, rnd.uniform(1e6, 1e7)) for s in ["A.SS", "B.HK", "P"] for d in pick(0.02)],
        columns=["symbol", "as_of_date", "shares_outstanding"],
    )
    return ip, sp, fx, so


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_naive_implementation(tmp_path, seed):
    ip, sp, fx, so = _random_inputs(seed)
    _, seeds = make(tmp_path)
    marts = compute_marts_from_frames(
        {"index_prices": ip, "stock_prices": sp, "fx_rates": fx, "shares_outstanding": so}, seeds
    )
    returns, relative, daily, caps = _naive_marts(ip, sp, fx, so)

    def n(v):
        return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v

    def same(a, b):
        return (a is None and b is None) or (
            a is not None
            and b is not None
            and (a == b or (isinstance(a, float) and a == pytest.approx(b, rel=1e-12)))
        )

    got = {
        (r.index_id, r.trade_date.date()): tuple(
            map(n, (r.daily_return, r.mtd_return, r.ytd_return, r.trailing_1y_return))
        )
        for r in marts["fct_index_returns"].itertuples()
    }
    assert got.keys() == returns.keys()
    assert all(all(map(same, got[k], returns[k])) for k in returns)

    got = {
        (r.index_id, r.trade_date.date(), r.period): tuple(
            map(n, (r.index_return, r.benchmark_return, r.excess_return))
        )
        for r in marts["fct_relative_performance"].itertuples()
    }
    assert got.keys() == relative.keys()
    assert all(all(map(same, got[k], relative[k])) for k in relative)

    got = {
        (r.basket_id, r.symbol, r.trade_date.date()): tuple(
            map(n, (r.close_local, r.currency, r.usd_per_unit, r.shares_outstanding, r.market_cap_usd))
        )
        for r in marts["fct_ai_basket_members_daily"].itertuples()
    }
    assert got.keys() == daily.keys()
    assert all(all(map(same, got[k], daily[k])) for k in daily)

    got = {
        (r.basket_id, r.trade_date.date()): (r.members_priced, n(r.market_cap_usd))
        for r in marts["fct_ai_basket_market_cap"].itertuples()
    }
    assert got.keys() == caps.keys()
    assert all(all(map(same, got[k], caps[k])) for k in caps)


# ------------------------------------------------------------------------------------------------
# compare_frames
# ------------------------------------------------------------------------------------------------


def _frame(**cols):
    return pd.DataFrame(cols)


def test_compare_frames_equal_across_representations():
    expected = _frame(
        k=["a", "b"],
        trade_date=pd.to_datetime(["2024-02-29", "2024-03-01"]),
        x=[1.0, np.nan],
        flag=pd.array([True, pd.NA], dtype="boolean"),
        n=np.array([3, 4], dtype="int64"),
    )
    # As DuckDB hands them back: datetime64[us], other row order, column order, tiny float noise.
    actual = _frame(
        flag=pd.array([pd.NA, True], dtype="boolean"),
        trade_date=pd.to_datetime(["2024-03-01", "2024-02-29"]).astype("datetime64[us]"),
        k=["b", "a"],
        x=[None, 1.0 + 1e-13],
        n=[4, 3],
    )
    assert compare_frames(actual, expected, ["k", "trade_date"]) == []
    # Dates as python dates / ISO strings on one side are fine too.
    actual["trade_date"] = [date(2024, 3, 1), "2024-02-29"]
    assert compare_frames(actual, expected, ["k", "trade_date"]) == []


def test_compare_frames_reports_mismatches():
    expected = _frame(
        k=["a", "b", "c"],
        x=[1.0, 2.0, 0.0],
        s=["u", "v", "w"],
        flag=pd.array([True, False, True], dtype="boolean"),
    )
    actual = _frame(
        k=["a", "b", "d"],
        x=[1.0 + 1e-6, np.nan, 1e-13],
        s=["u", "V", "z"],
        flag=pd.array([True, pd.NA, False], dtype="boolean"),
    )
    out = compare_frames(actual, expected, ["k"])
    assert "row missing from actual: (k='c')" in out
    assert "extra row in actual: (k='d')" in out
    assert "x differs at (k='a'): actual=1.000001 expected=1.0" in out
    assert "x differs at (k='b'): actual=NULL expected=2.0" in out
    assert "s differs at (k='b'): actual='V' expected='v'" in out
    assert "flag differs at (k='b'): actual=NULL expected=False" in out
    assert len(out) == 6


def test_compare_frames_tolerances_and_types():
    expected = _frame(k=[1, 2, 3], x=[0.0, 1e15, 5.0], flag=[True, False, True])
    # Near zero: 1e-13 is within the absolute tolerance; 1e15 * (1 + 1e-10) within rel_tol.
    ok = _frame(k=[1, 2, 3], x=[1e-13, 1e15 * (1 + 1e-10), 5.0], flag=[True, False, True])
    assert compare_frames(ok, expected, ["k"]) == []
    # A boolean column must hold booleans: 1.0 is not True.
    bad = _frame(k=[1, 2, 3], x=[0.0, 1e15, 5.0], flag=[1.0, 0.0, 1.0])
    assert len(compare_frames(bad, expected, ["k"])) == 3
    # Duplicate keys, missing columns, and the message cap.
    dup = _frame(k=[1, 1, 2, 3], x=[0.0, 0.0, 1e15, 5.0])
    out = compare_frames(dup, expected, ["k"])
    assert "columns missing from actual: ['flag']" in out
    assert "duplicate key in actual: (k=1)" in out
    many = _frame(k=list(range(500)), x=[1.0] * 500)
    out = compare_frames(many.assign(x=2.0), many, ["k"], max_messages=10)
    assert len(out) == 11 and out[-1] == "... and 490 more mismatch(es) not shown"


def test_compare_frames_date_mismatch_in_keys():
    expected = _frame(trade_date=pd.to_datetime(["2024-02-28"]), x=[1.0])
    actual = _frame(trade_date=pd.to_datetime(["2024-02-29"]), x=[1.0])
    assert compare_frames(actual, expected, ["trade_date"]) == [
        "row missing from actual: (trade_date=2024-02-28)",
        "extra row in actual: (trade_date=2024-02-29)",
    ]


# ------------------------------------------------------------------------------------------------
# USD returns, the peers' one-year change, per-security returns and contribution (issue #26)
# ------------------------------------------------------------------------------------------------


def test_index_returns_and_relative_performance_in_usd(tmp_path):
    # STAR50 in CNY: 100 at the end of 2024, 110 on 2025-01-06 (+10% in CNY). CNY per USD weakens from
    # 0.14 to 0.126 (-10%), so in USD: 110 * 0.126 / (100 * 0.14) - 1 = -0.01. NDX (USD): 200 -> 210.
    snap, seeds = make(
        tmp_path,
        index_prices="""
index_id,trade_date,close
STAR50,2024-12-31,100
STAR50,2025-01-06,110
NDX,2024-12-31,200
NDX,2025-01-03,210
""",
        fx_rates="""
currency,trade_date,usd_per_unit
CNY,2024-12-31,0.14
CNY,2025-01-03,0.126
""",
    )
    marts = compute_marts(snap, seeds)
    usd = marts["fct_index_returns_usd"]
    star = one(usd, index_id="STAR50", trade_date="2025-01-06")
    assert star["usd_per_unit"] == pytest.approx(0.126)  # as of Jan 6: the Jan 3 rate
    assert star["close_usd"] == pytest.approx(13.86)
    assert star["ytd_return_usd"] == pytest.approx(-0.01, rel=1e-12)
    assert star["mtd_return_usd"] == pytest.approx(-0.01, rel=1e-12)
    assert star["daily_return_usd"] == pytest.approx(-0.01, rel=1e-12)
    assert star["trailing_1y_return_usd"] is None
    assert one(usd, index_id="NDX", trade_date="2025-01-03")["ytd_return_usd"] == pytest.approx(0.05)
    # The local return is +10%; in USD the index is behind the Nasdaq-100 (-1% vs +5%).
    local = one(marts["fct_relative_performance"], index_id="STAR50", trade_date="2025-01-06", period="YTD")
    in_usd = one(marts["fct_relative_performance_usd"], index_id="STAR50", trade_date="2025-01-06", period="YTD")
    assert local["outperformed"] and local["excess_return"] == pytest.approx(0.05)
    assert in_usd == approx({"index_id": "STAR50", "benchmark_id": "NDX", "trade_date": "2025-01-06", "period": "YTD",
                             "index_return": -0.01, "benchmark_return": 0.05, "excess_return": -0.06,
                             "outperformed": False})
    fx = marts["fct_fx_rates"]
    assert one(fx, currency="CNY", trade_date="2025-01-03")["units_per_usd"] == pytest.approx(1 / 0.126)


def test_the_peers_one_year_change_and_the_ratio_a_year_earlier(tmp_path):
    # CN: A.SS 10 -> 15 (x1000 shares, CNY at 0.1): 1000 -> 1500 USD. Peer P: 50 -> 60 (x100): 5000 -> 6000.
    snap, seeds = make(
        tmp_path,
        stock_prices="""
symbol,trade_date,close,currency
A.SS,2024-03-01,10,CNY
A.SS,2025-03-03,15,CNY
P,2024-02-29,50,USD
P,2025-03-03,60,USD
""",
        fx_rates="currency,trade_date,usd_per_unit\nCNY,2024-01-02,0.1",
        shares_outstanding="symbol,as_of_date,shares_outstanding\nA.SS,2024-01-01,1000\nP,2024-01-01,100",
    )
    marts = compute_marts(snap, seeds)
    cap = marts["fct_ai_basket_market_cap"]
    assert one(cap, basket_id="GLOBAL_AI_EX_CN", trade_date="2025-03-03")["change_1y_pct"] == pytest.approx(20.0)
    comparison = marts["fct_ai_basket_comparison_1y"]
    # Comparison rows: 2024-03-01 (1000 vs 5000) and 2025-03-03 (1500 vs 6000); a year before 2025-03-03
    # is 2024-03-03, whose latest row is 2024-03-01.
    assert one(comparison, trade_date="2025-03-03") == approx({
        "basket_id": "CN_AI", "compared_with": "GLOBAL_AI_EX_CN", "trade_date": "2025-03-03",
        "market_cap_usd": 1500.0, "compared_market_cap_usd": 6000.0, "ratio": 0.25, "base_date": "2024-03-01",
        "market_cap_usd_1y_ago": 1000.0, "compared_market_cap_usd_1y_ago": 5000.0, "ratio_1y_ago": 0.2,
        "change_1y_pct": 50.0, "compared_change_1y_pct": 20.0,
    })
    assert one(comparison, trade_date="2024-03-01")["ratio_1y_ago"] is None


def test_security_returns_periods_in_local_currency_and_usd(tmp_path):
    # B.HK on 2024-04-30: one month back is 2024-03-30, whose latest close is 2024-03-29 (10).
    snap, seeds = make(
        tmp_path,
        stock_prices="""
symbol,trade_date,close,currency
B.HK,2023-12-29,8,HKD
B.HK,2024-01-31,9,HKD
B.HK,2024-03-29,10,HKD
B.HK,2024-04-30,12,HKD
""",
        fx_rates="currency,trade_date,usd_per_unit\nHKD,2023-12-29,0.125\nHKD,2024-04-01,0.1",
    )
    ret = one(compute_marts(snap, seeds)["fct_security_returns"], symbol="B.HK", trade_date="2024-04-30")
    assert ret["basket_id"] == "CN_AI" and ret["close_usd"] == pytest.approx(1.2)
    assert ret["return_1m"] == pytest.approx(0.2)  # 12 / 10 - 1
    # 3 months back is 2024-01-30: the Jan 31 close is after it, so the base is the Dec 29 close (8).
    assert ret["return_3m"] == pytest.approx(0.5)
    assert ret["return_ytd"] == pytest.approx(0.5)  # 12 / 8 - 1
    assert ret["return_ytd_usd"] == pytest.approx(1.2 / 1.0 - 1)  # 8 * 0.125 = 1.0
    assert ret["return_1m_usd"] == pytest.approx(1.2 / 1.25 - 1)  # 10 * 0.125 on Mar 29
    assert ret["return_6m"] is None and ret["return_1y"] is None  # nothing on or before 2023-10-30


def test_contribution_adds_up_to_the_basket_change(tmp_path):
    snap, seeds = make(tmp_path, **BASKET_FILES)
    marts = compute_marts(snap, seeds)
    contribution = marts["fct_ai_basket_member_contribution"]
    assert contribution.empty  # five days of data: no period reaches back to a base
    for seed in (1, 2, 3):
        ip, sp, fx, so = _random_inputs(seed)
        _, seeds = make(tmp_path / str(seed))
        marts = compute_marts_from_frames(
            {"index_prices": ip, "stock_prices": sp, "fx_rates": fx, "shares_outstanding": so}, seeds
        )
        cap = marts["fct_ai_basket_market_cap"].set_index(["basket_id", "trade_date"])["market_cap_usd"]
        members = marts["fct_ai_basket_member_contribution"]
        assert set(members["period"]) == {"1M", "3M", "6M", "YTD", "1Y"}
        sums = members.groupby(["basket_id", "period", "trade_date", "base_date"]).agg(
            change=("change_usd", "sum"), basket=("basket_change_usd", "first"), pts=("contribution_pct_points", "sum"),
            share=("share_of_change", "sum"),
        ).reset_index()
        for r in sums.itertuples():
            now, base = cap[(r.basket_id, r.trade_date)], cap[(r.basket_id, r.base_date)]
            assert r.basket == pytest.approx(now - base, rel=1e-9)
            assert r.change == pytest.approx(r.basket, rel=1e-9, abs=1e-9 * abs(now))
            assert r.pts == pytest.approx(100 * (now / base - 1), rel=1e-9, abs=1e-9)
            if r.basket != 0:
                assert r.share == pytest.approx(1.0, rel=1e-9)
        # The 1Y base is the basket mart's own year-ago value.
        year = members[members.period == "1Y"].groupby(["basket_id", "trade_date"]).basket_change_usd.first()
        mart = marts["fct_ai_basket_market_cap"].set_index(["basket_id", "trade_date"]).change_1y_usd
        assert year.to_numpy() == pytest.approx(mart.loc[year.index].to_numpy(), rel=1e-9)
        subsectors = marts["fct_ai_basket_subsector_contribution"]
        by_sector = subsectors.groupby(["basket_id", "period", "trade_date"]).change_usd.sum()
        by_member = members.groupby(["basket_id", "period", "trade_date"]).change_usd.sum()
        assert by_sector.to_numpy() == pytest.approx(by_member.loc[by_sector.index].to_numpy(), rel=1e-9)
        top = members[members.contribution_rank == 1]
        for r in top.itertuples():
            group = members[(members.basket_id == r.basket_id) & (members.period == r.period)
                            & (members.trade_date == r.trade_date)]
            sign = -1 if r.basket_change_usd < 0 else 1
            assert sign * r.change_usd == pytest.approx((sign * group.change_usd).max())


def test_a_member_listed_after_the_base_contributes_its_whole_value(tmp_path):
    # A.SS: 1000 shares, CNY 0.1; B.HK lists on 2024-02-01 (500 shares, HKD 0.1). 1M on 2024-02-05: base
    # 2024-01-05 (A at 10 -> 1000 USD); on Feb 5 A at 12 (1200) and B at 20 (1000): basket +1200.
    snap, seeds = make(
        tmp_path,
        stock_prices="""
symbol,trade_date,close,currency
A.SS,2024-01-05,10,CNY
A.SS,2024-02-05,12,CNY
B.HK,2024-02-01,18,HKD
B.HK,2024-02-05,20,HKD
""",
        fx_rates="currency,trade_date,usd_per_unit\nCNY,2024-01-01,0.1\nHKD,2024-01-01,0.1",
        shares_outstanding="symbol,as_of_date,shares_outstanding\nA.SS,2024-01-01,1000\nB.HK,2024-01-01,500",
    )
    marts = compute_marts(snap, seeds)
    members = marts["fct_ai_basket_member_contribution"]
    got = {r["symbol"]: r for r in rows(members, period="1M", trade_date="2024-02-05")}
    assert got["A.SS"] == approx({
        "basket_id": "CN_AI", "symbol": "A.SS", "subsector": "cloud", "period": "1M", "trade_date": "2024-02-05",
        "base_date": "2024-01-05", "market_cap_usd": 1200.0, "market_cap_usd_base": 1000.0, "change_usd": 200.0,
        "basket_change_usd": 1200.0, "share_of_change": 200 / 1200, "contribution_pct_points": 20.0,
        "contribution_rank": 2,
    })
    assert got["B.HK"]["market_cap_usd_base"] is None and got["B.HK"]["change_usd"] == pytest.approx(1000.0)
    assert got["B.HK"]["contribution_rank"] == 1 and got["B.HK"]["contribution_pct_points"] == pytest.approx(100.0)
    sector = one(marts["fct_ai_basket_subsector_contribution"], period="1M", trade_date="2024-02-05")
    assert sector["subsector"] == "cloud" and sector["members"] == 2 and sector["share_of_change"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------------
# The new marts of the shared sample build, row for row against the oracle on its raw tables
# (tests/test_integration.py does the same for every mart on a longer export with one-year history)
# ------------------------------------------------------------------------------------------------

NEW_MARTS = [
    "fct_fx_rates",
    "fct_index_returns_usd",
    "fct_relative_performance_usd",
    "fct_ai_basket_comparison_1y",
    "fct_security_returns",
    "fct_ai_basket_member_contribution",
    "fct_ai_basket_subsector_contribution",
]


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory):
    import duckdb

    from orchestration.settings import SEEDS_DIR
    from tests.sample_slice import sample_warehouse

    warehouse = sample_warehouse(tmp_path_factory)
    assert warehouse.first_run_success
    with duckdb.connect(str(warehouse.database), read_only=True) as conn:
        frames = {n: conn.sql(f"select * from raw.{n}").df() for n in ("index_prices", "stock_prices", "fx_rates",
                                                                         "shares_outstanding")}
        actual = {m: conn.sql(f"select * from marts.{m}").df() for m in NEW_MARTS}
    return actual, compute_marts_from_frames(frames, SEEDS_DIR)


@pytest.mark.integration
@pytest.mark.parametrize("mart", NEW_MARTS)
def test_new_marts_of_the_sample_build_match_the_oracle(sample_build, mart):
    actual, expected = sample_build
    assert len(expected[mart]) > 0
    assert list(actual[mart].columns) == MART_COLUMNS[mart]
    assert compare_frames(actual[mart], expected[mart], MART_KEYS[mart], rel_tol=1e-9) == []
