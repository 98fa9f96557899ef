"""Independent reference implementation ("oracle") of the marts, in plain pandas.

It reads a snapshot folder (the CSV format of docs/warehouse.md) and the two seed CSVs and computes every
mart straight from the definitions and decisions in docs/warehouse.md. It deliberately shares no code with the project (no dbt, no SQL,
no orchestration imports), so the integration test can check the dbt marts row for row:

    from tests.reference_marts import MART_KEYS, compare_frames, compute_marts

    expected = compute_marts(snapshot_dir, seeds_dir)
    for name, keys in MART_KEYS.items():
        actual = con.sql(f"select * from marts.{name}").df()
        assert not compare_frames(actual, expected[name], keys)

If the warehouse loads only part of a snapshot (e.g. rows from CTR_START_DATE on), read the raw
tables instead and call `compute_marts_from_frames` with them: the mart logic is the same.

Conventions of the frames returned:
- dates are `datetime64[ns]` (midnight), doubles `float64` with NaN for NULL,
  `members`/`members_priced` `int64`, `outperformed` pandas nullable `boolean`;
- columns exactly as `MART_COLUMNS`, rows sorted by the grain (`MART_KEYS`), index 0..n-1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

CN_BASKET = "CN_AI"
PEER_BASKET = "GLOBAL_AI_EX_CN"

MART_COLUMNS: dict[str, list[str]] = {
    "fct_index_returns": [
        "index_id",
        "trade_date",
        "close",
        "currency",
        "daily_return",
        "mtd_return",
        "ytd_return",
        "trailing_1y_return",
    ],
    "fct_relative_performance": [
        "index_id",
        "benchmark_id",
        "trade_date",
        "period",
        "index_return",
        "benchmark_return",
        "excess_return",
        "outperformed",
    ],
    "fct_ai_basket_members_daily": [
        "basket_id",
        "symbol",
        "trade_date",
        "close_local",
        "currency",
        "usd_per_unit",
        "shares_outstanding",
        "market_cap_usd",
    ],
    "fct_ai_basket_market_cap": [
        "basket_id",
        "trade_date",
        "members",
        "members_priced",
        "market_cap_usd",
        "market_cap_usd_1y_ago",
        "change_1y_usd",
        "change_1y_pct",
    ],
    "fct_ai_market_cap_ratio": [
        "trade_date",
        "cn_market_cap_usd",
        "peer_market_cap_usd",
        "cn_to_peer_ratio",
    ],
}

PERIODS = ["1M", "3M", "6M", "YTD", "1Y"]
_CONTRIBUTION = [
    "period",
    "trade_date",
    "base_date",
    "market_cap_usd",
    "market_cap_usd_base",
    "change_usd",
    "basket_change_usd",
    "share_of_change",
    "contribution_pct_points",
    "contribution_rank",
]
MART_COLUMNS.update(
    {
        "fct_fx_rates": ["currency", "trade_date", "usd_per_unit", "units_per_usd"],
        "fct_index_returns_usd": [
            "index_id",
            "trade_date",
            "currency",
            "close",
            "usd_per_unit",
            "close_usd",
            "daily_return_usd",
            "mtd_return_usd",
            "ytd_return_usd",
            "trailing_1y_return_usd",
        ],
        "fct_relative_performance_usd": MART_COLUMNS["fct_relative_performance"],
        "fct_ai_basket_comparison_1y": [
            "basket_id",
            "compared_with",
            "trade_date",
            "market_cap_usd",
            "compared_market_cap_usd",
            "ratio",
            "base_date",
            "market_cap_usd_1y_ago",
            "compared_market_cap_usd_1y_ago",
            "ratio_1y_ago",
            "change_1y_pct",
            "compared_change_1y_pct",
        ],
        "fct_security_returns": [
            "symbol",
            "basket_id",
            "trade_date",
            "currency",
            "close_local",
            "usd_per_unit",
            "close_usd",
            *[f"return_{p.lower()}" for p in PERIODS],
            *[f"return_{p.lower()}_usd" for p in PERIODS],
        ],
        "fct_ai_basket_member_contribution": ["basket_id", "symbol", "subsector", *_CONTRIBUTION],
        "fct_ai_basket_subsector_contribution": ["basket_id", "subsector", *_CONTRIBUTION[:3], "members", *_CONTRIBUTION[3:]],
    }
)

MART_KEYS: dict[str, list[str]] = {
    "fct_index_returns": ["index_id", "trade_date"],
    "fct_relative_performance": ["index_id", "benchmark_id", "trade_date", "period"],
    "fct_ai_basket_members_daily": ["basket_id", "symbol", "trade_date"],
    "fct_ai_basket_market_cap": ["basket_id", "trade_date"],
    "fct_ai_market_cap_ratio": ["trade_date"],
    "fct_fx_rates": ["currency", "trade_date"],
    "fct_index_returns_usd": ["index_id", "trade_date"],
    "fct_relative_performance_usd": ["index_id", "benchmark_id", "trade_date", "period"],
    "fct_ai_basket_comparison_1y": ["basket_id", "compared_with", "trade_date"],
    "fct_security_returns": ["symbol", "trade_date"],
    "fct_ai_basket_member_contribution": ["basket_id", "symbol", "period", "trade_date"],
    "fct_ai_basket_subsector_contribution": ["basket_id", "subsector", "period", "trade_date"],
}

# Required columns of the snapshot files (docs/warehouse.md, "The snapshot folder"), typed, with keys.
# Optional columns (open, high, low, volume, name, weight) are not used by any mart.
SNAPSHOT_FILES: dict[str, dict] = {
    "index_prices": {
        "columns": {"index_id": "text", "trade_date": "date", "close": "double"},
        "key": ["index_id", "trade_date"],
    },
    "stock_prices": {
        "columns": {"symbol": "text", "trade_date": "date", "close": "double", "currency": "text"},
        "key": ["symbol", "trade_date"],
    },
    "fx_rates": {
        "columns": {"currency": "text", "trade_date": "date", "usd_per_unit": "double"},
        "key": ["currency", "trade_date"],
    },
    "shares_outstanding": {
        "columns": {"symbol": "text", "as_of_date": "date", "shares_outstanding": "double"},
        "key": ["symbol", "as_of_date"],
    },
}

_BASKET_DTYPES = {"members": "int64", "members_priced": "int64"}
_DATE_COLUMNS = {"trade_date", "base_date"}
_INT_COLUMNS = {"members", "members_priced", "contribution_rank"}
_TEXT_COLUMNS = {"index_id", "benchmark_id", "period", "basket_id", "symbol", "currency", "compared_with", "subsector"}


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    dtypes = {"text": object, "date": "datetime64[ns]", "double": "float64"}
    return pd.DataFrame({c: pd.Series([], dtype=dtypes[t]) for c, t in columns.items()})


def _typed(df: pd.DataFrame, columns: dict[str, str], where: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}")
    out = pd.DataFrame(index=df.index)
    for col, kind in columns.items():
        s = df[col]
        if kind == "date":
            out[col] = pd.to_datetime(s.astype(str), format="%Y-%m-%d").astype("datetime64[ns]")
        elif kind == "double":
            out[col] = pd.to_numeric(s, errors="raise").astype("float64")
        else:
            out[col] = s.astype(object)
    return out.reset_index(drop=True)


def load_snapshot(snapshot_dir: Path) -> dict[str, pd.DataFrame]:
    """Read the snapshot CSVs that exist; a missing file becomes an empty, correctly typed frame."""
    frames = {}
    for name, spec in SNAPSHOT_FILES.items():
        path = Path(snapshot_dir) / f"{name}.csv"
        if path.exists():
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
            frames[name] = _typed(raw, spec["columns"], str(path))
        else:
            frames[name] = _empty(spec["columns"])
    return frames


def load_seeds(seeds_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(index_catalog[index_id, currency], ai_basket_members[basket_id, symbol])."""
    catalog = pd.read_csv(Path(seeds_dir) / "index_catalog.csv", dtype=str, keep_default_na=False)
    members = pd.read_csv(Path(seeds_dir) / "ai_basket_members.csv", dtype=str, keep_default_na=False)
    return (
        catalog[["index_id", "currency"]].drop_duplicates().reset_index(drop=True),
        members[["basket_id", "symbol"]].drop_duplicates().reset_index(drop=True),
    )


