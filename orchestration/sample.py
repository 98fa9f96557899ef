"""Deterministic synthetic snapshot: the bundled offline sample, and benchmark-sized snapshots.

The demo must tell the project's story (the January 2026 China tech rally) with no network and no
licensed data, so the numbers are invented: geometric random walks pinned to a hand-written story,
on each market's real exchange calendar, so holiday gaps, late listings, a stock split and FX joins
exercise the marts the way real data does. Every series has its own seeded generator keyed by a
stable hash of its id, so reruns are byte-identical and benchmark symbols leave the base sample as it is.

    python -m orchestration.sample generate [--out DIR] [--start D | --years Y] [--end D]
                                            [--extra-symbols N] [--seed S]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration import reference
from orchestration.calendars import session_days
from orchestration.datasets import (
    FX_RATES,
    INDEX_CONSTITUENTS,
    INDEX_PRICES,
    SHARES_OUTSTANDING,
    STOCK_PRICES,
    Dataset,
)
from orchestration.settings import SAMPLE_DIR

DEFAULT_START = date(2024, 1, 2)
DEFAULT_END = date(2026, 11, 20)
DEFAULT_SEED = 20260114

# The one planted split (NVDA-style 10:1): from the first session on/after this date the quoted price
# drops tenfold and shares outstanding rise tenfold, so market cap must stay continuous in the marts.
SPLIT_SYMBOL, SPLIT_DATE, SPLIT_RATIO = "NVDA", date(2024, 6, 10), 10

# Each seeded stock's own noise is pinned to zero here, so the basket-level story (CN_AI roughly
# doubling in USD from 2025-01-13 to mid-January 2026) holds whatever --seed is used.
KEY_DATES = (date(2025, 1, 13), date(2026, 1, 14))

# index_id: (daily vol, typical volume, [(date, level)]). Levels loosely follow 2024-2026 so the marts'
# headline numbers look familiar: STAR50 ~+13% and HSTECH ~+6% MTD in mid-January 2026, NDX ~+1%.
INDEX_STORY: dict[str, tuple[float, float, list[tuple[str, float]]]] = {
    "STAR50": (0.018, 4e9, [
        ("2024-01-02", 950), ("2024-02-05", 700), ("2024-05-20", 780), ("2024-09-23", 690),
        ("2024-09-30", 880), ("2024-10-08", 1000), ("2025-01-13", 960), ("2025-03-10", 1080), ("2025-04-08", 940),
        ("2025-09-30", 1450), ("2025-12-31", 1330), ("2026-01-14", 1500), ("2026-11-20", 1440)]),
    "HSTECH": (0.019, 3e9, [
        ("2024-01-02", 4000), ("2024-01-22", 3200), ("2024-05-20", 4000), ("2024-09-11", 3200),
        ("2024-10-07", 4900), ("2025-01-13", 4200), ("2025-03-18", 6000), ("2025-04-09", 4500),
        ("2025-10-02", 6500), ("2025-12-31", 5500), ("2026-01-14", 5830), ("2026-11-20", 6000)]),
    "NDX": (0.012, 5e9, [
        ("2024-01-02", 16800), ("2024-07-10", 20600), ("2024-08-07", 18000), ("2024-12-16", 22100),
        ("2025-01-13", 20800), ("2025-04-08", 16700), ("2025-10-29", 26000), ("2025-12-31", 25300),
        ("2026-01-14", 25550), ("2026-11-20", 27000)]),
    "CSI300": (0.011, 1.5e10, [
        ("2024-01-02", 3400), ("2024-02-05", 3200), ("2024-09-23", 3200), ("2024-09-30", 4000),
        ("2024-10-08", 4250),
        ("2025-01-13", 3730), ("2025-04-08", 3650), ("2025-10-02", 4650), ("2025-12-31", 4600),
        ("2026-01-14", 4750), ("2026-11-20", 4800)]),
    "CHINEXT": (0.017, 2e10, [
        ("2024-01-02", 1900), ("2024-02-05", 1550), ("2024-09-23", 1600), ("2024-09-30", 2080),
        ("2024-10-08", 2400),
        ("2025-01-13", 2100), ("2025-04-08", 1850), ("2025-10-02", 3250), ("2025-12-31", 3200),
        ("2026-01-14", 3400), ("2026-11-20", 3500)]),
    "HSI": (0.014, 1.2e10, [
        ("2024-01-02", 17000), ("2024-01-22", 15000), ("2024-05-20", 19600), ("2024-09-11", 17100),
        ("2024-10-07", 23100), ("2025-01-13", 18900), ("2025-03-18", 24700), ("2025-04-08", 19800),
        ("2025-10-02", 27300), ("2025-12-31", 25600), ("2026-01-14", 26800), ("2026-11-20", 27000)]),
}
_FALLBACK_INDEX_STORY = (0.015, 1e9, [("2024-01-02", 1000)])  # an index added to the catalog later

# Basket story as multiples of the 2024-01-02 level; each member follows it scaled by its beta.
BASKET_STORY: dict[str, list[tuple[str, float]]] = {
    "CN_AI": [
        ("2024-01-02", 1.00), ("2024-02-05", 0.85), ("2024-05-20", 1.05), ("2024-09-13", 0.92),
        ("2024-10-08", 1.22), ("2025-01-13", 1.10), ("2025-03-10", 1.45), ("2025-04-08", 1.20),
        ("2025-10-02", 1.85), ("2025-12-31", 1.68), ("2026-01-14", 1.83), ("2026-11-20", 1.95)],
    "GLOBAL_AI_EX_CN": [
        ("2024-01-02", 1.00), ("2024-07-10", 1.30), ("2024-08-07", 1.12), ("2024-12-16", 1.40),
        ("2025-01-13", 1.32), ("2025-04-08", 1.05), ("2025-10-29", 2.10), ("2026-01-14", 2.08),
        ("2026-11-20", 2.25)],
}

# symbol: (first close in the listing currency, market cap in USD bn at that close, beta to the basket
# story). Approximate early-2024 (or listing-day) orders of magnitude; shares outstanding derive from them.
# Prices of names that split in reality are quoted split-adjusted, so NVDA's is the only split here.
STOCKS: dict[str, tuple[float, float, float]] = {
    "9988.HK": (72.0, 185, 1.0), "0700.HK": (290.0, 350, 0.8), "9888.HK": (110.0, 40, 0.7),
    "3896.HK": (2.8, 1.0, 1.5), "000977.SZ": (33.0, 6.8, 1.3), "603019.SS": (58.0, 12, 1.2),
    "002371.SZ": (240.0, 18, 1.0), "688012.SS": (140.0, 12, 1.0), "688072.SS": (260.0, 7, 1.1),
    "688120.SS": (200.0, 4.5, 0.9), "688082.SS": (85.0, 5.2, 1.1), "688256.SS": (135.0, 7.8, 2.4),
    "688041.SS": (75.0, 24, 1.5), "688795.SS": (600.0, 40, 1.0), "688802.SS": (650.0, 36, 1.0),
    "6082.HK": (30.0, 9, 1.0), "688008.SS": (60.0, 9.5, 1.2), "603501.SS": (105.0, 17, 0.8),
    "603986.SS": (95.0, 9, 1.2), "0981.HK": (20.0, 21, 1.6), "1347.HK": (18.0, 4, 1.6),
    "1024.HK": (52.0, 29, 0.8), "1810.HK": (15.5, 50, 1.9), "002230.SZ": (46.0, 15, 0.8),
    "688111.SS": (310.0, 20, 0.6), "9660.HK": (4.0, 6.8, 1.5), "0020.HK": (1.3, 5.5, 1.2),
    "2513.HK": (120.0, 7, 1.0), "0100.HK": (170.0, 8, 1.0), "9698.HK": (8.5, 2, 1.6),
    "300308.SZ": (115.0, 13, 2.2), "300502.SZ": (55.0, 5.5, 2.4), "601138.SS": (15.0, 42, 1.6),
    "NVDA": (480.0, 1200, 1.6), "AVGO": (110.0, 520, 1.5), "AMD": (140.0, 225, 0.6),
    "MRVL": (60.0, 52, 0.8), "ARM": (70.0, 72, 1.0), "QCOM": (145.0, 160, 0.3), "INTC": (48.0, 200, -0.4),
    "SNPS": (520.0, 80, 0.2), "MU": (85.0, 94, 1.4), "000660.KS": (140000.0, 78, 2.0),
    "005930.KS": (79000.0, 360, 0.6), "SNDK": (50.0, 7, 1.0), "WDC": (52.0, 17, 1.5),
    "STX": (85.0, 18, 1.5), "TSM": (104.0, 540, 1.4), "ASML": (700.0, 280, 0.2), "AMAT": (160.0, 133, 0.6),
    "LRCX": (78.0, 103, 0.9), "KLAC": (580.0, 79, 0.9), "8035.T": (25000.0, 82, 0.5),
    "6857.T": (4800.0, 25, 1.8), "MSFT": (370.0, 2750, 0.5), "AMZN": (150.0, 1550, 0.7),
    "GOOGL": (138.0, 1720, 0.9), "META": (345.0, 880, 1.0), "ORCL": (103.0, 283, 1.3),
    "CRWV": (40.0, 19, 1.0), "IBM": (160.0, 146, 0.9), "COHR": (43.0, 6.5, 1.6), "LITE": (50.0, 3.4, 2.0),
    "CIEN": (44.0, 6.4, 1.6), "FN": (190.0, 6.9, 1.1), "ANET": (59.0, 74, 1.2), "PLTR": (17.0, 37, 2.4),
    "CRM": (260.0, 252, 0.3), "NOW": (700.0, 143, 0.6), "ADBE": (590.0, 268, -0.3), "APP": (40.0, 13.5, 2.5),
    "SNOW": (195.0, 64, 0.5), "TSLA": (248.0, 790, 0.9), "AAPL": (185.0, 2870, 0.5), "SMCI": (28.0, 16, 1.0),
    "DELL": (75.0, 53, 0.8), "EQIX": (800.0, 75, 0.2), "DLR": (135.0, 41, 0.5), "VRT": (48.0, 18, 1.6),
}

# currency: (low, high, daily vol of the log rate). A mean-reverting walk squashed into the band keeps
# rates in their familiar 2024-2026 ranges (HKD inside its peg) over any horizon.
FX_BANDS = {
    "CNY": (0.1380, 0.1410, 0.0012), "HKD": (0.1276, 0.1289, 0.0003), "JPY": (0.0064, 0.0070, 0.006),
    "KRW": (0.00068, 0.00075, 0.005), "TWD": (0.030, 0.0335, 0.003), "EUR": (1.03, 1.18, 0.004),
}

# Decimals of quoted prices: a KRW or JPY price with four decimals would look fake.
PRICE_DECIMALS = {"USD": 2, "CNY": 2, "HKD": 3, "JPY": 0, "KRW": 0, "TWD": 1, "EUR": 2}
INDEX_DECIMALS = 2
_CURRENCIES = sorted(PRICE_DECIMALS)

# Index: (constituent count, weight cap in percent, symbol pattern of its members).
CONSTITUENTS = {"STAR50": (50, 10.0, r"688\d{3}\.SS"), "HSTECH": (30, 8.0, r"\d{4}\.HK")}
HSTECH_FILLERS = {
    "9618.HK": "JD.com", "3690.HK": "Meituan", "9999.HK": "NetEase", "2015.HK": "Li Auto",
    "9866.HK": "NIO", "9868.HK": "XPeng", "0268.HK": "Kingdee International", "0285.HK": "BYD Electronic",
    "0522.HK": "ASMPT", "0992.HK": "Lenovo Group", "1211.HK": "BYD", "2382.HK": "Sunny Optical",
    "6690.HK": "Haier Smart Home", "9626.HK": "Bilibili", "9961.HK": "Trip.com", "0241.HK": "Alibaba Health",
    "6618.HK": "JD Health", "0772.HK": "China Literature", "1797.HK": "East Buy", "0780.HK": "Tongcheng Travel",
    "2518.HK": "Autohome", "1357.HK": "Meitu", "9863.HK": "Leapmotor",
}
STAR50_FILLERS = 46  # synthetic 688xxx codes: enough to fill 50 while few basket members are listed

# Benchmark symbols cycle over these; their codes (690000.SS+, 5-digit 9xxxx.HK, 6-letter XZxxxx)
# cannot be real listings of these venues, so they never collide with the seeds.
EXTRA_VENUES = (("XSHG", "CNY"), ("XHKG", "HKD"), ("XNYS", "USD"))
EXTRA_PER_VENUE = 10_000


@dataclass(frozen=True)
class Stock:
    symbol: str
    currency: str
    calendar: str
    listed_on: date
    basket: str | None = None
    synthetic: bool = False  # one of extra_stocks(): no story, no table entry, years of free walk


# --- calendars and randomness -----------------------------------------------------------------------


def _day(d: date | str) -> np.datetime64:
    return np.datetime64(d, "D")


def _weekdays(start: date, end: date) -> np.ndarray:
    days = np.arange(_day(start), _day(end) + 1)
    return days[np.is_busday(days)]


# One wide window per calendar serves every range asked for in a process: building XKRX takes seconds.
_CALENDAR_WINDOW = (date(2020, 1, 1), date(2027, 12, 31))


def sessions(calendar: str, start: date, end: date) -> np.ndarray:
    """Trading days of an exchange_calendars calendar in [start, end] (datetime64[D]), Mon-Fri outside the
    holidays it has recorded (calendars.session_days)."""
    # Explicit bounds, never the library's today-relative defaults, keep the output reproducible.
    days = np.array(session_days(calendar, min(start, _CALENDAR_WINDOW[0]), max(end, _CALENDAR_WINDOW[1])),
                    dtype="datetime64[D]")
    return days[(days >= _day(start)) & (days <= _day(end))]


def _quarter_starts(calendar: str, start: date, end: date) -> np.ndarray:
    # Looking back to the quarter's first day tells whether `start` itself opens a quarter.
    days = sessions(calendar, date(start.year, 3 * ((start.month - 1) // 3) + 1, 1), end)
    quarter = days.astype("datetime64[M]").astype(np.int64) // 3
    opens = np.r_[True, quarter[1:] != quarter[:-1]]
    return days[opens & (days >= _day(start))]


def _rng(seed: int, *key: str) -> np.random.Generator:
    # blake2b, not hash(): Python salts str hashes per process, which would break reproducibility.
    digest = hashlib.blake2b("/".join(key).encode(), digest_size=8).digest()
    return np.random.default_rng([seed, int.from_bytes(digest, "big")])


def _pins(days: np.ndarray, dates: Sequence[date | str]) -> np.ndarray:
    inside = [_day(d) for d in dates if days[0] <= _day(d) <= days[-1]]
    return np.unique(np.r_[0, np.searchsorted(days, inside)]).astype(np.int64)


def _pin(walk: np.ndarray, pins: np.ndarray) -> np.ndarray:
    """Brownian bridge: zero at each pin, free after the last, so the story sets the level at the pins."""
    x = np.arange(walk.shape[-1])
    j = np.clip(np.searchsorted(pins, x, side="right") - 1, 0, len(pins) - 1)
    k = np.minimum(j + 1, len(pins) - 1)
    frac = np.where(k > j, np.clip((x - pins[j]) / np.maximum(pins[k] - pins[j], 1), 0, 1), 0.0)
    return walk - (walk[..., pins[j]] * (1 - frac) + walk[..., pins[k]] * frac)


def _story(days: np.ndarray, waypoints: Sequence[tuple[str, float]]) -> np.ndarray:
    at = np.array([_day(d) for d, _ in waypoints]).astype(np.int64)
    return np.interp(days.astype(np.int64), at, np.log([level for _, level in waypoints]))


def _candles(logc: np.ndarray, sigma: np.ndarray, z: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Open/high/low around the close so that low <= open, close <= high; plus |log return| for volume."""
    prev = np.concatenate([logc[:, :1], logc[:, :-1]], axis=1)
    logo = prev + 0.3 * sigma * z[1]
    high = np.maximum(logo, logc) + 0.5 * sigma * np.abs(z[2])
    low = np.minimum(logo, logc) - 0.5 * sigma * np.abs(z[3])
    return [np.exp(x) for x in (logc, logo, high, low)], np.abs(logc - prev)


