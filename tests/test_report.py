"""The headline report (the dbt report models, their Markdown and charts) and the marts' metadata, on a
small sample warehouse."""

import base64
import shutil
from datetime import date

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from assets import report
from assets.report import (
    CHART_FILES,
    REPORT_FILE,
    SYNTHETIC,
    load_headline,
    render_charts,
)
from orchestration.definitions import build_definitions
from orchestration.resources.warehouse import DuckDBFileWarehouse
from orchestration.settings import PROJECT_ROOT, Settings
from tests.sample_slice import SLICE_END, sample_warehouse

pytestmark = pytest.mark.integration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MARTS = ["dim_index", "dim_security", "fct_ai_basket_market_cap", "fct_ai_basket_members_daily",
         "fct_ai_market_cap_ratio", "fct_index_returns", "fct_relative_performance"]
REPORT_MODELS = [AssetKey(["marts", "rpt_headline"]), AssetKey(["marts", "rpt_index_rebased"])]
MAX_SESSIONS_APART = 3  # dbt_project.yml's var max_sessions_apart


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    warehouse = sample_warehouse(tmp_path_factory)
    assert warehouse.first_run_success
    return warehouse


@pytest.fixture
def copy(sample, tmp_path):
    """A private copy of the sample warehouse, so a test's report never changes another's."""
    database = tmp_path / "warehouse" / sample.database.name  # dbt names the catalog after the file
    database.parent.mkdir()
    shutil.copy(sample.database, database)
    return database


def run_report(sample, database, reports, as_of=None):
    """The report models rebuilt as of `as_of` in `database`, then rendered into `reports`: as a user
    does from the UI (the two report models and reports/headline, `report_as_of` on the dbt step)."""
    env = {**sample.env, "DUCKDB_DATABASE": str(database), "CTR_REPORTS_DIR": str(reports)}
    job = build_definitions(Settings(**env)).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        asset_selection=[*REPORT_MODELS, report.REPORT_KEY],
        run_config={"ops": {"warehouse_dbt_models": {"config": {"report_as_of": as_of}}}},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def chart_data(database):
    with DuckDBFileWarehouse(database=str(database)).session() as wh:
        return load_headline(wh)


def headline(database) -> pd.DataFrame:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute("select * from marts.rpt_headline order by line").df()


def value(table, topic, subject, measure, period=None):
    rows = table[(table.topic == topic) & (table.subject == subject) & (table.measure == measure)]
    if period is not None:
        rows = rows[rows.period == period]
    assert len(rows) == 1, (topic, subject, measure, period)
    return rows.iloc[0]


def test_the_full_run_builds_the_report_and_every_check_passes(sample):
    assert sample.first_run_success
    table = headline(sample.database)
    assert len(table) > 0
    assert set(table.as_of_date.dt.date) == {SLICE_END}
    files = {p.name for p in sample.reports.iterdir()}
    assert {REPORT_FILE, *CHART_FILES.values()} <= files
    with sample.instance() as instance:
        record = instance.get_latest_materialization_event(report.REPORT_KEY)
    metadata = record.asset_materialization.metadata
    assert metadata["as_of_date"].value == SLICE_END.isoformat()
    assert metadata["report"].value.count("data:image/png;base64,") == len(CHART_FILES)