def _prepare_inputs(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Type the given frames (from CSV or from raw tables) and reject duplicate keys."""
    out = {}
    for name, spec in SNAPSHOT_FILES.items():
        df = frames.get(name)
        if df is None:
            df = _empty(spec["columns"])
        else:
            df = df.copy()
            for col, kind in spec["columns"].items():
                if col not in df.columns:
                    raise ValueError(f"{name}: missing column {col!r}")
                if kind == "date":
                    df[col] = pd.to_datetime(df[col]).dt.normalize().astype("datetime64[ns]")
                elif kind == "double":
                    df[col] = df[col].astype("float64")
                else:
                    df[col] = df[col].astype(object)
            df = df[list(spec["columns"])].reset_index(drop=True)
        dups = df[df.duplicated(spec["key"], keep=False)]
        if len(dups):
            raise ValueError(f"{name}: duplicate keys {spec['key']}: {dups.head(5).to_dict('records')}")
        out[name] = df
    return out


# --------------------------------------------------------------------------------------------
# Date helpers and the as-of lookup
# --------------------------------------------------------------------------------------------


def one_year_back(d: date) -> date:
    """The same calendar day one year earlier; Feb 29 -> Feb 28."""
    if d.month == 2 and d.day == 29:
        return date(d.year - 1, 2, 28)
    return date(d.year - 1, d.month, d.day)


def _map_dates(dates: pd.Series, fn) -> pd.Series:
    """Apply a date -> date function to a datetime64 series (computed once per distinct date)."""
    mapping = {}
    for value in dates.unique():
        ts = pd.Timestamp(value)
        mapping[ts] = pd.Timestamp(fn(ts.date()))
    return dates.map(mapping).astype("datetime64[ns]")


def first_of_month(dates: pd.Series) -> pd.Series:
    return _map_dates(dates, lambda d: date(d.year, d.month, 1))


def first_of_year(dates: pd.Series) -> pd.Series:
    return _map_dates(dates, lambda d: date(d.year, 1, 1))


def year_back(dates: pd.Series) -> pd.Series:
    return _map_dates(dates, one_year_back)


def asof_lookup(
    left: pd.DataFrame,
    left_on: str,
    right: pd.DataFrame,
    right_on: str,
    by: str | None,
    values: list[str],
    strict: bool,
) -> pd.DataFrame:
    """For each row of `left`, the `values` of the latest `right` row (same `by`) whose `right_on`
    is <= left[left_on] (or < when strict). Returns a frame aligned to left.index; NaN where none."""
    result = pd.DataFrame(index=left.index, columns=values, dtype=object)
    if left.empty:
        return result.astype({v: right[v].dtype for v in values})
    lhs = pd.DataFrame({"_row": np.arange(len(left)), "_at": left[left_on].to_numpy()})
    rhs = pd.DataFrame({"_at": right[right_on].to_numpy()})
    for i, v in enumerate(values):
        rhs[f"_v{i}"] = right[v].to_numpy()
    if by is not None:
        lhs["_by"] = left[by].astype(object).to_numpy()
        rhs["_by"] = right[by].astype(object).to_numpy()
    lhs["_at"] = lhs["_at"].astype("datetime64[ns]")
    rhs["_at"] = rhs["_at"].astype("datetime64[ns]")
    merged = pd.merge_asof(
        lhs.sort_values("_at", kind="stable"),
        rhs.sort_values("_at", kind="stable"),
        on="_at",
        by="_by" if by is not None else None,
        direction="backward",
        allow_exact_matches=not strict,
    ).sort_values("_row")
    for i, v in enumerate(values):
        result[v] = merged[f"_v{i}"].to_numpy()
    for v in values:
        if right[v].dtype != object:
            result[v] = result[v].astype(right[v].dtype)
    return result


def _finish(df: pd.DataFrame, name: str) -> pd.DataFrame:
    cols = MART_COLUMNS[name]
    return df[cols].sort_values(MART_KEYS[name], kind="stable").reset_index(drop=True)


def _empty_mart(name: str) -> pd.DataFrame:
    def kind(c: str):
        if c in _DATE_COLUMNS:
            return "datetime64[ns]"
        if c in _INT_COLUMNS:
            return "int64"
        if c == "outperformed":
            return "boolean"
        return object if c in _TEXT_COLUMNS else "float64"

    return pd.DataFrame({c: pd.Series([], dtype=kind(c)) for c in MART_COLUMNS[name]})


def _null_safe(values: pd.Series) -> pd.Series:
    """Float series with NaN for NULL (never +-inf)."""
    return values.astype("float64").replace([np.inf, -np.inf], np.nan)


# --------------------------------------------------------------------------------------------
# Marts
# --------------------------------------------------------------------------------------------


def index_returns(index_prices: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    prices = index_prices[index_prices["index_id"].isin(catalog["index_id"])]
    if prices.empty:
        return _empty_mart("fct_index_returns")
    df = prices.sort_values(["index_id", "trade_date"]).reset_index(drop=True)
    df = df.merge(catalog, on="index_id", how="left")  # currency from the catalog (decision 7)
    d = df["trade_date"]

    prev_close = df.groupby("index_id")["close"].shift(1)
    df["daily_return"] = df["close"] / prev_close - 1

    df["_month_start"] = first_of_month(d)
    df["_year_start"] = first_of_year(d)
    df["_year_back"] = year_back(d)
    series = df[["index_id", "trade_date", "close"]]
    month_anchor = asof_lookup(df, "_month_start", series, "trade_date", "index_id", ["close"], strict=True)
    year_anchor = asof_lookup(df, "_year_start", series, "trade_date", "index_id", ["close"], strict=True)
    back_anchor = asof_lookup(df, "_year_back", series, "trade_date", "index_id", ["close"], strict=False)
    df["mtd_return"] = df["close"] / month_anchor["close"] - 1
    df["ytd_return"] = df["close"] / year_anchor["close"] - 1
    df["trailing_1y_return"] = df["close"] / back_anchor["close"] - 1
    for c in ["daily_return", "mtd_return", "ytd_return", "trailing_1y_return"]:
        df[c] = _null_safe(df[c])
    return _finish(df, "fct_index_returns")


def relative_performance(
    returns: pd.DataFrame,
    index_prices: pd.DataFrame,
    catalog: pd.DataFrame,
    benchmark_ids: Iterable[str],
) -> pd.DataFrame:
    prices = index_prices[index_prices["index_id"].isin(catalog["index_id"])]
    parts = []
    for benchmark_id in benchmark_ids:
        bench = prices[prices["index_id"] == benchmark_id][["trade_date", "close"]]
        idx = returns[returns["index_id"] != benchmark_id].reset_index(drop=True)  # decision 1
        if bench.empty or idx.empty:
            continue
        d = idx["trade_date"]
        # The benchmark's close as of d; only dates on which it exists get rows.
        bench_now = asof_lookup(idx, "trade_date", bench, "trade_date", None, ["close"], strict=False)[
            "close"
        ]
        anchors = {
            "MTD": asof_lookup(
                idx.assign(_a=first_of_month(d)), "_a", bench, "trade_date", None, ["close"], strict=True
            )["close"],
            "YTD": asof_lookup(
                idx.assign(_a=first_of_year(d)), "_a", bench, "trade_date", None, ["close"], strict=True
            )["close"],
            "1Y": asof_lookup(
                idx.assign(_a=year_back(d)), "_a", bench, "trade_date", None, ["close"], strict=False
            )["close"],
        }
        own = {"MTD": "mtd_return", "YTD": "ytd_return", "1Y": "trailing_1y_return"}
        has_bench = bench_now.notna()
        for period in ["MTD", "YTD", "1Y"]:
            part = pd.DataFrame(
                {
                    "index_id": idx["index_id"],
                    "benchmark_id": benchmark_id,
                    "trade_date": idx["trade_date"],
                    "period": period,
                    "index_return": idx[own[period]].astype("float64"),
                    "benchmark_return": _null_safe(bench_now / anchors[period] - 1),
                }
            )[has_bench]
            parts.append(part)
    if not parts:
        return _empty_mart("fct_relative_performance")
    df = pd.concat(parts, ignore_index=True)
    df["excess_return"] = df["index_return"] - df["benchmark_return"]  # NaN if either is NaN
    outperformed = pd.array([pd.NA] * len(df), dtype="boolean")
    known = df["excess_return"].notna().to_numpy()
    outperformed[known] = df["excess_return"].to_numpy()[known] > 0
    df["outperformed"] = outperformed
    return _finish(df, "fct_relative_performance")


def basket_members_daily(
    stock_prices: pd.DataFrame,
    fx_rates: pd.DataFrame,
    shares: pd.DataFrame,
    members: pd.DataFrame,
) -> pd.DataFrame:
    prices = stock_prices.merge(members, on="symbol", how="inner")  # adds basket_id (per basket)
    if prices.empty:
        return _empty_mart("fct_ai_basket_members_daily")
    # Decision 6: the basket's dates = union of its members' trading dates; each priced member
    # gets every such date on or after its own first close.
    basket_dates = prices[["basket_id", "trade_date"]].drop_duplicates()
    first_close = prices.groupby(["basket_id", "symbol"], as_index=False)["trade_date"].min()
    first_close = first_close.rename(columns={"trade_date": "first_close"})
    grid = basket_dates.merge(first_close, on="basket_id", how="inner")
    grid = grid[grid["trade_date"] >= grid["first_close"]].reset_index(drop=True)

    # Latest close (and its currency) with trade_date <= d.
    price_rows = stock_prices[["symbol", "trade_date", "close", "currency"]]
    latest = asof_lookup(
        grid, "trade_date", price_rows, "trade_date", "symbol", ["close", "currency"], strict=False
    )
    grid["close_local"] = latest["close"].astype("float64")
    grid["currency"] = latest["currency"].astype(object)

    # usd_per_unit: 1 for USD, else the latest rate with trade_date <= d.
    fx = asof_lookup(grid, "trade_date", fx_rates, "trade_date", "currency", ["usd_per_unit"], strict=False)[
        "usd_per_unit"
    ].astype("float64")
    grid["usd_per_unit"] = np.where(grid["currency"] == "USD", 1.0, fx)

    # shares_outstanding: latest as_of_date <= d.
    grid["shares_outstanding"] = asof_lookup(
        grid,
        "trade_date",
        shares,
        "as_of_date",
        "symbol",
        ["shares_outstanding"],
        strict=False,
    )["shares_outstanding"].astype("float64")

    grid["market_cap_usd"] = grid["close_local"] * grid["shares_outstanding"] * grid["usd_per_unit"]
    return _finish(grid, "fct_ai_basket_members_daily")


def basket_market_cap(members_daily: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    if members_daily.empty:
        return _empty_mart("fct_ai_basket_market_cap")
    configured = members.groupby("basket_id")["symbol"].nunique().rename("members")
    df = (
        members_daily.groupby(["basket_id", "trade_date"])
        .agg(
            members_priced=("market_cap_usd", "count"),  # count() skips NaN
            market_cap_usd=("market_cap_usd", lambda s: s.sum(min_count=1)),  # NULL if none priced
        )
        .reset_index()
    )
    df = df.merge(configured, on="basket_id", how="left")
    df["market_cap_usd"] = df["market_cap_usd"].astype("float64")

    # Decision 4: the basket's latest non-NULL value with trade_date <= d minus one year.
    valued = df[df["market_cap_usd"].notna()][["basket_id", "trade_date", "market_cap_usd"]]
    df["_year_back"] = year_back(df["trade_date"])
    df["market_cap_usd_1y_ago"] = asof_lookup(
        df,
        "_year_back",
        valued,
        "trade_date",
        "basket_id",
        ["market_cap_usd"],
        strict=False,
    )["market_cap_usd"].astype("float64")
    df["change_1y_usd"] = df["market_cap_usd"] - df["market_cap_usd_1y_ago"]
    df["change_1y_pct"] = _null_safe(100 * (df["market_cap_usd"] / df["market_cap_usd_1y_ago"] - 1))
    df = df.astype(_BASKET_DTYPES)
    return _finish(df, "fct_ai_basket_market_cap")


def market_cap_ratio(market_cap: pd.DataFrame) -> pd.DataFrame:
    both = market_cap[market_cap["basket_id"].isin([CN_BASKET, PEER_BASKET])]
    if both.empty:
        return _empty_mart("fct_ai_market_cap_ratio")
    # Decision 5: dates = union of both baskets' dates; each side = latest non-NULL value <= d.
    dates = pd.DataFrame({"trade_date": np.sort(both["trade_date"].unique())})
    valued = both[both["market_cap_usd"].notna()]
    cn = valued[valued["basket_id"] == CN_BASKET]
    peer = valued[valued["basket_id"] == PEER_BASKET]
    dates["cn_market_cap_usd"] = asof_lookup(
        dates, "trade_date", cn, "trade_date", None, ["market_cap_usd"], strict=False
    )["market_cap_usd"]
    dates["peer_market_cap_usd"] = asof_lookup(
        dates, "trade_date", peer, "trade_date", None, ["market_cap_usd"], strict=False
    )["market_cap_usd"]
    df = dates[dates["cn_market_cap_usd"].notna() & dates["peer_market_cap_usd"].notna()].copy()
    if df.empty:
        return _empty_mart("fct_ai_market_cap_ratio")
    df["cn_market_cap_usd"] = df["cn_market_cap_usd"].astype("float64")
    df["peer_market_cap_usd"] = df["peer_market_cap_usd"].astype("float64")
    df["cn_to_peer_ratio"] = df["cn_market_cap_usd"] / df["peer_market_cap_usd"]
    return _finish(df, "fct_ai_market_cap_ratio")



# --------------------------------------------------------------------------------------------
# USD views, the comparison a year earlier, per-security returns and contribution
# --------------------------------------------------------------------------------------------


def months_back(d: date, months: int) -> date:
    """The same calendar day `months` earlier, clamped to that month's last day (Mar 31 -> Feb 29)."""
    return (pd.Timestamp(d) - pd.DateOffset(months=months)).date()


def _usd_per_unit(frame: pd.DataFrame, fx_rates: pd.DataFrame) -> pd.Series:
    """1 for USD; else the latest rate of the row's currency with trade_date <= the row's trade_date."""
    fx = asof_lookup(frame, "trade_date", fx_rates, "trade_date", "currency", ["usd_per_unit"], strict=False)
    return pd.Series(np.where(frame["currency"] == "USD", 1.0, fx["usd_per_unit"].astype("float64")),
                     index=frame.index, dtype="float64")


def fx_rates_mart(fx_rates: pd.DataFrame) -> pd.DataFrame:
    df = fx_rates.sort_values(["currency", "trade_date"]).copy()
    # A rate equal to the currency's previous one restates it: not a row of its own.
    df = df[df["usd_per_unit"].ne(df.groupby("currency")["usd_per_unit"].shift())]
    df["units_per_usd"] = 1 / df["usd_per_unit"]
    return _finish(df, "fct_fx_rates") if len(df) else _empty_mart("fct_fx_rates")


def _usd_series(index_prices: pd.DataFrame, catalog: pd.DataFrame, fx_rates: pd.DataFrame) -> pd.DataFrame:
    """Each index close with its currency, FX rate as of its date and USD value."""
    prices = index_prices[index_prices["index_id"].isin(catalog["index_id"])]
    df = prices.merge(catalog, on="index_id", how="left").sort_values(["index_id", "trade_date"]).reset_index(drop=True)
    df["usd_per_unit"] = _usd_per_unit(df, fx_rates)
    df["close_usd"] = df["close"] * df["usd_per_unit"]
    return df


def index_returns_usd(index_prices: pd.DataFrame, catalog: pd.DataFrame, fx_rates: pd.DataFrame) -> pd.DataFrame:
    df = _usd_series(index_prices, catalog, fx_rates)
    if df.empty:
        return _empty_mart("fct_index_returns_usd")
    series = df[["index_id", "trade_date", "close_usd"]]
    d = df["trade_date"]

    def anchor(dates, strict):
        return asof_lookup(df.assign(_a=dates), "_a", series, "trade_date", "index_id", ["close_usd"], strict)["close_usd"]

    df["daily_return_usd"] = df["close_usd"] / df.groupby("index_id")["close_usd"].shift(1) - 1
    df["mtd_return_usd"] = df["close_usd"] / anchor(first_of_month(d), True) - 1
    df["ytd_return_usd"] = df["close_usd"] / anchor(first_of_year(d), True) - 1
    df["trailing_1y_return_usd"] = df["close_usd"] / anchor(year_back(d), False) - 1
    for c in ["daily_return_usd", "mtd_return_usd", "ytd_return_usd", "trailing_1y_return_usd"]:
        df[c] = _null_safe(df[c])
    return _finish(df, "fct_index_returns_usd")


def relative_performance_usd(
    returns_usd: pd.DataFrame,
    index_prices: pd.DataFrame,
    catalog: pd.DataFrame,
    fx_rates: pd.DataFrame,
    benchmark_ids: Iterable[str],
) -> pd.DataFrame:
    series = _usd_series(index_prices, catalog, fx_rates)
    parts = []
    for benchmark_id in benchmark_ids:
        bench = series[series["index_id"] == benchmark_id][["trade_date", "close", "close_usd"]]
        idx = returns_usd[returns_usd["index_id"] != benchmark_id].reset_index(drop=True)
        if bench.empty or idx.empty:
            continue
        d = idx["trade_date"]
        now = asof_lookup(idx, "trade_date", bench, "trade_date", None, ["close", "close_usd"], strict=False)

        def at(dates, strict, idx=idx, bench=bench):
            return asof_lookup(idx.assign(_a=dates), "_a", bench, "trade_date", None, ["close_usd"], strict)["close_usd"]

        anchors = {"MTD": at(first_of_month(d), True), "YTD": at(first_of_year(d), True), "1Y": at(year_back(d), False)}
        own = {"MTD": "mtd_return_usd", "YTD": "ytd_return_usd", "1Y": "trailing_1y_return_usd"}
        for period in ["MTD", "YTD", "1Y"]:
            parts.append(
                pd.DataFrame(
                    {
                        "index_id": idx["index_id"],
                        "benchmark_id": benchmark_id,
                        "trade_date": d,
                        "period": period,
                        "index_return": idx[own[period]].astype("float64"),
                        "benchmark_return": _null_safe(now["close_usd"].astype("float64") / anchors[period] - 1),
                    }
                )[now["close"].notna()]
            )
    if not parts:
        return _empty_mart("fct_relative_performance_usd")
    df = pd.concat(parts, ignore_index=True)
    df["excess_return"] = df["index_return"] - df["benchmark_return"]
    outperformed = pd.array([pd.NA] * len(df), dtype="boolean")
    known = df["excess_return"].notna().to_numpy()
    outperformed[known] = df["excess_return"].to_numpy()[known] > 0
    df["outperformed"] = outperformed
    return _finish(df, "fct_relative_performance_usd")


def basket_comparison_1y(ratio: pd.DataFrame) -> pd.DataFrame:
    """The headline pair's comparison now and as of the same calendar day a year earlier."""
    if ratio.empty:
        return _empty_mart("fct_ai_basket_comparison_1y")
    df = ratio.rename(
        columns={"cn_market_cap_usd": "market_cap_usd", "peer_market_cap_usd": "compared_market_cap_usd",
                 "cn_to_peer_ratio": "ratio"}
    ).reset_index(drop=True)
    df["basket_id"], df["compared_with"] = CN_BASKET, PEER_BASKET
    then = df[["trade_date", "market_cap_usd", "compared_market_cap_usd", "ratio"]].assign(base_date=df["trade_date"])
    back = asof_lookup(
        df.assign(_a=year_back(df["trade_date"])), "_a", then, "trade_date", None,
        ["base_date", "market_cap_usd", "compared_market_cap_usd", "ratio"], strict=False,
    )
    df["base_date"] = back["base_date"].astype("datetime64[ns]")
    df["market_cap_usd_1y_ago"] = back["market_cap_usd"].astype("float64")
    df["compared_market_cap_usd_1y_ago"] = back["compared_market_cap_usd"].astype("float64")
    df["ratio_1y_ago"] = back["ratio"].astype("float64")
    df["change_1y_pct"] = _null_safe(100 * (df["market_cap_usd"] / df["market_cap_usd_1y_ago"] - 1))
    df["compared_change_1y_pct"] = _null_safe(
        100 * (df["compared_market_cap_usd"] / df["compared_market_cap_usd_1y_ago"] - 1)
    )
    return _finish(df, "fct_ai_basket_comparison_1y")


def _period_targets(dates: pd.Series, period: str) -> pd.Series:
    """The day a period's base is the latest value on or before: n months back, or Dec 31 for YTD."""
    if period == "YTD":
        return _map_dates(dates, lambda d: date(d.year - 1, 12, 31))
    months = {"1M": 1, "3M": 3, "6M": 6, "1Y": 12}[period]
    return _map_dates(dates, lambda d: months_back(d, months))


def security_returns(stock_prices: pd.DataFrame, fx_rates: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    df = stock_prices.merge(members, on="symbol", how="inner").sort_values(["symbol", "trade_date"]).reset_index(drop=True)
    if df.empty:
        return _empty_mart("fct_security_returns")
    df = df.rename(columns={"close": "close_local"})
    df["usd_per_unit"] = _usd_per_unit(df, fx_rates)
    df["close_usd"] = df["close_local"] * df["usd_per_unit"]
    series = df[["symbol", "trade_date", "close_local", "close_usd"]]
    for period in PERIODS:
        base = asof_lookup(df.assign(_a=_period_targets(df["trade_date"], period)), "_a", series, "trade_date",
                           "symbol", ["close_local", "close_usd"], strict=False)
        name = f"return_{period.lower()}"
        df[name] = _null_safe(df["close_local"] / base["close_local"].astype("float64") - 1)
        df[f"{name}_usd"] = _null_safe(df["close_usd"] / base["close_usd"].astype("float64") - 1)
    return _finish(df, "fct_security_returns")


def _contribution_rank(df: pd.DataFrame, group: list[str]) -> pd.Series:
    signed = np.where(df["basket_change_usd"] < 0, -df["change_usd"], df["change_usd"])
    return pd.Series(signed, index=df.index).groupby([df[g] for g in group]).rank(
        method="min", ascending=False
    ).astype("int64")


def member_contribution(members_daily: pd.DataFrame, market_cap: pd.DataFrame, subsectors: pd.DataFrame) -> pd.DataFrame:
    valued = market_cap[market_cap["market_cap_usd"].notna()][["basket_id", "trade_date", "market_cap_usd"]]
    valued = valued.reset_index(drop=True)
    values = members_daily[["basket_id", "symbol", "trade_date", "market_cap_usd"]]
    parts = []
    for period in PERIODS:
        base = asof_lookup(
            valued.assign(_a=_period_targets(valued["trade_date"], period)), "_a",
            valued.assign(base_date=valued["trade_date"]), "trade_date", "basket_id",
            ["base_date", "market_cap_usd"], strict=False,
        )
        dates = valued.assign(period=period, base_date=base["base_date"].astype("datetime64[ns]"),
                              basket_change_usd=valued["market_cap_usd"] - base["market_cap_usd"].astype("float64"),
                              _basket_base=base["market_cap_usd"].astype("float64"))
        dates = dates[dates["base_date"].notna()].drop(columns="market_cap_usd")
        now = dates.merge(values, on=["basket_id", "trade_date"])
        then = dates.merge(values.rename(columns={"trade_date": "base_date", "market_cap_usd": "market_cap_usd_base"}),
                           on=["basket_id", "base_date"])
        keys = ["basket_id", "trade_date", "period", "base_date", "basket_change_usd", "_basket_base", "symbol"]
        both = now.merge(then, on=keys, how="outer")
        parts.append(both[both["market_cap_usd"].notna() | both["market_cap_usd_base"].notna()])
    if not parts or all(p.empty for p in parts):
        return _empty_mart("fct_ai_basket_member_contribution")
    df = pd.concat(parts, ignore_index=True).merge(subsectors, on=["basket_id", "symbol"], how="left")
    df["change_usd"] = df["market_cap_usd"].fillna(0.0) - df["market_cap_usd_base"].fillna(0.0)
    df["share_of_change"] = _null_safe(df["change_usd"] / df["basket_change_usd"].replace(0.0, np.nan))
    df["contribution_pct_points"] = 100 * df["change_usd"] / df["_basket_base"]
    df["contribution_rank"] = _contribution_rank(df, ["basket_id", "period", "trade_date"])
    return _finish(df, "fct_ai_basket_member_contribution")


def subsector_contribution(members: pd.DataFrame) -> pd.DataFrame:
    if members.empty:
        return _empty_mart("fct_ai_basket_subsector_contribution")
    df = members.assign(subsector=members["subsector"].fillna("unclassified"))
    keys = ["basket_id", "subsector", "period", "trade_date", "base_date", "basket_change_usd"]
    df = (
        df.groupby(keys)
        .agg(
            members=("symbol", "count"),
            market_cap_usd=("market_cap_usd", lambda s: s.sum(min_count=1)),
            market_cap_usd_base=("market_cap_usd_base", lambda s: s.sum(min_count=1)),
            change_usd=("change_usd", "sum"),
            contribution_pct_points=("contribution_pct_points", "sum"),
        )
        .reset_index()
    )
    df["share_of_change"] = _null_safe(df["change_usd"] / df["basket_change_usd"].replace(0.0, np.nan))
    df["contribution_rank"] = _contribution_rank(df, ["basket_id", "period", "trade_date"])
    df = df.astype({"members": "int64"})
    return _finish(df, "fct_ai_basket_subsector_contribution")


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def compute_marts_from_frames(
    frames: dict[str, pd.DataFrame],
    seeds_dir: Path,
    benchmark_ids: Iterable[str] = ("NDX",),
) -> dict[str, pd.DataFrame]:
    """The five marts from input frames named like the snapshot files (index_prices, stock_prices,
    fx_rates, shares_outstanding; absent = empty). Extra columns (source, loaded_at...) are ignored,
    so the raw tables read back from DuckDB can be passed too."""
    inputs = _prepare_inputs(frames)
    catalog, members = load_seeds(seeds_dir)
    symbols = set(members["symbol"])
    stock_prices = inputs["stock_prices"][inputs["stock_prices"]["symbol"].isin(symbols)]
    shares = inputs["shares_outstanding"][inputs["shares_outstanding"]["symbol"].isin(symbols)]

    returns = index_returns(inputs["index_prices"], catalog)
    relative = relative_performance(returns, inputs["index_prices"], catalog, tuple(benchmark_ids))
    daily = basket_members_daily(stock_prices, inputs["fx_rates"], shares, members)
    market_cap = basket_market_cap(daily, members)
    ratio = market_cap_ratio(market_cap)
    fx = inputs["fx_rates"]
    returns_usd = index_returns_usd(inputs["index_prices"], catalog, fx)
    members_seed = pd.read_csv(Path(seeds_dir) / "ai_basket_members.csv", dtype=str, keep_default_na=False)
    contribution = member_contribution(daily, market_cap, members_seed[["basket_id", "symbol", "subsector"]])
    return {
        "fct_index_returns": returns,
        "fct_relative_performance": relative,
        "fct_ai_basket_members_daily": daily,
        "fct_ai_basket_market_cap": market_cap,
        "fct_ai_market_cap_ratio": ratio,
        "fct_fx_rates": fx_rates_mart(fx),
        "fct_index_returns_usd": returns_usd,
        "fct_relative_performance_usd": relative_performance_usd(
            returns_usd, inputs["index_prices"], catalog, fx, tuple(benchmark_ids)
        ),
        "fct_ai_basket_comparison_1y": basket_comparison_1y(ratio),
        "fct_security_returns": security_returns(stock_prices, fx, members),
        "fct_ai_basket_member_contribution": contribution,
        "fct_ai_basket_subsector_contribution": subsector_contribution(contribution),
    }


def compute_marts(
    snapshot_dir: Path,
    seeds_dir: Path,
    benchmark_ids: Iterable[str] = ("NDX",),
    start: date | None = None,
) -> dict[str, pd.DataFrame]:
    """The five marts computed from a snapshot folder and the seeds folder.

    With `start` (CTR_START_DATE), prices are loaded from that date on, while share counts and FX
    rates keep their whole history: the value in force at `start` may be dated long before it."""
    frames = load_snapshot(Path(snapshot_dir))
    if start is not None:
        first = pd.Timestamp(start)
        for name in ("index_prices", "stock_prices"):
            frames[name] = frames[name][frames[name]["trade_date"] >= first]
        # The load keeps FX rates from the start on, each currency without a rate that day carrying its
        # latest earlier one, restamped to the start (docs/warehouse.md): what fct_fx_rates shows.
        fx = frames["fx_rates"]
        before = fx[fx["trade_date"] < first].sort_values("trade_date").groupby("currency").tail(1)
        before = before[~before["currency"].isin(fx[fx["trade_date"] == first]["currency"])]
        frames["fx_rates"] = pd.concat([before.assign(trade_date=first), fx[fx["trade_date"] >= first]], ignore_index=True)
    return compute_marts_from_frames(frames, Path(seeds_dir), benchmark_ids)


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def _is_null(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _column_kind(*series: pd.Series) -> str:
    """'date', 'bool', 'number' or 'text', judged from the dtypes / non-NULL values."""
    for s in series:
        if pd.api.types.is_bool_dtype(s.dtype):
            return "bool"
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            return "date"
    for s in series:
        if pd.api.types.is_numeric_dtype(s.dtype):
            return "number"
    for s in series:
        values = [v for v in s if not _is_null(v)]
        if not values:
            continue
        if all(isinstance(v, (bool, np.bool_)) for v in values):
            return "bool"
        if all(isinstance(v, (date, datetime, pd.Timestamp, np.datetime64)) for v in values):
            return "date"
        if all(
            isinstance(v, (int, float, np.integer, np.floating, Decimal)) and not isinstance(v, bool)
            for v in values
        ):
            return "number"
        return "text"
    return "text"


def _as_date(v):
    if _is_null(v):
        return None
    try:
        if isinstance(v, str):
            return date.fromisoformat(v[:10])
        return pd.Timestamp(v).date()
    except (ValueError, TypeError):
        return v  # not a date: kept as is, so it shows up as a mismatch


def _fmt(v) -> str:
    if _is_null(v):
        return "NULL"
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, (pd.Timestamp, datetime)):
        return str(pd.Timestamp(v).date()) if pd.Timestamp(v) == pd.Timestamp(v).normalize() else str(v)
    return repr(v) if isinstance(v, str) else str(v)


def _values_equal(a, e, kind: str, rel_tol: float, abs_tol: float) -> bool:
    a_null, e_null = _is_null(a), _is_null(e)
    if a_null or e_null:
        return a_null and e_null
    if kind == "number":
        numeric = (int, float, np.integer, np.floating, Decimal)
        if (
            not (isinstance(a, numeric) and isinstance(e, numeric))
            or isinstance(a, bool)
            or isinstance(e, bool)
        ):
            return False
        return math.isclose(float(a), float(e), rel_tol=rel_tol, abs_tol=abs_tol)
    if kind == "bool":
        return isinstance(a, (bool, np.bool_)) and isinstance(e, (bool, np.bool_)) and bool(a) == bool(e)
    if kind == "date":
        return _as_date(a) == _as_date(e)
    return isinstance(a, str) == isinstance(e, str) and a == e


def compare_frames(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    keys: list[str],
    rel_tol: float = 1e-9,
    *,
    abs_tol: float = 1e-12,
    max_messages: int | None = 200,
) -> list[str]:
    """Human-readable differences between two frames matched on `keys` (empty list = equal).

    Reports missing/extra columns, duplicate keys, rows missing from / extra in `actual`, and per
    column value mismatches with both values. NULL (None/NaN/NA/NaT) vs non-NULL is a mismatch;
    numbers are equal within `rel_tol` relative or `abs_tol` absolute tolerance; booleans and text
    exactly (a boolean column must hold booleans on both sides); dates are compared as dates
    (datetime64, Timestamp, date and ISO strings all reduce to a date). At most `max_messages`
    messages are returned (None = all), the last one counting what was left out.
    """
    messages: list[str] = []

    missing_cols = [c for c in expected.columns if c not in actual.columns]
    extra_cols = [c for c in actual.columns if c not in expected.columns]
    if missing_cols:
        messages.append(f"columns missing from actual: {missing_cols}")
    if extra_cols:
        messages.append(f"extra columns in actual: {extra_cols}")
    absent_keys = [k for k in keys if k not in actual.columns or k not in expected.columns]
    if absent_keys:
        messages.append(f"key column(s) {absent_keys} not in both frames; rows not compared")
        return messages

    value_cols = [c for c in expected.columns if c in actual.columns and c not in keys]
    kinds = {c: _column_kind(expected[c], actual[c]) for c in keys + value_cols}

    def prepare(df: pd.DataFrame, label: str) -> pd.DataFrame:
        out = pd.DataFrame(index=range(len(df)))
        for k in keys:
            values = df[k].tolist()
            out[k] = pd.Series(
                [_as_date(v) if kinds[k] == "date" else (None if _is_null(v) else v) for v in values],
                dtype=object,
            )
        for c in value_cols:
            out[f"{c}\0{label}"] = pd.Series(df[c].tolist(), dtype=object)
        return out

    act = prepare(actual, "a")
    exp = prepare(expected, "e")

    def key_text(row: dict) -> str:
        return ", ".join(f"{k}={_fmt(row[k])}" for k in keys)

    for label, df in (("actual", act), ("expected", exp)):
        dup = df.duplicated(keys, keep="first")
        for row in df.loc[dup, keys].to_dict("records"):
            messages.append(f"duplicate key in {label}: ({key_text(row)})")
        df.drop(df.index[dup], inplace=True)

    merged = act.merge(exp, on=keys, how="outer", indicator=True)
    merged["_sort"] = merged[keys].astype(str).agg("\x1f".join, axis=1) if len(merged) else ""
    merged = merged.sort_values("_sort", kind="stable")

    for row in merged.loc[merged["_merge"] == "right_only", keys].to_dict("records"):
        messages.append(f"row missing from actual: ({key_text(row)})")
    for row in merged.loc[merged["_merge"] == "left_only", keys].to_dict("records"):
        messages.append(f"extra row in actual: ({key_text(row)})")

    both = merged[merged["_merge"] == "both"]
    key_rows = both[keys].to_dict("records")
    for c in value_cols:
        a_values, e_values = both[f"{c}\0a"].tolist(), both[f"{c}\0e"].tolist()
        for key_row, a, e in zip(key_rows, a_values, e_values):
            if not _values_equal(a, e, kinds[c], rel_tol, abs_tol):
                messages.append(f"{c} differs at ({key_text(key_row)}): actual={_fmt(a)} expected={_fmt(e)}")

    if max_messages is not None and len(messages) > max_messages:
        left_out = len(messages) - max_messages
        messages = messages[:max_messages] + [f"... and {left_out} more mismatch(es) not shown"]
    return messages
