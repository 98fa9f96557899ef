"""Scale errors from live upstreams, end to end: the real akshare and yfinance parsing over the fake
wire (tests/providers/http) loads one day into a copy of the session's sample build, then the rest of
the graph (dbt, the audits, the publication) runs on it. The upstreams serve the sample's own values,
except for three plausible-looking slips on 2026-01-16:

- a peer's share count from Yahoo a thousand times too large (NVDA: a unit slip);
- a member's close from eastmoney ten times too high (0700.HK);
- an FX rate from Yahoo inverted (JPY=X: yen per dollar read as dollars per yen).

None is a non-positive value, so all three load; each blocking audit names its own, the publication is
held back, the published copy stays byte for byte the last good one, and the headline shows none of
them."""

import io
import shutil
from datetime import date

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from assets.raw import build_raw_assets
from orchestration import audit_log
from orchestration.cli import print_headline
from orchestration.definitions import build_definitions
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG, daily_partitions
from orchestration.resources.providers.live import LiveProvider
from orchestration.resources.providers.symbols import listing
from orchestration.resources.warehouse import DuckDBFileWarehouse, published_path_for
from orchestration.settings import PROJECT_ROOT, Settings
from tests.conftest import run_range
from tests.providers.helpers import FAST
from tests.providers.http.test_live_run import stock_upstream
from tests.providers.http.upstreams import Bar
from tests.sample_slice import sample_warehouse

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::pandas.errors.SettingWithCopyWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

DAY = date(2026, 1, 16)
CHART, TIMESERIES = "yfinance:chart(query2.finance.yahoo.com)", "yfinance:timeseries(query2.finance.yahoo.com)"
EM_HK = "akshare:stock_hk_hist(eastmoney)"
LOADED = ("stock_prices", "fx_rates", "shares_outstanding")


def serve_the_sample(market, database):
    """Every upstream answers with the build's own raw rows: loading them again changes nothing. Yahoo
    serves the mainland and Hong Kong listings too, as the next source of their chains."""
    with duckdb.connect(str(database), read_only=True) as conn:
        prices = conn.execute("select symbol, trade_date, open, high, low, close, volume from raw.stock_prices"
                              " order by all").fetchall()
        rates = conn.execute("select currency, trade_date, usd_per_unit from raw.fx_rates order by all").fetchall()
        counts = conn.execute("select symbol, as_of_date, shares_outstanding from raw.shares_outstanding"
                              " order by all").fetchall()
    for symbol, day, o, h, lo, c, v in prices:
        for key in dict.fromkeys((stock_upstream(symbol)[0], f"yahoo:{symbol}")):
            market.bars.setdefault(key, []).append(Bar(day, o or c, h or c, lo or c, c, v or 0))
    for currency, day, rate in rates:
        market.bars.setdefault(f"yahoo:{currency}=X", []).append(Bar(day, 1 / rate, 1 / rate, 1 / rate, 1 / rate, 0))
    changes: dict[str, list] = {}
    for symbol, day, n in counts:
        lst = listing(symbol)
        changes.setdefault(f"em:{lst.eastmoney_secucode}" if lst.is_a_share else f"yahoo:{symbol}", []).append((day, n))
    return changes


def slip(market, key, day, factor=None, invert=False):
    bars = market.bars[key]
    i = next(n for n, b in enumerate(bars) if b.day == day)
    b = bars[i]
    f = (lambda x: 1 / x) if invert else (lambda x: x * factor)
    bars[i] = Bar(b.day, f(b.open), f(b.high), f(b.low), f(b.close), b.volume)
    return bars[i].close


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return sample_warehouse(tmp_path_factory)


@pytest.fixture
def held(sample, tmp_path, net, market, clock):
    clock("2026-01-20T12:00:00")
    env = sample.copy_to(tmp_path)
    database = env["DUCKDB_DATABASE"]
    changes = serve_the_sample(market, database)
    # The three slips of DAY.
    bad_close = slip(market, "em:116.00700", DAY, factor=10)
    bad_yen = slip(market, "yahoo:JPY=X", DAY, invert=True)
    nvda = changes["yahoo:NVDA"]
    bad_count = nvda[-1][1] * 1000
    changes["yahoo:NVDA"] = [*nvda, (DAY, bad_count)]
    market.share_changes = lambda key: changes.get(key, [])
    target = published_path_for(database)
    before = target.read_bytes()

    loaded, result, headline = load_then_build(tmp_path, env, database, LOADED, DAY, DAY)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return {"database": database, "result": result, "evaluations": evaluations, "before": before,
            "target": target, "headline": headline, "loaded": loaded,
            "bad": {"close": bad_close, "yen": 1 / bad_yen, "count": bad_count}}