def test_report_table_restates_the_marts_as_of_the_latest_date(sample, copy):
    table = headline(sample.database)
    with duckdb.connect(str(copy), read_only=True) as conn:
        star = conn.execute(
            "select * from marts.fct_index_returns where index_id = 'STAR50' order by trade_date desc limit 1"
        ).df().iloc[0]
        rel = conn.execute(
            "select * from marts.fct_relative_performance where index_id = 'HSTECH' and period = 'MTD'"
            " order by trade_date desc limit 1"
        ).df().iloc[0]
        cap = conn.execute(
            "select * from marts.fct_ai_basket_market_cap where basket_id = 'CN_AI' order by trade_date desc limit 1"
        ).df().iloc[0]
        ratio = conn.execute("select * from marts.fct_ai_market_cap_ratio order by trade_date desc limit 1").df().iloc[0]

    assert value(table, "index_return", "STAR50", "return", "MTD").value == pytest.approx(star.mtd_return)
    assert value(table, "index_return", "STAR50", "return", "YTD").value == pytest.approx(star.ytd_return)
    hstech = value(table, "index_return", "HSTECH", "return", "MTD")
    assert hstech.benchmark_id == "NDX"
    assert hstech.benchmark_value == pytest.approx(rel.benchmark_return)
    assert hstech.excess_return == pytest.approx(rel.excess_return)
    assert bool(hstech.outperformed) == bool(rel.outperformed)
    assert value(table, "ai_market_cap", "CN_AI", "market_cap_usd").value == pytest.approx(cap.market_cap_usd)
    assert value(table, "ai_market_cap", "CN_AI", "members_priced").value == cap.members_priced
    assert value(table, "ai_market_cap_ratio", "CN_AI/GLOBAL_AI_EX_CN", "cn_to_peer_ratio").value == pytest.approx(
        ratio.cn_to_peer_ratio
    )
    # The slice starts in November: no close a year back, so the one-year figures are unknown, not 0.
    assert pd.isna(value(table, "index_return", "STAR50", "return", "1Y").value)
    assert pd.isna(value(table, "ai_market_cap", "CN_AI", "change_1y_usd").value)
    # Who outperformed whom: ranks follow the returns.
    mtd = table[(table.topic == "index_return") & (table.period == "MTD") & (table.measure == "return")].sort_values("rank")
    assert list(mtd.value) == sorted(mtd.value, reverse=True)
    assert table.line.tolist() == list(range(1, len(table) + 1))
    assert table.headline.notna().all()
    # Every series ends on the same day: nothing is flagged, and each side carries its date.
    assert not table.dates_mismatched.any()
    assert table.note.isna().all()
    assert set(table.subject_as_of.dt.date) == {SLICE_END}
    assert set(table[table.compared_with.notna()].compared_as_of.dt.date) == {SLICE_END}
    # Index returns are in the index's own currency, and say so; and again in USD, both sides converted.
    assert hstech.currency == "HKD" and " in HKD " in hstech.headline and " in USD" in hstech.headline
    with duckdb.connect(str(copy), read_only=True) as conn:
        rel_usd = conn.execute(
            "select * from marts.fct_relative_performance_usd where index_id = 'HSTECH' and period = 'MTD'"
            " order by trade_date desc limit 1"
        ).df().iloc[0]
    hstech_usd = value(table, "index_return", "HSTECH", "return_usd", "MTD")
    assert hstech_usd.currency == "USD" and hstech_usd.value == pytest.approx(rel_usd.index_return)
    assert hstech_usd.benchmark_value == pytest.approx(rel_usd.benchmark_return)
    assert hstech_usd.headline.startswith("Hang Seng TECH ") and " MTD in USD to " in hstech_usd.headline
    assert " in HKD" not in hstech_usd.headline
    # NDX is in USD already: one line per period, not two.
    assert len(table[(table.subject == "NDX") & (table.period == "MTD")]) == 1
    # Baskets go by their seed names; the peer has its own one-year figures.
    assert value(table, "ai_market_cap", "CN_AI", "market_cap_usd").subject_name == "33 Chinese AI stocks"
    peer = table[(table.topic == "ai_market_cap") & (table.subject == "GLOBAL_AI_EX_CN")]
    assert set(peer.measure) == {"market_cap_usd", "market_cap_usd_1y_ago", "change_1y_usd", "change_1y_pct"}
    ratio_line = value(table, "ai_market_cap_ratio", "CN_AI/GLOBAL_AI_EX_CN", "cn_to_peer_ratio").headline
    assert "worth " in ratio_line and "share" not in ratio_line and "33 Chinese AI stocks" in ratio_line
    assert pd.isna(value(table, "ai_market_cap_ratio", "CN_AI/GLOBAL_AI_EX_CN", "cn_to_peer_ratio_1y_ago").value)


