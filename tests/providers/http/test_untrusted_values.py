"""Untrusted values from live upstreams, over the fake wire with the real akshare and yfinance parsing,
through the raw asset into a DuckDB file: exactly which rows land in raw and which in audit.quarantine.

- a non-positive close from the first source: the id's window comes from the next source, nothing lost;
- a non-positive close that no later source corrects: only that day is set aside;
- the same day twice with different closes in one answer: the day is set aside, never picked by chance;
- a bar on a day its exchange was closed: set aside, not stored;
- a session of its exchange without a bar: reported per id and date, not carried over in silence."""

from dataclasses import replace
from datetime import UTC, date, datetime

import duckdb
import pytest
from dagster import materialize

from assets.raw import build_raw_assets
from orchestration.partitions import daily_partitions
from orchestration.resources.providers.live import LiveProvider
from orchestration.resources.warehouse import DuckDBFileWarehouse
from tests.providers.helpers import FAST
from tests.providers.http.upstreams import EM_KLINE, YAHOO_CHART, history_calls

D = date.fromisoformat
START, END = D("2026-01-12"), D("2026-01-16")
EM_STOCK, CHART = "akshare:stock_zh_a_hist(eastmoney)", "yfinance:chart(query2.finance.yahoo.com)"
EM_HK = "akshare:stock_hk_hist(eastmoney)"
pytestmark = [
    pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


def load_stock_prices(tmp_path, end=END, calendar="XSHG"):
    """One run of raw/stock_prices over START..end, of the listings on one calendar (a quicker run);
    returns the database, the materialisation's metadata and the run id."""
    database = tmp_path / "live.duckdb"
    [asset] = [a for a in build_raw_assets(daily_partitions(D("2026-01-01"))) if a.key.path == ["raw", "stock_prices"]]
    result = materialize(
        [asset],
        resources={"provider": LiveProvider(**FAST), "warehouse": DuckDBFileWarehouse(database=str(database))},
        run_config={"ops": {"raw__stock_prices": {"config": {"calendars": [calendar]}}}},
        tags={"dagster/asset_partition_range_start": START.isoformat(),
              "dagster/asset_partition_range_end": end.isoformat()},
    )
    assert result.success
    event = result.get_asset_materialization_events()[0]  # one per daily partition, the same metadata
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    return database, metadata, result.run_id


def rows(database, sql, params=()):
    with duckdb.connect(str(database), read_only=True) as conn:
        return [tuple(r) for r in conn.execute(sql, list(params)).fetchall()]


def closes(database, symbol):
    return rows(database, "select trade_date, close, source from raw.stock_prices where symbol = ? order by 1", [symbol])


def quarantined(database):
    return rows(database, "select run_id, dataset, id, trade_date, column_name, value, source, reason"
                          " from audit.quarantine order by id, trade_date, value nulls first")


def served(market, key, source):
    return [(b.day, b.close, source) for b in market.bars[key] if START <= b.day <= END]


def test_a_zero_close_from_eastmoney_is_replaced_by_yahoos_window(net, market, clock, tmp_path):
    bars = market.series("em:1.688256", "XSHG")
    i = next(n for n, b in enumerate(bars) if b.day == D("2026-01-14"))
    bars[i] = replace(bars[i], close=0.0)
    database, metadata, _ = load_stock_prices(tmp_path)
    # The whole window from the next source, not a mix of two sources day by day.
    assert closes(database, "688256.SS") == served(market, "yahoo:688256.SS", CHART)
    assert len(history_calls(net, "688256.SS")) == 1
    # The other A-shares still come from eastmoney, and nothing was set aside.
    assert closes(database, "002230.SZ") == served(market, "em:0.002230", EM_STOCK)
    assert quarantined(database) == [] and metadata["values_quarantined"] == 0


def test_a_zero_close_no_later_source_corrects_costs_only_its_day(net, market, clock, tmp_path):
    for key, cal in (("em:1.688256", "XSHG"), ("yahoo:688256.SS", "XSHG")):
        bars = market.series(key, cal)
        i = next(n for n, b in enumerate(bars) if b.day == D("2026-01-14"))
        bars[i] = replace(bars[i], close=-1.0 if key.startswith("em") else 0.0)
    database, metadata, run_id = load_stock_prices(tmp_path)
    assert closes(database, "688256.SS") == [
        r for r in served(market, "em:1.688256", EM_STOCK) if r[0] != D("2026-01-14")]
    assert quarantined(database) == [
        (run_id, "stock_prices", "688256.SS", D("2026-01-14"), "close", -1.0, EM_STOCK,
         "close is not a positive finite number; the day is not written")]
    assert metadata["values_quarantined"] == 1


def _with_extra_kline(market, secid, line):
    def reply(call):
        r = market.em_kline(call)
        if call.params.get("secid") == secid:
            lines = r.body["data"]["klines"]
            lines.append(line)
            lines.sort(key=lambda kline: kline[:10])  # in date order, as eastmoney serves (a stable sort)
        return r
    return reply


def test_the_same_day_twice_in_one_answer_is_set_aside_not_chosen(net, market, clock, tmp_path):
    # 0700.HK: eastmoney answers 2026-01-14 twice with different closes, and Yahoo has nothing for it.
    day = D("2026-01-14")
    market.unknown.add("yahoo:0700.HK")
    good = next(b for b in market.series("em:116.00700", "XHKG") if b.day == day)
    net.route(EM_KLINE, _with_extra_kline(
        market, "116.00700", f"{day},{good.open},{good.close * 10},{good.high},{good.low},1000,1.0,1.0,1.0,1.0,1.0"))
    database, _, run_id = load_stock_prices(tmp_path, calendar="XHKG")
    assert closes(database, "0700.HK") == [r for r in served(market, "em:116.00700", EM_HK) if r[0] != day]
    reason = "2 different answers for the same key (close, volume differ)"
    got = [r for r in quarantined(database) if r[2] == "0700.HK"]
    assert got == [(run_id, "stock_prices", "0700.HK", day, "close", good.close, EM_HK, reason),
                   (run_id, "stock_prices", "0700.HK", day, "close", pytest.approx(good.close * 10), EM_HK, reason)]


def test_yahoo_answering_one_day_twice_keeps_the_first_bar_by_yfinances_rule(net, market, clock, tmp_path):
    # yfinance itself drops a day's later bars (history(): index.duplicated(keep='first')): the rule is
    # the library's, deterministic, and a wrong first bar is left to the plausibility audits.
    day = D("2026-01-14")

    def twice(call):
        r = market.yahoo_chart(call)
        result = r.body["chart"]["result"][0]
        stamps = result.get("timestamp", [])
        if len(stamps) > 3:
            k = next(n for n, b in enumerate(stamps) if datetime.fromtimestamp(b, UTC).date() == day)
            stamps.insert(k + 1, stamps[k] + 3600)
            for name, values in result["indicators"]["quote"][0].items():
                values.insert(k + 1, values[k] * (10 if name == "close" else 1))
            adj = result["indicators"]["adjclose"][0]["adjclose"]
            adj.insert(k + 1, adj[k])
        return r

    net.route(YAHOO_CHART + "NVDA", twice, when=lambda c: "period1" in c.url)
    database, _, _ = load_stock_prices(tmp_path, calendar="XNYS")
    assert closes(database, "NVDA") == served(market, "yahoo:NVDA", CHART)
    assert [r for r in quarantined(database) if r[2] == "NVDA"] == []


def test_a_bar_on_a_closed_day_is_set_aside_and_a_missing_session_reported(net, market, clock, tmp_path):
    saturday, wednesday = D("2026-01-17"), D("2026-01-14")
    bars = market.series("em:0.002230", "XSHG")
    market.bars["em:0.002230"] = [b for b in bars if b.day != wednesday]
    net.route(EM_KLINE, _with_extra_kline(market, "0.002230", f"{saturday},50.0,51.0,52.0,49.0,1000,51000.0,3.5,1.2,0.1,0.8"))
    database, metadata, run_id = load_stock_prices(tmp_path, end=D("2026-01-18"))
    assert closes(database, "002230.SZ") == served(market, "em:0.002230", EM_STOCK)
    assert wednesday not in [r[0] for r in closes(database, "002230.SZ")]
    assert [r for r in quarantined(database) if r[2] == "002230.SZ"] == [
        (run_id, "stock_prices", "002230.SZ", wednesday, "close", None, EM_STOCK,
         "no bar in the answer for a XSHG session; the marts carry the previous close over it"),
        (run_id, "stock_prices", "002230.SZ", saturday, "close", 51.0, EM_STOCK,
         "a bar on a day XSHG held no session; the day is not written"),
    ]
    assert metadata["bars_missing"] == {"002230.SZ": [str(wednesday)]}
    assert metadata["values_quarantined"] == 1  # the Saturday bar; the missing one is reported, not a value


def test_a_split_adjusted_yahoo_history_is_stored_as_traded_with_its_split(net, market, clock, tmp_path):
    # NVDA splits 10:1 on Wednesday 2026-01-14: the traded closes fall tenfold that day, and Yahoo serves
    # the days before it restated (divided by 10), as it does for every split up to today.
    ex = D("2026-01-14")
    traded = [b if b.day < ex else replace(b, open=b.open / 10, high=b.high / 10, low=b.low / 10,
                                           close=round(b.close / 10, 3), volume=b.volume * 10)
              for b in market.series("yahoo:NVDA", "XNYS")]
    market.bars["yahoo:NVDA"] = traded
    market.splits["NVDA"] = {ex: 10.0}
    database, metadata, _ = load_stock_prices(tmp_path, calendar="XNYS")
    got = closes(database, "NVDA")
    assert [(d, pytest.approx(c, rel=1e-9), s) for d, c, s in got] == served(market, "yahoo:NVDA", CHART)
    assert rows(database, "select symbol, ex_date, action, ratio, source from raw.corporate_actions") == [
        ("NVDA", ex, "split", 10.0, CHART)]
    assert metadata["splits_reported"] == 1
    assert [r for r in quarantined(database) if r[2] == "NVDA"] == []


def test_an_a_share_bonus_issue_from_eastmoney_is_stored_as_a_split(net, market, clock, tmp_path):
    # 10转4.9 on Wednesday: 10 shares become 14.9. eastmoney's prices are as traded and stay so.
    ex = D("2026-01-14")
    market.bonus["688256"] = {ex: 4.9}
    database, metadata, _ = load_stock_prices(tmp_path)
    assert closes(database, "688256.SS") == served(market, "em:1.688256", EM_STOCK)
    assert rows(database, "select symbol, ex_date, action, ratio, source from raw.corporate_actions") == [
        ("688256.SS", ex, "split", pytest.approx(1.49), "akshare:stock_fhps_detail_em(eastmoney)")]
    assert metadata["splits_reported"] == 1