def load_then_build(tmp_path, env: dict, database, raw_tables, start: date, end: date):
    """Load `raw_tables` for [start, end] from the live providers over the fake wire, then build everything
    after raw as a run of the project would; returns the load, the build and the headline it prints."""
    raw = [a for a in build_raw_assets(daily_partitions(date(2025, 11, 3))) if a.key.path[1] in raw_tables]
    tags = {RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()}
    loaded = materialize(raw, resources={"provider": LiveProvider(**FAST),
                                         "warehouse": DuckDBFileWarehouse(database=database)}, tags=tags)
    assert loaded.success
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**env, "DAGSTER_HOME": str(home)}
    with DagsterInstance.from_config(str(home)) as instance:
        defs = build_definitions(Settings(**env))
        rest = [k for k in defs.resolve_all_asset_keys() if k.path[0] != "raw"]
        result = run_range(defs, instance, start.isoformat(), end.isoformat(), rest)
        headline = io.StringIO()
        print_headline(Settings(**env), headline)
    return loaded, result, headline.getvalue()


def raw_rows(database, sql, params=()):
    with duckdb.connect(str(database), read_only=True) as conn:
        return [tuple(r) for r in conn.execute(sql, list(params)).fetchall()]


def test_scale_errors_in_a_share_count_a_close_and_a_rate_are_held_back(held):
    database, bad = held["database"], held["bad"]
    # Raw holds exactly what the upstreams served for the slipped ids on DAY (nothing was quarantined:
    # each is a positive finite number, for the audits to judge).
    assert raw_rows(database, "select symbol, trade_date, close, source from raw.stock_prices"
                              " where symbol = '0700.HK' and trade_date = ?", [DAY]) == [
        ("0700.HK", DAY, bad["close"], EM_HK)]
    assert raw_rows(database, "select currency, trade_date, usd_per_unit, source from raw.fx_rates"
                              " where currency = 'JPY' and trade_date = ?", [DAY]) == [
        ("JPY", DAY, pytest.approx(bad["yen"]), CHART)]
    assert raw_rows(database, "select symbol, as_of_date, shares_outstanding, source from raw.shares_outstanding"
                              " where symbol = 'NVDA' and as_of_date = ?", [DAY]) == [
        ("NVDA", DAY, bad["count"], TIMESERIES)]
    assert raw_rows(database, "select count(*) from audit.quarantine where run_id = ?",
                    [held["loaded"].run_id]) == [(0,)]

    result, evaluations = held["result"], held["evaluations"]
    assert not result.success
    for audit, named in (("share_counts_plausible", "NVDA"), ("stock_closes_plausible", "0700.HK"),
                         ("fx_rates_plausible", "JPY"), ("member_market_caps_plausible", "NVDA")):
        assert not evaluations[audit].passed, audit
        assert f"{named} {DAY}" in evaluations[audit].description, audit
    # The published copy is the last good one, byte for byte, and the headline reads from it.
    assert held["target"].read_bytes() == held["before"]
    assert f"Held back: run {result.run_id}" in held["headline"]
    with duckdb.connect(str(held["target"]), read_only=True) as conn:
        published = conn.execute(
            "select symbol, close_local, shares_outstanding, usd_per_unit from marts.fct_ai_basket_members_daily"
            " where trade_date = ? and symbol in ('0700.HK', 'NVDA') order by symbol", [DAY]).fetchall()
        assert audit_log.last_publication(conn).run_id != result.run_id
    assert all(close != bad["close"] and shares != bad["count"] for _, close, shares, _ in published)
    with duckdb.connect(str(database), read_only=True) as conn:
        refused = {(r[0], r[1]) for r in audit_log.findings_of(conn, result.run_id)}
    assert {("share_counts_plausible", "NVDA"), ("stock_closes_plausible", "0700.HK"),
            ("fx_rates_plausible", "JPY")} <= refused