def _price(x: np.ndarray, decimals: int) -> np.ndarray:
    # Rounding is monotone, so the OHLC ordering survives; the floor keeps prices strictly positive.
    return np.maximum(np.round(x, decimals), 10.0**-decimals)


def _significant(x: np.ndarray, digits: int) -> np.ndarray:
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(x)))
    return np.rint(x * scale) / scale


# --- datasets ---------------------------------------------------------------------------------------


def _index_prices(start: date, end: date, seed: int) -> pd.DataFrame:
    frames = []
    for info in sorted(reference.index_catalog(), key=lambda i: i.index_id):
        vol, base_volume, waypoints = INDEX_STORY.get(info.index_id, _FALLBACK_INDEX_STORY)
        days = sessions(info.calendar, start, end)
        if not len(days):
            continue
        rng = _rng(seed, "index", info.index_id)
        # A little jitter on the waypoints keeps round story levels out of the printed closes.
        jitter = np.exp(0.005 * rng.standard_normal(len(waypoints)))
        z = rng.standard_normal((5, 1, len(days)))
        story = _story(days, [(d, level * j) for (d, level), j in zip(waypoints, jitter)])
        logc = story + _pin(np.cumsum(vol * z[0], axis=1), _pins(days, [d for d, _ in waypoints]))
        (close, open_, high, low), move = _candles(logc, np.array([[vol]]), z)
        volume = np.rint(base_volume * np.exp(0.3 * z[4]) * (1 + 10 * move))
        frames.append(pd.DataFrame({
            "index_id": info.index_id, "trade_date": days, "close": _price(close[0], INDEX_DECIMALS),
            "open": _price(open_[0], INDEX_DECIMALS), "high": _price(high[0], INDEX_DECIMALS),
            "low": _price(low[0], INDEX_DECIMALS), "volume": volume[0].astype(np.int64)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _fx_rates(start: date, end: date, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    days = _weekdays(start, end)
    rates = {}
    for currency in reference.fx_currencies():
        low, high, vol = FX_BANDS[currency]
        centre, half = np.log(low * high) / 2, np.log(high / low) / 2
        rng = _rng(seed, "fx", currency)
        x, shocks = 0.8 * half * (2 * rng.random() - 1), vol * rng.standard_normal(len(days))
        walk = np.empty(len(days))
        for i, shock in enumerate(shocks):  # mean reversion is recursive; a few thousand steps
            x = 0.99 * x + shock
            walk[i] = x
        rates[currency] = (days, _significant(np.exp(centre + half * np.tanh(walk / half)), 8))
    return rates


def _fx_frame(rates: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"currency": c, "trade_date": d, "usd_per_unit": r})
                      for c, (d, r) in sorted(rates.items())], ignore_index=True)


def _usd_per_unit(rates: dict[str, tuple[np.ndarray, np.ndarray]], currency: str, days: np.ndarray) -> np.ndarray:
    if currency == "USD":
        return np.ones(len(days))
    fx_days, values = rates[currency]
    return values[np.clip(np.searchsorted(fx_days, days, side="right") - 1, 0, len(values) - 1)]


def seed_stocks() -> list[Stock]:
    stocks: dict[str, Stock] = {}
    for m in reference.basket_members():
        stocks.setdefault(m.symbol, Stock(m.symbol, m.currency, m.calendar, m.listed_on, m.basket_id))
    return list(stocks.values())


def extra_stocks(n: int) -> list[Stock]:
    if not 0 <= n <= len(EXTRA_VENUES) * EXTRA_PER_VENUE:
        raise ValueError(f"--extra-symbols must be between 0 and {len(EXTRA_VENUES) * EXTRA_PER_VENUE}")
    out = []
    for i in range(n):
        k = i // len(EXTRA_VENUES)
        calendar, currency = EXTRA_VENUES[i % len(EXTRA_VENUES)]
        letters = "".join(chr(65 + k // 26**p % 26) for p in (3, 2, 1, 0))
        symbol = (f"{690000 + k}.SS", f"{90000 + k}.HK", f"XZ{letters}")[i % len(EXTRA_VENUES)]
        out.append(Stock(symbol, currency, calendar, date.min, synthetic=True))
    return out


def _stock_chunk(stocks: Sequence[Stock], start: date, end: date, seed: int,
                 rates: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Prices and shares of a slice of the sorted symbols, one (calendar, currency) matrix at a time."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, s in enumerate(stocks):
        groups.setdefault((s.calendar, s.currency), []).append(i)
    prices, shares = [], []
    for (calendar, currency), idx in groups.items():
        days, quarters = sessions(calendar, start, end), _quarter_starts(calendar, start, end)
        n, t, q = len(idx), len(days), len(quarters)
        if not t:
            continue
        group = [stocks[i] for i in idx]
        u, z, qz = np.empty((n, 6)), np.empty((5, n, t)), np.empty((n, q))
        for row, s in enumerate(group):
            rng = _rng(seed, "stock", s.symbol)
            u[row], z[:, row], qz[row] = rng.random(6), rng.standard_normal((5, t)), rng.standard_normal(q)
        # Parameters from the hand-written table where the symbol has one, else log-uniform ranges.
        known = [STOCKS.get(s.symbol) for s in group]
        p0 = np.array([k[0] if k else 3 * 100 ** u[r, 3] for r, k in enumerate(known)])
        cap = np.array([k[1] * 1e9 if k else 3e8 * 100 ** u[r, 4] for r, k in enumerate(known)])
        beta = np.array([k[2] if k else float(s.basket is not None) for s, k in zip(group, known)])
        sigma = (0.018 + 0.014 * u[:, 0])[:, None]  # idiosyncratic; the story adds to it
        drift = (u[:, 1] - 0.45) * 0.0012
        turnover = 0.002 * np.exp(1.5 * u[:, 2])
        first = np.searchsorted(days, [_day(max(s.listed_on, start)) for s in group])
        listed, at = first < t, np.minimum(first, t - 1)

        story = np.zeros((n, t))
        for basket in {s.basket for s in group} & BASKET_STORY.keys():
            story[[s.basket == basket for s in group]] = _story(days, BASKET_STORY[basket])
        walk = np.cumsum(drift[:, None] + sigma * z[0], axis=1)
        seeded = np.array([s.basket is not None for s in group])
        walk[seeded] = _pin(walk[seeded], _pins(days, KEY_DATES))
        logc = beta[:, None] * story + walk
        logc += (np.log(p0) - logc[np.arange(n), at])[:, None]  # the first close is the table's price
        # Over 15 years a free walk can drift to a cent, where rounding alone makes +100% days that the
        # plausibility audits rightly refuse: the extra stocks' walks are reflected at 1 unit of currency,
        # which keeps every daily move's size.
        free = np.array([s.synthetic for s in group])[:, None]
        logc = np.where(free, np.abs(logc), logc)

        split_at = np.searchsorted(days, _day(SPLIT_DATE))
        splits = np.array([s.symbol == SPLIT_SYMBOL for s in group]) & (split_at < t) & (first < split_at)
        ratio = np.where(splits[:, None] & (np.arange(t) >= split_at), SPLIT_RATIO, 1)
        (close, open_, high, low), move = _candles(logc, sigma, z)
        s0 = np.rint(cap / (p0 * _usd_per_unit(rates, currency, days[at])))
        volume = np.rint(s0[:, None] * turnover[:, None] * np.exp(0.5 * z[4]) * (1 + 8 * move) * ratio)
        live = np.arange(t) >= np.where(listed, first, t)[:, None]
        d = PRICE_DECIMALS[currency]
        prices.append(pd.DataFrame({
            "symbol": np.broadcast_to(np.asarray(idx)[:, None], (n, t))[live],
            "trade_date": np.broadcast_to(days, (n, t))[live], "close": _price(close / ratio, d)[live],
            "currency": pd.Categorical.from_codes(np.full(live.sum(), _CURRENCIES.index(currency)), _CURRENCIES),
            "open": _price(open_ / ratio, d)[live], "high": _price(high / ratio, d)[live],
            "low": _price(low / ratio, d)[live], "volume": volume[live].astype(np.int64)}))

        # Shares: the first close's count, then a small quarterly drift (US buybacks, issuance elsewhere),
        # and for the split symbol a row on the split date repeating the count in force, times the ratio.
        after = quarters > days[at][:, None]
        step = np.where(currency == "USD", -0.004, 0.002) + 0.003 * (u[:, 5:6] - 0.5) + 0.002 * qz
        count = np.rint(s0[:, None] * np.exp(np.cumsum(np.c_[np.zeros(n), np.where(after, step, 0)], axis=1)))
        split_day = days[min(split_at, t - 1)]
        count = np.c_[count, count[:, (quarters < split_day).sum()]]
        when = np.c_[days[at], np.broadcast_to(quarters, (n, q)), np.full(n, split_day)]
        keep = np.c_[np.ones(n, bool), after, splits & ~np.isin(split_day, quarters)] & listed[:, None]
        count = np.where(splits[:, None] & (when >= split_day), count * SPLIT_RATIO, count)
        shares.append(pd.DataFrame({"symbol": np.broadcast_to(np.asarray(idx)[:, None], when.shape)[keep],
                                    "as_of_date": when[keep], "shares_outstanding": count[keep].astype(np.int64)}))
    return _by_key(prices, "trade_date", stocks), _by_key(shares, "as_of_date", stocks)


def _by_key(frames: list[pd.DataFrame], date_column: str, stocks: Sequence[Stock]) -> pd.DataFrame:
    if not frames:  # a range without a single session of these symbols' calendars
        return pd.DataFrame()
    frame = pd.concat(frames, ignore_index=True)
    codes = frame["symbol"].to_numpy()
    order = np.lexsort((frame[date_column].to_numpy(), codes))
    frame = frame.iloc[order].reset_index(drop=True)
    # Categoricals reach DuckDB as enums: millions of repeated symbols without millions of str objects.
    frame["symbol"] = pd.Categorical.from_codes(codes[order], [s.symbol for s in stocks])
    return frame


def _constituents(start: date, end: date, seed: int) -> pd.DataFrame:
    members = {m.symbol: m for m in reference.basket_members()}
    catalog = {i.index_id: i for i in reference.index_catalog()}
    rows = []
    for index_id, (size, cap, pattern) in sorted(CONSTITUENTS.items()):
        if index_id not in catalog:
            continue
        rng = _rng(seed, "constituents", index_id)
        basket = [m for m in members.values() if re.fullmatch(pattern, m.symbol)]
        if index_id == "STAR50":
            taken = {int(m.symbol[3:6]) for m in basket}
            free = [c for c in range(1, 1000) if c not in taken]
            codes = np.sort(rng.choice(free, STAR50_FILLERS, replace=False))
            fillers = {f"688{c:03d}.SS": f"Synthetic STAR member 688{c:03d}" for c in codes}
            filler_size = np.exp(rng.normal(np.log(5), 0.6, len(fillers)))
        else:
            fillers = dict(HSTECH_FILLERS)
            filler_size = np.exp(rng.normal(np.log(12), 0.7, len(fillers)))
        pool = [(m.symbol, m.name, STOCKS.get(m.symbol, (0, 5, 0))[1], m.listed_on) for m in basket]
        pool += [(s, name, float(v), date.min) for (s, name), v in zip(fillers.items(), filler_size)]
        for as_of in _quarter_starts(catalog[index_id].calendar, start, end):
            # Quarterly noise on each name's size reshuffles the smallest fillers: membership drifts a little.
            noisy = np.array([p[2] for p in pool]) * np.exp(0.15 * rng.standard_normal(len(pool)))
            eligible = np.array([_day(p[3]) <= as_of for p in pool])
            in_basket = np.array([i < len(basket) for i in range(len(pool))])
            chosen = list(np.flatnonzero(eligible & in_basket)[:size])
            rest = np.flatnonzero(eligible & ~in_basket)
            chosen += list(rest[np.argsort(-noisy[rest], kind="stable")][: size - len(chosen)])
            if len(chosen) < size:
                raise ValueError(f"{index_id}: only {len(chosen)} candidates for {size} constituents")
            weights = _weights(noisy[chosen], cap)
            rows += [(index_id, pool[i][0], as_of, pool[i][1], w) for i, w in zip(chosen, weights)]
    frame = pd.DataFrame(rows, columns=INDEX_CONSTITUENTS.column_names)
    return frame.sort_values(list(INDEX_CONSTITUENTS.key), kind="stable", ignore_index=True)


def _weights(size: np.ndarray, cap: float) -> np.ndarray:
    """Capped cap-weights in percent, 4 decimals, summing to exactly 100 (the largest absorbs rounding)."""
    w = 100 * size / size.sum()
    for _ in range(len(w)):
        over = w > cap
        if not over.any():
            break
        w[~over] += (w[over] - cap).sum() * w[~over] / w[~over].sum()
        w[over] = cap
    units = np.rint(w * 10_000).astype(np.int64)
    units[np.argmax(units)] += 1_000_000 - units.sum()
    return units / 10_000


# --- writing ----------------------------------------------------------------------------------------


class _CsvWriter:
    """Appends DataFrame chunks to one CSV via DuckDB's writer: fast for 20M rows, and its shortest
    round-trip float formatting makes the bytes a pure function of the (rounded) values."""

    def __init__(self, con: duckdb.DuckDBPyConnection, tmp: Path, out_dir: Path, dataset: Dataset) -> None:
        self.con, self.part, self.rows = con, tmp / dataset.file_name, 0
        self.file = open(out_dir / dataset.file_name, "wb")  # noqa: SIM115 (closed by close())
        self.file.write((",".join(dataset.column_names) + "\n").encode())
        cols = ", ".join(f"{c.name}::DATE AS {c.name}" if c.type == "date" else c.name for c in dataset.columns)
        self.sql = f"COPY (SELECT {cols} FROM chunk) TO '{self.part}' (FORMAT csv, HEADER false, NEW_LINE '\\n')"

    def append(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        self.con.register("chunk", frame)
        self.con.execute(self.sql)
        self.con.unregister("chunk")
        with open(self.part, "rb") as part:
            shutil.copyfileobj(part, self.file, 1 << 22)
        self.rows += len(frame)

    def close(self) -> None:
        self.file.close()


def generate_sample(out_dir: Path | str = SAMPLE_DIR, start: date = DEFAULT_START, end: date = DEFAULT_END,
                    extra_symbols: int = 0, seed: int = DEFAULT_SEED, chunk_symbols: int = 2000,
                    constituents_from: date | None = None) -> dict[str, int]:
    """Write the five snapshot CSVs and a README into out_dir; returns rows written per file.
    `constituents_from`: the first date of index constituents, when later than `start`."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rates = _fx_rates(start, end, seed)
    stocks = sorted([*seed_stocks(), *extra_stocks(extra_symbols)], key=lambda s: s.symbol)
    counts = {}
    with tempfile.TemporaryDirectory() as tmp, duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        writers = {d.name: _CsvWriter(con, Path(tmp), out_dir, d) for d in
                   (INDEX_PRICES, STOCK_PRICES, FX_RATES, SHARES_OUTSTANDING, INDEX_CONSTITUENTS)}
        try:
            writers[INDEX_PRICES.name].append(_index_prices(start, end, seed))
            writers[FX_RATES.name].append(_fx_frame(rates))
            for lo in range(0, len(stocks), chunk_symbols):
                chunk = stocks[lo: lo + chunk_symbols]
                prices, shares = _stock_chunk(chunk, start, end, seed, rates)
                writers[STOCK_PRICES.name].append(prices)
                writers[SHARES_OUTSTANDING.name].append(shares)
            writers[INDEX_CONSTITUENTS.name].append(_constituents(max(start, constituents_from or start), end, seed))
        finally:
            for name, writer in writers.items():
                writer.close()
                counts[name] = writer.rows
    _write_readme(out_dir, counts, start, end, extra_symbols, seed)
    return counts


def _write_readme(out_dir: Path, counts: dict[str, int], start: date, end: date, extra: int, seed: int) -> None:
    args = [f"--start {start}" if start != DEFAULT_START else "", f"--end {end}" if end != DEFAULT_END else "",
            f"--extra-symbols {extra}" if extra else "", f"--seed {seed}" if seed != DEFAULT_SEED else "",
            "--out <this folder>" if extra else ""]  # not the real path: the text must not depend on it
    command = " ".join(["python -m orchestration.sample generate", *filter(None, args)])
    table = "\n".join(f"| `{name}.csv` | {rows:,} |" for name, rows in counts.items())
    text = f"""# Sample snapshot: SYNTHETIC data

Everything in this folder is **synthetic**: generated by `orchestration/sample.py`, **not real market
data**. Prices, volumes, FX rates, shares outstanding and index weights are seeded random walks; only the
identifiers, the basket members' names and the exchange calendars are real. The walks are pinned to a
story loosely shaped after the 2024-2026 China tech rally (STAR 50 and Hang Seng TECH rallying in
January 2026, the CN_AI basket roughly doubling in USD over the year to mid-January 2026) so the demo
marts have something recognisable to show. Never draw market conclusions from it.

Regenerate (byte-identical output for the same arguments):

    .venv/bin/{command}

Range {start} to {end}, seed {seed}; each series trades on its own exchange calendar (exchange_calendars),
late listings start at their listing date, and one split is planted: {SPLIT_SYMBOL} {SPLIT_RATIO}:1 from
the first session on or after {SPLIT_DATE} (close divided and shares outstanding multiplied by {SPLIT_RATIO}).

| file | rows |
|---|---|
{table}
"""
    (out_dir / "README.md").write_text(text, encoding="utf-8", newline="\n")


def _years_back(end: date, years: int) -> date:
    try:
        return end.replace(year=end.year - years)
    except ValueError:  # Feb 29 -> Feb 28
        return end.replace(year=end.year - years, day=28)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestration.sample", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write a synthetic snapshot folder")
    gen.add_argument("--out", type=Path, default=SAMPLE_DIR, help="folder to write (default: sample_data/)")
    when = gen.add_mutually_exclusive_group()
    when.add_argument("--start", type=date.fromisoformat, help=f"first date (default {DEFAULT_START})")
    when.add_argument("--years", type=int, help="years of history back from --end (instead of --start)")
    gen.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END,
                     help=f"last date (default {DEFAULT_END})")
    gen.add_argument("--extra-symbols", type=int, default=0, help="synthetic benchmark stocks to add")
    gen.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    if args.extra_symbols and args.out.resolve() == SAMPLE_DIR.resolve():
        parser.error("--extra-symbols needs --out: the bundled sample_data/ must stay small")
    start = _years_back(args.end, args.years) if args.years is not None else args.start or DEFAULT_START
    began = time.perf_counter()
    counts = generate_sample(args.out, start, args.end, args.extra_symbols, args.seed)
    print(f"wrote {args.out} ({start} to {args.end}) in {time.perf_counter() - began:.1f}s:")
    for name, rows in counts.items():
        print(f"  {name}.csv: {rows:,} rows")


if __name__ == "__main__":
    main()
