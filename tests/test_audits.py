"""Write, audit, then publish: a run whose plausibility audits fail keeps its build in the warehouse,
leaves the last good published copy byte for byte in place and says why; an operator releases it.

The run is a daily-style run (two days) on a copy of the session's sample build, from a copy of the
sample slice in which one day's CNY rate is an inverted quote (CNY per dollar instead of dollars per
yuan), the classic unit slip of an FX feed."""

import io
import shutil
from datetime import date

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from assets.checks import plausibility
from assets.publication import PUBLISHED_KEY
from assets.report import REPORT_KEY
from orchestration import audit_log
from orchestration.cli import print_headline
from orchestration.definitions import build_definitions
from orchestration.release import release
from orchestration.resources.warehouse import published_path_for
from orchestration.settings import PROJECT_ROOT, Settings
from tests.conftest import run_range
from tests.sample_slice import sample_warehouse, write_slice

pytestmark = pytest.mark.integration

BAD_DAY = date(2026, 1, 15)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return sample_warehouse(tmp_path_factory)


@pytest.fixture(scope="module")
def held(sample, tmp_path_factory):
    """The copy after a run over BAD_DAY and the next day whose audits failed."""
    root = tmp_path_factory.mktemp("held")
    env = sample.copy_to(root)
    folder = write_slice(root / "slice")
    fx = folder / "fx_rates.csv"
    edited = root / "fx_rates.csv"
    with duckdb.connect() as conn:
        good = conn.execute(
            f"select usd_per_unit from read_csv('{fx}', header = true)"
            f" where currency = 'CNY' and trade_date = date '{BAD_DAY}'"
        ).fetchone()[0]
        conn.execute(
            f"copy (select currency, trade_date, case when currency = 'CNY' and trade_date = date '{BAD_DAY}'"
            f" then 1 / usd_per_unit else usd_per_unit end as usd_per_unit from read_csv('{fx}', header = true))"
            f" to '{edited}' (header, dateformat '%Y-%m-%d')"
        )
    shutil.move(edited, fx)
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**env, "CTR_SNAPSHOT_DIR": str(folder), "DAGSTER_HOME": str(home)}
    target = published_path_for(env["DUCKDB_DATABASE"])
    before = target.read_bytes()
    with DagsterInstance.from_config(str(home)) as instance:
        result = run_range(build_definitions(Settings(**env)), instance, BAD_DAY.isoformat(), "2026-01-16")
        evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
        materialised = {e.asset_key for e in result.get_asset_materialization_events()}
    return {"env": env, "result": result, "evaluations": evaluations, "messages": messages, "before": before,
            "target": target, "materialised": materialised, "good": good, "database": env["DUCKDB_DATABASE"]}


def test_the_audit_names_what_it_refused_and_the_publication_is_held_back(held):
    result, evaluations = held["result"], held["evaluations"]
    assert not result.success
    fx = evaluations["fx_rates_plausible"]
    assert not fx.passed and fx.severity.value == "ERROR"
    # One line naming the audit, the id, the date, the value and the previous value.
    line = fx.description
    bad = 1 / held["good"]
    assert line.startswith("fx_rates_plausible failed:")
    assert f"CNY {BAD_DAY}" in line and f"{bad:,.6g}" in line and "previous 2026-01-14" in line
    assert "publication held back" in line
    assert any(m.startswith("Publication held back: fx_rates_plausible failed") for m in held["messages"])
    # The members' market caps in USD follow the bad rate, and are refused for it too.
    assert not evaluations["member_market_caps_plausible"].passed
    # The index series were fine.
    assert evaluations["index_closes_plausible"].passed
    # Neither the report nor the publication ran; the last good copy is in place, byte for byte.
    assert PUBLISHED_KEY not in held["materialised"] and REPORT_KEY not in held["materialised"]
    assert held["target"].read_bytes() == held["before"]
    # The warehouse keeps what the run built: the refused rate, and the marts built on it.
    with duckdb.connect(held["database"], read_only=True) as conn:
        assert conn.execute(
            "select usd_per_unit from raw.fx_rates where currency = 'CNY' and trade_date = ?", [BAD_DAY]
        ).fetchone()[0] == pytest.approx(bad)
        assert conn.execute(
            "select count(*) from marts.fct_ai_basket_members_daily where trade_date = ? and currency = 'CNY'"
            " and usd_per_unit > 1", [BAD_DAY]).fetchone()[0] > 0
        recorded = audit_log.findings_of(conn, result.run_id)
    assert ("fx_rates_plausible", "CNY", BAD_DAY) in {(r[0], r[1], r[2]) for r in recorded}


def test_the_headline_says_which_run_the_copy_is_from_and_that_a_newer_one_was_held_back(held, sample):
    out = io.StringIO()
    print_headline(Settings(**held["env"]), out)
    text = out.getvalue()
    assert f"Published copy: run {sample.first_run_id}" in text
    assert f"Held back: run {held['result'].run_id}" in text and "fx_rates_plausible" in text
    assert f"make release RUN={held['result'].run_id}" in text