def test_as_of_is_configurable_and_means_the_latest_row_on_or_before_it(sample, copy, tmp_path):
    # 2026-01-01 is a holiday everywhere: every value comes from 2025-12-31.
    result = run_report(sample, copy, tmp_path / "reports", as_of="2026-01-01")
    assert result.success
    table = headline(copy)
    assert set(table.as_of_date.dt.date) == {date(2026, 1, 1)}
    assert set(table.value_date.dt.date) == {date(2025, 12, 31)}
    with duckdb.connect(str(copy), read_only=True) as conn:
        expected = conn.execute(
            "select mtd_return from marts.fct_index_returns where index_id = 'NDX' and trade_date = '2025-12-31'"
        ).fetchone()[0]
    assert value(table, "index_return", "NDX", "return", "MTD").value == pytest.approx(expected)
    assert "as of 2026-01-01" in (tmp_path / "reports" / REPORT_FILE).read_text()
    # A day every exchange was closed: no side missed a session.
    assert not table.dates_mismatched.any()
    assert set(table.sessions_behind) == {0}


def stop_series(database, index_id=None, index_after=None, basket_id=None, basket_after=None):
    """As a stale source or a user's export leaves the marts: a series without rows after a date."""
    with duckdb.connect(str(database)) as conn:
        if index_id:
            conn.execute("delete from marts.fct_index_returns where index_id = ? and trade_date > ?",
                         [index_id, index_after])
        if basket_id:
            conn.execute("delete from marts.fct_ai_basket_market_cap where basket_id = ? and trade_date > ?",
                         [basket_id, basket_after])


def test_series_ending_on_different_dates_are_flagged_in_every_affected_line(sample, copy, tmp_path):
    # NDX stops six weeks before the others, CN_AI a week and a half: the default report is as of the
    # latest date in the warehouse, SLICE_END.
    ndx_end, cn_end = date(2025, 12, 5), date(2026, 1, 7)
    stop_series(copy, "NDX", ndx_end, "CN_AI", cn_end)
    reports = tmp_path / "reports"
    result = run_report(sample, copy, reports)
    assert result.success
    table = headline(copy)
    assert set(table.as_of_date.dt.date) == {SLICE_END}

    ndx_lines = table[(table.topic == "index_return") & (table.subject == "NDX")]
    versus_ndx = table[table.benchmark_id == "NDX"]
    cn_lines = table[table.subject == "CN_AI"]
    ratio = value(table, "ai_market_cap_ratio", "CN_AI/GLOBAL_AI_EX_CN", "cn_to_peer_ratio")
    affected = set(ndx_lines.line) | set(versus_ndx.line) | set(cn_lines.line) | {ratio.line}
    contribution_lines = table[table.topic == "ai_contribution"]
    ratio_then = value(table, "ai_market_cap_ratio", "CN_AI/GLOBAL_AI_EX_CN", "cn_to_peer_ratio_1y_ago")
    affected |= set(contribution_lines.line) | {ratio_then.line}
    assert len(versus_ndx) == 12 and len(cn_lines) == 6 and len(contribution_lines) > 0
    for row in table.itertuples():
        if row.line in affected:
            assert row.dates_mismatched, row.headline
            assert "[dates mismatched: " in row.headline, row.headline
            assert row.sessions_behind > MAX_SESSIONS_APART
        else:
            assert not row.dates_mismatched, row.headline
            assert "dates mismatched" not in row.headline
            assert pd.isna(row.note)
    assert set(table[~table.dates_mismatched].subject) == {"GLOBAL_AI_EX_CN"}

    # A comparison names both sides' dates and gives no verdict on them.
    for row in versus_ndx.itertuples():
        assert row.subject_as_of.date() == SLICE_END and row.compared_as_of.date() == ndx_end
        assert row.sessions_apart > MAX_SESSIONS_APART
        assert f"to {SLICE_END}" in row.headline and "vs NDX" in row.headline
        assert f"to {ndx_end}" in row.headline and ": not comparable" in row.headline
        assert "ahead by" not in row.headline and "behind by" not in row.headline
        assert f"NDX data ends {ndx_end}" in row.note
    assert set(ndx_lines.value_date.dt.date) == {ndx_end}
    assert set(cn_lines.value_date.dt.date) == {cn_end}
    assert ratio.subject_as_of.date() == cn_end and ratio.compared_as_of.date() == SLICE_END
    assert f"CN_AI value of {cn_end}" in ratio.headline
    assert set(contribution_lines.value_date.dt.date) == {cn_end}

    text = (reports / REPORT_FILE).read_text()
    assert "**Dates mismatched**" in text
    assert f"NDX data ends {ndx_end}" in text and f"CN_AI data ends {cn_end}" in text
    # The report's sentences are the table's, word for word.
    assert all(line in text for line in table.headline)
    assert text.count(": not comparable") == len(versus_ndx)
    metadata = result.asset_materializations_for_node("reports__headline")[0].metadata
    assert metadata["dates_mismatched"].value == len(affected)


