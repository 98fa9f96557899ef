"""The synthetic sample generator: the committed sample_data/ is exactly what it writes, and the data has
the properties the demo and the marts rely on (calendars, listings, the split, constituents)."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import exchange_calendars as xcals
import pandas as pd
import pytest

from orchestration import reference
from orchestration.datasets import DATASETS
from orchestration.sample import (
    DEFAULT_END,
    DEFAULT_START,
    SPLIT_DATE,
    SPLIT_RATIO,
    SPLIT_SYMBOL,
    generate_sample,
    main,
)
from orchestration.settings import SAMPLE_DIR

FILES = [d.file_name for d in DATASETS] + ["README.md"]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate_sample(out)
    return out


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {d.name: pd.read_csv(SAMPLE_DIR / d.file_name, dtype={"symbol": str}) for d in DATASETS}


def _sessions(calendar: str, start: date = DEFAULT_START, end: date = DEFAULT_END) -> set[str]:
    cal = xcals.get_calendar(calendar, start=start.isoformat(), end=end.isoformat())
    return set(cal.sessions.strftime("%Y-%m-%d"))


@pytest.mark.parametrize("name", FILES)
def test_committed_sample_is_reproduced_byte_for_byte(regenerated, name):
    assert (regenerated / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), (
        f"sample_data/{name} differs from a fresh `python -m orchestration.sample generate`"
    )


def test_files_follow_the_dataset_format(frames):
    for d in DATASETS:
        raw = (SAMPLE_DIR / d.file_name).read_bytes()
        assert b"\r" not in raw and raw.endswith(b"\n")
        assert raw.decode("utf-8").split("\n", 1)[0] == ",".join(d.column_names)
        frame = frames[d.name]
        keys = list(frame[list(d.key)].itertuples(index=False, name=None))
        assert keys == sorted(keys) and len(set(keys)) == len(keys), f"{d.file_name} not sorted by unique key"
        for col in d.positive_columns:
            assert (frame[col] > 0).all(), f"{d.file_name}.{col}"
    for name in ("index_prices", "stock_prices"):
        p = frames[name]
        assert (p["low"] <= p[["open", "close"]].min(axis=1)).all()
        assert (p["high"] >= p[["open", "close"]].max(axis=1)).all()
    assert "SYNTHETIC" in (SAMPLE_DIR / "README.md").read_text()


def test_every_seed_symbol_index_and_currency_has_rows(frames):
    assert set(frames["index_prices"]["index_id"]) == set(reference.index_ids())
    assert set(frames["stock_prices"]["symbol"]) == set(reference.stock_symbols())
    assert set(frames["shares_outstanding"]["symbol"]) == set(reference.stock_symbols())
    fx = frames["fx_rates"]
    assert sorted(set(fx["currency"])) == reference.fx_currencies()
    assert (pd.to_datetime(fx["trade_date"]).dt.dayofweek < 5).all()
    assert fx.groupby("currency").size().nunique() == 1  # every weekday for every currency
    currency = reference.currency_of_symbol()
    assert (frames["stock_prices"]["currency"] == frames["stock_prices"]["symbol"].map(currency)).all()


def test_each_series_trades_on_its_own_exchange_calendar(frames):
    calendars = {i.index_id: i.calendar for i in reference.index_catalog()}
    for index_id, rows in frames["index_prices"].groupby("index_id"):
        assert set(rows["trade_date"]) == _sessions(calendars[index_id]), index_id
    for m in reference.basket_members():
        dates = set(frames["stock_prices"].loc[frames["stock_prices"]["symbol"] == m.symbol, "trade_date"])
        assert dates <= _sessions(m.calendar), m.symbol
        shares = frames["shares_outstanding"]
        assert set(shares.loc[shares["symbol"] == m.symbol, "as_of_date"]) <= dates
    by_index = frames["index_prices"].groupby("index_id")["trade_date"].apply(set)
    assert "2025-01-29" not in by_index["STAR50"] and "2025-01-29" not in by_index["HSTECH"]  # Lunar New Year
    assert "2025-10-03" not in by_index["CSI300"]  # Golden Week
    assert "2025-07-04" not in by_index["NDX"] and "2025-01-29" in by_index["NDX"]
    tencent = set(frames["stock_prices"].loc[frames["stock_prices"]["symbol"] == "0700.HK", "trade_date"])
    assert "2025-01-29" not in tencent and "2025-07-04" in tencent


def test_late_listings_start_at_their_listing_date(frames):
    late = [m for m in reference.basket_members() if m.listed_on > DEFAULT_START]
    assert {"9660.HK", "688795.SS", "0100.HK", "SNDK"} <= {m.symbol for m in late}
    for m in late:
        first = xcals.get_calendar(m.calendar, start="2024-01-01", end=DEFAULT_END.isoformat()).date_to_session(
            m.listed_on.isoformat(), direction="next")
        prices = frames["stock_prices"].loc[frames["stock_prices"]["symbol"] == m.symbol, "trade_date"]
        shares = frames["shares_outstanding"].loc[frames["shares_outstanding"]["symbol"] == m.symbol, "as_of_date"]
        assert prices.min() == shares.min() == first.strftime("%Y-%m-%d"), m.symbol


def test_exactly_one_split_with_matching_shares_change(frames):
    shares = frames["shares_outstanding"]
    change = shares.groupby("symbol")["shares_outstanding"].transform(lambda s: s / s.shift())
    jumps = shares[(change > 1.2) | (change < 0.8)]
    assert list(jumps["symbol"]) == [SPLIT_SYMBOL]
    split_day = jumps["as_of_date"].iloc[0]
    assert split_day == xcals.get_calendar("XNYS", start="2024-01-01", end="2024-12-31").date_to_session(
        SPLIT_DATE.isoformat(), direction="next").strftime("%Y-%m-%d")
    assert change[jumps.index[0]] == SPLIT_RATIO  # exactly: the split row repeats the count in force

    prices = frames["stock_prices"]
    move = prices["close"] / prices.groupby("symbol")["close"].shift()
    drops = prices[move < 0.5]
    assert list(drops["symbol"]) == [SPLIT_SYMBOL] and list(drops["trade_date"]) == [split_day]
    assert 0.8 < move[drops.index[0]] * SPLIT_RATIO < 1.25  # the drop is the split, not the market
    assert not (move > 2).any()


def test_constituent_snapshots_have_50_and_30_members_weighing_100(frames):
    listed_on = {m.symbol: m.listed_on.isoformat() for m in reference.basket_members()}
    # Sum the weights as written: the file must add up exactly, not just to float tolerance.
    weights = defaultdict(Decimal)
    with open(SAMPLE_DIR / "index_constituents.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            weights[row["index_id"], row["as_of_date"]] += Decimal(row["weight"])
    assert set(weights.values()) == {Decimal(100)}

    snapshots = frames["index_constituents"].groupby(["index_id", "as_of_date"])
    expected = {"STAR50": (50, r"688\d{3}\.SS"), "HSTECH": (30, r"\d{4}\.HK")}
    for (index_id, as_of), rows in snapshots:
        size, pattern = expected[index_id]
        assert len(rows) == size and rows["symbol"].str.fullmatch(pattern).all(), (index_id, as_of)
        assert rows["name"].str.len().gt(0).all() and (rows["weight"] > 0).all()
        members = {s for s, d in listed_on.items() if re.fullmatch(pattern, s) and d <= as_of}
        assert members <= set(rows["symbol"]), (index_id, as_of)
    calendars = {"STAR50": "XSHG", "HSTECH": "XHKG"}
    for index_id, dates in frames["index_constituents"].groupby("index_id")["as_of_date"]:
        sessions = sorted(_sessions(calendars[index_id]))
        quarter = [(d[:4], (int(d[5:7]) - 1) // 3) for d in sessions]
        quarter_opens = [d for i, d in enumerate(sessions) if i == 0 or quarter[i] != quarter[i - 1]]
        assert sorted(set(dates)) == quarter_opens
    star = frames["index_constituents"].query("index_id == 'STAR50'")
    assert star.groupby("as_of_date")["symbol"].apply(frozenset).nunique() > 1  # membership changes a little between quarters


def test_extra_symbols_leave_the_base_sample_unchanged(tmp_path):
    start, end = date(2025, 12, 1), date(2026, 1, 31)
    generate_sample(tmp_path / "base", start, end)
    generate_sample(tmp_path / "big", start, end, extra_symbols=7)
    big = {d.name: pd.read_csv(tmp_path / "big" / d.file_name, dtype=str) for d in DATASETS}
    base = {d.name: pd.read_csv(tmp_path / "base" / d.file_name, dtype=str) for d in DATASETS}
    extra = sorted(set(big["stock_prices"]["symbol"]) - set(base["stock_prices"]["symbol"]))
    assert len(extra) == 7 and not set(extra) & set(reference.stock_symbols())
    assert set(big["shares_outstanding"]["symbol"]) - set(base["shares_outstanding"]["symbol"]) == set(extra)
    for d in DATASETS:
        entity = big[d.name][d.entity_column]
        kept = big[d.name][~entity.isin(extra)].reset_index(drop=True)
        pd.testing.assert_frame_equal(kept, base[d.name], obj=d.file_name)
    calendars = {"SS": "XSHG", "HK": "XHKG"}
    prices = big["stock_prices"][big["stock_prices"]["symbol"].isin(extra)]
    for symbol, rows in prices.groupby("symbol"):
        calendar = calendars.get(symbol.rsplit(".", 1)[-1], "XNYS")
        assert set(rows["trade_date"]) == _sessions(calendar, start, end), symbol


def test_cli_years_back_and_weekday_fallback_past_the_calendar(tmp_path, capsys):
    # XSHG's recorded holidays end with 2026; later dates fall back to weekdays instead of failing.
    main(["generate", "--out", str(tmp_path), "--years", "1", "--end", "2027-01-08"])
    assert "stock_prices.csv" in capsys.readouterr().out
    prices = pd.read_csv(tmp_path / "index_prices.csv", dtype=str)
    star = set(prices.loc[prices["index_id"] == "STAR50", "trade_date"])
    assert min(star) == "2026-01-08" and {"2027-01-04", "2027-01-08"} <= star
    assert "2026-10-01" not in star  # National Day, still from the calendar
    assert "--start 2026-01-08 --end 2027-01-08" in (tmp_path / "README.md").read_text()
    with pytest.raises(SystemExit):
        main(["generate", "--extra-symbols", "5"])  # never bloat the committed sample
