"""Rows that cannot be loaded are stopped before the write, whatever the provider."""

from datetime import date

import pandas as pd
import pytest

from assets.raw import screen, summarise_failures
from orchestration.datasets import STOCK_PRICES
from orchestration.resources.providers.base import FetchResult, ProviderError


def prices(rows):
    return pd.DataFrame(rows, columns=["symbol", "trade_date", "close", "currency"])


ROWS = [
    ("NVDA", date(2025, 1, 2), 138.3, "USD"),
    ("688256.SS", date(2025, 1, 2), float("inf"), "CNY"),
    ("0700.HK", date(2025, 1, 2), 390.0, "USD"),
]


def test_a_live_source_loses_only_the_ids_with_unusable_rows():
    result = FetchResult(STOCK_PRICES, prices(ROWS), "yfinance")
    screened = screen(result, ["NVDA", "688256.SS", "0700.HK"], all_or_nothing=False)
    assert screened.loaded_ids == ["NVDA"]
    assert "close = inf is not a usable positive finite number" in screened.failures["688256.SS"]
    assert "priced in USD but its listing is configured in HKD" in screened.failures["0700.HK"]


def test_a_snapshot_file_loads_nothing_when_one_row_is_unusable():
    result = FetchResult(STOCK_PRICES, prices(ROWS), "snapshot:x")
    with pytest.raises(ProviderError, match="2 id.s. with unusable rows; nothing was written"):
        screen(result, ["NVDA", "688256.SS", "0700.HK"], all_or_nothing=True)


def test_failures_read_as_one_line_per_reason():
    lines = summarise_failures(STOCK_PRICES, {s: "x.csv holds a header and no rows" for s in ["A", "B", "C"]})
    assert lines == [
        ("stock_prices: 3 id(s) not loaded, their rows in raw.stock_prices are kept as they were:"
        " x.csv holds a header and no rows (A, B, C)")
    ]