def test_a_side_closed_for_its_own_holiday_is_in_step(sample, copy, tmp_path):
    # Christmas: Shanghai trades, the Nasdaq and Hong Kong do not. NDX's and HSTECH's closes are a day
    # older than STAR 50's but they missed no session, so the comparison stands, with both dates shown.
    assert run_report(sample, copy, tmp_path / "reports", as_of="2025-12-25").success
    table = headline(copy)
    star = value(table, "index_return", "STAR50", "return", "MTD")
    assert star.subject_as_of.date() == date(2025, 12, 25) and star.compared_as_of.date() == date(2025, 12, 24)
    assert star.sessions_apart == 0
    assert "vs NDX" in star.headline and "to 2025-12-24" in star.headline
    assert "ahead by" in star.headline or "behind by" in star.headline
    assert not table.dates_mismatched.any()


def test_an_as_of_before_any_data_gives_an_empty_report_not_a_failure(sample, copy, tmp_path):
    result = run_report(sample, copy, tmp_path / "reports", as_of="2000-01-03")
    assert result.success
    assert headline(copy).empty
    text = (tmp_path / "reports" / REPORT_FILE).read_text()
    assert "no index or basket data" in text
    for name in CHART_FILES.values():
        assert (tmp_path / "reports" / name).read_bytes().startswith(PNG_MAGIC)


def test_a_malformed_as_of_fails_with_a_clear_message(sample, copy, tmp_path):
    result = run_report(sample, copy, tmp_path / "reports", as_of="16/01/2026")
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "report_as_of must be an ISO date" in str(failure.message) + str(failure.cause)


def test_files_and_metadata_show_the_charts(sample):
    # The shared build's full run wrote them: its files, and its materialisation's metadata.
    reports = sample.reports
    text = (reports / REPORT_FILE).read_text()
    for name in CHART_FILES.values():
        data = (reports / name).read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert f"]({name})" in text
    with sample.instance() as instance:
        metadata = instance.get_latest_materialization_event(report.REPORT_KEY).asset_materialization.metadata
    markdown = metadata["report"].value
    images = [part.split(")")[0] for part in markdown.split("(data:image/png;base64,")[1:]]
    assert len(images) == len(CHART_FILES)
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    assert metadata["dagster/row_count"].value == len(headline(sample.database))
    # The event log keeps every run's copy: they stay small.
    assert sum(len(i) for i in images) < 200_000


def test_report_and_charts_say_index_returns_are_in_local_currency(sample, copy):
    text = (sample.reports / REPORT_FILE).read_text()
    assert "in each index's own (local) currency" in text
    assert "| SSE STAR 50 | CNY |" in text
    figures = render_charts(chart_data(copy))
    for chart in ("indices_ytd", "indices_1y"):
        ax = figures[chart].axes[0]
        assert "in local currency" in ax.get_title(loc="left")
        assert "local currency" in ax.get_ylabel()


