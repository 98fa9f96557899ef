"""One whole live run (CTR_SOURCE=live: the LiveProvider) of the five raw assets over a short window, on
the fake wire, into a temporary DuckDB: raw holds exactly the rows the upstreams served, row for row,
in shares, with the upstream that produced each row."""

from datetime import date

import duckdb
import pytest
from dagster import materialize

from assets.raw import build_raw_assets
from orchestration import reference
from orchestration.partitions import daily_partitions
from orchestration.resources.providers.live import LiveProvider
from orchestration.resources.providers.symbols import index_codes, listing
from orchestration.resources.warehouse import DuckDBFileWarehouse
from tests.providers.helpers import FAST

D = date.fromisoformat
START, END = D("2026-01-12"), D("2026-01-16")
pytestmark = [
    pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]
EM_STOCK, EM_HK_STOCK = "akshare:stock_zh_a_hist(eastmoney)", "akshare:stock_hk_hist(eastmoney)"
EM_INDEX, EM_HK_INDEX = (
    "akshare:stock_zh_index_daily_em(eastmoney)",
    "akshare:stock_hk_index_daily_em(eastmoney)",
)
CHART, TIMESERIES = (
    "yfinance:chart(query2.finance.yahoo.com)",
    "yfinance:timeseries(query2.finance.yahoo.com)",
)
GBJG, CSINDEX = "akshare:stock_zh_a_gbjg_em(eastmoney)", "akshare:index_stock_cons_weight_csindex(csindex)"


def stock_upstream(symbol: str) -> tuple[str, str]:
    lst = listing(symbol)
    if lst.is_a_share:
        return f"em:{'1' if lst.suffix == 'SS' else '0'}.{lst.code}", EM_STOCK
    if lst.is_hk:
        return f"em:116.{lst.akshare_code}", EM_HK_STOCK
    return f"yahoo:{symbol}", CHART


def index_upstream(index_id: str) -> tuple[str, str]:
    c = index_codes(index_id)
    if c.market == "CN":
        return f"em:{'1' if c.akshare_em.startswith('sh') else '0'}.{c.akshare_em[2:]}", EM_INDEX
    if c.market == "HK":
        return f"em:{ {'HSTECH': '124', 'HSI': '100'}[index_id] }.{index_id}", EM_HK_INDEX
    return f"yahoo:{c.yahoo}", CHART


def in_window(bars):
    return [b for b in bars if START <= b.day <= END]


def table(path, sql):
    with duckdb.connect(str(path), read_only=True) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def test_a_live_run_lands_exactly_the_served_rows(net, market, clock, tmp_path):
    clock("2026-01-20T12:00:00")
    database = tmp_path / "live.duckdb"
    result = materialize(
        build_raw_assets(daily_partitions(D("2026-01-01"))),
        resources={"provider": LiveProvider(**FAST), "warehouse": DuckDBFileWarehouse(database=str(database))},
        tags={
            "dagster/asset_partition_range_start": START.isoformat(),
            "dagster/asset_partition_range_end": END.isoformat(),
        },
    )
    assert result.success
    assert net.unexpected == []  # no fallback was needed, and nothing unplanned was asked

    expected = []
    for index_id in reference.index_ids():
        key, source = index_upstream(index_id)
        for b in in_window(market.bars[key]):
            volume = None if source == EM_HK_INDEX else b.volume
            expected.append((index_id, b.day, b.close, b.open, b.high, b.low, volume, source))
    assert table(
        database,
        "select index_id, trade_date, close, open, high, low, volume, source from raw.index_prices order by all",
    ) == sorted(expected, key=lambda r: (r[0], r[1]))

    expected = []
    for symbol in reference.stock_symbols():
        key, source = stock_upstream(symbol)
        ccy = listing(symbol).currency
        expected += [
            (symbol, b.day, b.close, ccy, b.open, b.high, b.low, b.volume, source)
            for b in in_window(market.bars[key])
        ]
    got = table(
        database,
        "select symbol, trade_date, close, currency, open, high, low, volume, source from raw.stock_prices order by all",
    )
    assert got == sorted(expected)

    expected = [
        (ccy, b.day, pytest.approx(1 / b.close, rel=1e-12), CHART)
        for ccy in reference.fx_currencies()
        for b in in_window(market.bars[f"yahoo:{ccy}=X"])
    ]
    assert (
        table(database, "select currency, trade_date, usd_per_unit, source from raw.fx_rates order by all")
        == expected
    )

    # Share counts: none changed inside the window, so each symbol's count in force when it opened
    # (the 2025-12-31 change), carried in to the window's first day, from the upstream that served it.
    expected = []
    for symbol in reference.stock_symbols():
        lst = listing(symbol)
        key, source = (
            (f"em:{lst.eastmoney_secucode}", GBJG) if lst.is_a_share else (f"yahoo:{symbol}", TIMESERIES)
        )
        changes = [c for c in market.share_changes(key) if c[0] <= END]
        expected.append((symbol, START, changes[-1][1], source))
    assert table(
        database,
        "select symbol, as_of_date, shares_outstanding, source from raw.shares_outstanding order by all",
    ) == sorted(expected)

    assert table(
        database,
        "select index_id, symbol, as_of_date, name, weight, source from raw.index_constituents order by weight desc",
    ) == [
        ("STAR50", f"{code}.SS", market.constituents_date, name, w, CSINDEX)
        for code, name, w in market.CONSTITUENTS
    ]

    # Volume arrived in lots for the A-shares: the raw volume is the served count of lots times 100.
    lots = [int(b.volume // 100) for b in in_window(market.bars["em:1.688256"])]
    assert table(
        database, "select volume from raw.stock_prices where symbol = '688256.SS' order by trade_date"
    ) == [(lot * 100.0,) for lot in lots]
