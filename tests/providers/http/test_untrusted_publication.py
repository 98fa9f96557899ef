"""Untrusted answers that do not block, end to end: the real akshare and yfinance parsing over the fake
wire loads 2026-01-16 (a Friday) and 2026-01-17 (a Saturday) into a copy of the session's sample build,
then dbt, the audits and the publication run. The upstreams serve the sample's own values except:

- 688256.SS: eastmoney serves a zero close on Friday; Yahoo, the next source, serves the right one;
- 0700.HK: eastmoney serves Friday twice with different closes, and Yahoo has nothing for it;
- 002230.SZ: eastmoney serves a bar on the Saturday, when Shanghai and Shenzhen are closed;
- 688041.SS: eastmoney's answer lacks Friday's bar.

The run publishes: the published copy holds the right close for each (the next source's, or the one
the warehouse already held), none of the refused values, and audit.quarantine says what was set aside."""

from datetime import date

import duckdb
import pytest

from orchestration import audit_log
from orchestration.resources.warehouse import published_path_for
from tests.providers.http.test_scale_errors import load_then_build, serve_the_sample
from tests.providers.http.test_untrusted_values import _with_extra_kline
from tests.providers.http.upstreams import EM_KLINE, Bar
from tests.sample_slice import sample_warehouse

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

FRIDAY, SATURDAY = date(2026, 1, 16), date(2026, 1, 17)
CHART = "yfinance:chart(query2.finance.yahoo.com)"
EM_STOCK, EM_HK = "akshare:stock_zh_a_hist(eastmoney)", "akshare:stock_hk_hist(eastmoney)"
SYMBOLS = ("688256.SS", "0700.HK", "002230.SZ", "688041.SS")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return sample_warehouse(tmp_path_factory)


def rows(database, sql, params=()):
    with duckdb.connect(str(database), read_only=True) as conn:
        return [tuple(r) for r in conn.execute(sql, list(params)).fetchall()]


def bar_of(market, key, day):
    return next(b for b in market.bars[key] if b.day == day)


@pytest.fixture
def published(sample, tmp_path, net, market, clock):
    clock("2026-01-20T12:00:00")
    env = sample.copy_to(tmp_path)
    database = env["DUCKDB_DATABASE"]
    stored = {(s, d): (c, src) for s, d, c, src in rows(
        database, "select symbol, trade_date, close, source from raw.stock_prices where trade_date = ?", [FRIDAY])}
    changes = serve_the_sample(market, database)
    market.share_changes = lambda key: changes.get(key, [])
    # The four untrusted answers.
    cambricon = market.bars["em:1.688256"]
    i = cambricon.index(bar_of(market, "em:1.688256", FRIDAY))
    cambricon[i] = Bar(FRIDAY, 0.0, 0.0, 0.0, 0.0, cambricon[i].volume)
    market.unknown.add("yahoo:0700.HK")
    tencent = bar_of(market, "em:116.00700", FRIDAY)
    extra = {
        # eastmoney's own rounding (2 decimals) for all but the close.
        "116.00700": f"{FRIDAY},{tencent.open:.2f},{tencent.close * 10},{tencent.high:.2f},{tencent.low:.2f},"
                     "1000,1.0,1.0,1.0,1.0,1.0",
        "0.002230": f"{SATURDAY},50.0,51.0,52.0,49.0,1000,51000.0,3.5,1.2,0.1,0.8",
    }
    for secid, line in extra.items():
        net.route(EM_KLINE, _with_extra_kline(market, secid, line), when=lambda c, s=secid: c.params.get("secid") == s)
    market.bars["em:1.688041"] = [b for b in market.bars["em:1.688041"] if b.day != FRIDAY]

    loaded, result, headline = load_then_build(tmp_path, env, database, ("stock_prices",), FRIDAY, SATURDAY)
    [event] = loaded.get_asset_materialization_events()[:1]
    return {"database": database, "target": published_path_for(database), "stored": stored,
            "loaded_source": event.materialization.metadata["source"].value,
            "loaded": loaded, "result": result, "headline": headline, "tencent": tencent}


def test_only_the_untrusted_values_are_refused_and_the_rest_publishes(published):
    database, stored, load_run = published["database"], published["stored"], published["loaded"].run_id
    # Raw: Cambricon from Yahoo (the whole window), Tencent's and Hygon's Friday as the warehouse held
    # them, no Saturday bar.
    assert rows(database, "select symbol, trade_date, close, source from raw.stock_prices"
                          " where symbol in (select unnest(?)) and trade_date >= ? order by all",
                [list(SYMBOLS), FRIDAY]) == sorted([
        ("002230.SZ", FRIDAY, stored["002230.SZ", FRIDAY][0], EM_STOCK),
        ("0700.HK", FRIDAY, *stored["0700.HK", FRIDAY]),
        ("688041.SS", FRIDAY, *stored["688041.SS", FRIDAY]),
        ("688256.SS", FRIDAY, stored["688256.SS", FRIDAY][0], CHART),
    ])
    tencent = round(published["tencent"].close, 2)  # as eastmoney serves it; the slip is 10x the unrounded one
    slipped = published["tencent"].close * 10
    expected_quarantine = [
        ("002230.SZ", SATURDAY, "close", 51.0, EM_STOCK, "a bar on a day XSHG held no session; the day is not written"),
        ("0700.HK", FRIDAY, "close", tencent, EM_HK, "2 different answers for the same key (close, volume differ)"),
        ("0700.HK", FRIDAY, "close", pytest.approx(slipped), EM_HK,
         "2 different answers for the same key (close, volume differ)"),
        # No row of it in the window, so no row's source: the load's (the libraries that answered).
        ("688041.SS", FRIDAY, "close", None, published["loaded_source"],
         "no bar in the answer for a XSHG session; the marts carry the previous close over it"),
    ]
    quarantine_sql = ("select id, trade_date, column_name, value, source, reason from audit.quarantine"
                      " where run_id = ? order by id, trade_date, value nulls first")
    assert rows(database, quarantine_sql, [load_run]) == expected_quarantine

    # Every audit passed: the run published, and the published copy says so and holds the same.
    result = published["result"]
    assert result.success
    assert f"Published copy: run {result.run_id}" in published["headline"]
    target = published["target"]
    with duckdb.connect(str(target), read_only=True) as conn:
        assert audit_log.last_publication(conn).run_id == result.run_id
    assert rows(target, quarantine_sql, [load_run]) == expected_quarantine
    assert rows(target, "select symbol, close_local from marts.fct_ai_basket_members_daily"
                        " where symbol in (select unnest(?)) and trade_date = ? order by all",
                [list(SYMBOLS), FRIDAY]) == sorted((s, stored[s, FRIDAY][0]) for s in SYMBOLS)
    assert rows(target, "select count(*) from marts.fct_ai_basket_members_daily where trade_date = ?",
                [SATURDAY]) == [(0,)]