def test_provenance_in_raw_labels_the_report_and_the_sample_says_so_in_every_title(sample, copy, tmp_path):
    reports = tmp_path / "reports"
    with duckdb.connect(str(copy)) as conn:
        conn.execute("update raw.index_prices set source = 'snapshot:mine'")
        conn.execute("update raw.stock_prices set source = 'akshare:eastmoney'")
    assert run_report(sample, copy, reports).success
    assert set(headline(copy).data_label) == {"akshare:eastmoney, snapshot:mine"}
    assert SYNTHETIC not in (reports / REPORT_FILE).read_text()

    with duckdb.connect(str(copy)) as conn:  # as the bundled sample's rows are stamped
        conn.execute("update raw.index_prices set source = 'sample:sample_data' where index_id = 'NDX'")
    assert run_report(sample, copy, reports).success
    mixed = "synthetic sample mixed with akshare:eastmoney, snapshot:mine"
    assert set(headline(copy).data_label) == {mixed}
    text = (reports / REPORT_FILE).read_text()
    assert text.splitlines()[0].endswith("(synthetic sample mixed with other data)") and "**Mixed data**" in text

    with duckdb.connect(str(copy)) as conn:  # every row the bundled sample's
        conn.execute("update raw.index_prices set source = 'sample:sample_data'")
        conn.execute("update raw.stock_prices set source = 'sample:sample_data'")
    assert run_report(sample, copy, reports).success
    assert set(headline(copy).data_label) == {SYNTHETIC}
    text = (reports / REPORT_FILE).read_text()
    assert text.splitlines()[0].endswith(f"({SYNTHETIC})")
    assert all(f"({SYNTHETIC})]" in line for line in text.splitlines() if line.startswith("!["))
    figures = render_charts(chart_data(copy))
    assert len(figures) == len(CHART_FILES)
    for fig in figures.values():
        assert all(SYNTHETIC in ax.get_title(loc="left") for ax in fig.axes)


def test_rebased_lines_end_where_the_marts_returns_put_them(copy):
    data = chart_data(copy)
    with duckdb.connect(str(copy), read_only=True) as conn:
        ytd = dict(conn.execute(
            "select index_id, ytd_return from marts.fct_index_returns where trade_date <= ?"
            " qualify trade_date = max(trade_date) over (partition by index_id)", [SLICE_END]
        ).fetchall())
    last = data.indices("YTD").groupby("index_id").rebased.last()
    assert set(last.index) == {"STAR50", "HSTECH", "NDX"}
    for index_id, rebased in last.items():
        assert rebased == pytest.approx(100 * (1 + ytd[index_id]))
    # Each line starts at 100 on the last close of the previous year.
    first = data.indices("YTD").groupby("index_id").first()
    assert (first.rebased == 100).all()
    assert (first.trade_date < date(2026, 1, 1)).all()
    # No close a year back in the slice: each 1Y line starts at its first close and says so.
    assert data.indices("1Y").label.str.contains(r"\(from 2025-11-0\d\)").all()
    stacked = data.cap_by_subsector.sum(axis=1)
    with duckdb.connect(str(copy), read_only=True) as conn:
        totals = conn.execute(
            "select trade_date, market_cap_usd from marts.fct_ai_basket_market_cap where basket_id = 'CN_AI'"
            " and market_cap_usd is not null order by 1"
        ).df()
    assert stacked.to_numpy() == pytest.approx(totals.market_cap_usd.to_numpy(), rel=1e-9)


def test_reports_go_to_the_project_for_its_warehouse_and_beside_any_other():
    assert Settings(DUCKDB_DATABASE=PROJECT_ROOT / "warehouse" / "x.duckdb").reports_folder == PROJECT_ROOT / "reports"
    assert Settings(DUCKDB_DATABASE="/data/ctr/w.duckdb").reports_folder.as_posix() == "/data/ctr/reports"
    assert Settings(DUCKDB_DATABASE="/data/ctr/w.duckdb", CTR_REPORTS_DIR="/r").reports_folder.as_posix() == "/r"


def test_marts_carry_row_count_latest_date_preview_and_column_types(sample):
    with sample.instance() as instance, duckdb.connect(str(sample.database), read_only=True) as conn:
        for mart in MARTS:
            record = instance.get_latest_materialization_event(AssetKey(["marts", mart]))
            metadata = record.asset_materialization.metadata
            rows = conn.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            assert metadata["dagster/row_count"].value == rows, mart
            assert "newest rows" in metadata["preview"].value or mart.startswith("dim_"), mart
            assert metadata["preview"].value.count("\n|") >= 2, mart
            columns = metadata["dagster/column_schema"].value.columns
            types = dict(conn.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = 'marts' and table_name = ?", [mart]
            ).fetchall())
            assert {c.name: c.type for c in columns} == types, mart
            assert any(c.description for c in columns), mart
        latest = conn.execute("select max(trade_date) from marts.fct_index_returns").fetchone()[0]
        record = instance.get_latest_materialization_event(AssetKey(["marts", "fct_index_returns"]))
        assert record.asset_materialization.metadata["latest_date"].value == latest.isoformat()