def test_a_run_without_the_publish_step_holds_its_publication_back_too(held):
    # The README's report for another date, from the UI: the dbt step publishes itself in such a run.
    selection = [AssetKey(["marts", "rpt_headline"]), AssetKey(["marts", "rpt_index_rebased"]), REPORT_KEY]
    job = build_definitions(Settings(**held["env"])).resolve_implicit_global_asset_job_def()
    instance = DagsterInstance.ephemeral()
    result = job.execute_in_process(
        asset_selection=selection,
        run_config={"ops": {"warehouse_dbt_models": {"config": {"report_as_of": "2026-01-16"}}}},
        instance=instance, raise_on_error=False,
    )
    messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any(m.startswith("Publication held back: fx_rates_plausible failed") for m in messages)
    assert not any(m.startswith("Published ") for m in messages)
    assert held["target"].read_bytes() == held["before"]


def test_the_release_command_publishes_the_held_back_build_and_logs_it(held):
    # The newest held-back build: this module's run, or the report run after it (which held back too).
    with duckdb.connect(held["database"], read_only=True) as conn:
        run_id = audit_log.held_back(conn).run_id
    settings = Settings(**held["env"])
    shown = io.StringIO()
    assert release(settings, None, None, shown) == 0  # shows, publishes nothing
    assert f"CNY {BAD_DAY}" in shown.getvalue() and held["target"].read_bytes() == held["before"]
    assert release(settings, "not-that-run", None, io.StringIO()) == 2
    assert held["target"].read_bytes() == held["before"]
    done = io.StringIO()
    assert release(settings, run_id, "checked by the test", done) == 0
    assert f"Released run {run_id}" in done.getvalue()
    after = io.StringIO()
    print_headline(settings, after)
    assert held["target"].read_bytes() != held["before"]
    with duckdb.connect(str(held["target"]), read_only=True) as conn:
        last = audit_log.last_publication(conn)
        assert conn.execute("select usd_per_unit from marts.fct_ai_basket_members_daily"
                            " where trade_date = ? and currency = 'CNY' limit 1", [BAD_DAY]).fetchone()[0] > 1
    assert (last.run_id, last.note) == (run_id, "checked by the test") and last.released_by
    assert "released by" in after.getvalue() and "Held back" not in after.getvalue()
    log = (held["target"].parent.parent / "logs" / "releases.log").read_text()
    assert f"released run {run_id}" in log
    # Nothing is held back any more.
    assert release(Settings(**held["env"]), None, None, io.StringIO()) == 0


def test_a_later_run_audits_from_the_held_back_window_so_a_clean_day_cannot_publish_refused_rows(tmp_path):
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as conn:
        conn.execute("create schema raw")
        conn.execute("create table raw.fx_rates (currency varchar, trade_date date, usd_per_unit double,"
                     " source varchar)")
        conn.execute("insert into raw.fx_rates select 'CNY', d::date, case when d = date '2026-01-05' then 7.1"
                     " else 0.14 end, 'test' from range(date '2026-01-01', date '2026-01-10', interval 1 day) as t(d)")
        session = plausibility.WarehouseSession(conn)
        fx = next(a for a in plausibility.AUDITS if a.name == "fx_rates_plausible")
        first = plausibility.evaluate(session, fx, date(2026, 1, 5), "run-1")
        assert not first.passed and [r[:2] for r in first.findings] == [("CNY", date(2026, 1, 5)),
                                                                         ("CNY", date(2026, 1, 6))]
        # The next day's run looks at its own day and at the refused one.
        second = plausibility.evaluate(session, fx, date(2026, 1, 9), "run-2")
        assert second.window_start == date(2026, 1, 5) and not second.passed
        assert audit_log.held_back(conn).run_id == "run-2"
        # Once published (released), a run audits its own window again.
        audit_log.record_publication(conn, "run-2", released_by="someone")
        third = plausibility.evaluate(session, fx, date(2026, 1, 9), "run-3")
        assert third.window_start == date(2026, 1, 9) and third.passed
        assert audit_log.held_back(conn) is None


def test_a_first_run_held_back_publishes_nothing_and_says_so(tmp_path, monkeypatch):
    database = tmp_path / "warehouse" / "china_tech_rally.duckdb"
    database.parent.mkdir()
    with duckdb.connect(str(database)) as conn:
        conn.execute("create schema marts")
        conn.execute("create table marts.rpt_headline as select date '2026-01-16' as as_of_date,"
                     " 'x' as data_label, 'a refused figure' as headline, 1 as line")
        audit_log.record_evaluation(conn, "first-run", "fx_rates_plausible", "marts/fct_ai_basket_members_daily",
                                    None, [("CNY", BAD_DAY, 7.1, date(2026, 1, 14), 0.14, 49.7, 0.1, None)])
    monkeypatch.setenv("DUCKDB_DATABASE", str(database))
    out = io.StringIO()
    assert print_headline(Settings(), out) is False
    text = out.getvalue()
    assert "Held back: run first-run" in text and "Nothing is published yet" in text
    assert "a refused figure" not in text
    assert not published_path_for(database).exists()


def test_the_status_never_waits_for_a_run_holding_the_warehouse(tmp_path):
    import subprocess
    import sys
    import time

    from orchestration.release import status_lines
    from orchestration.resources.warehouse import DuckDBFileWarehouse

    warehouse = DuckDBFileWarehouse(database=str(tmp_path / "w.duckdb"))
    warehouse.ensure_raw_tables()
    warehouse.publish(run_id="good-run")
    hold = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", hold, warehouse.database],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        began = time.monotonic()
        [line] = status_lines(warehouse)
        assert time.monotonic() - began < 5
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert line.startswith("Published copy: run good-run") and "the warehouse is busy" in line
