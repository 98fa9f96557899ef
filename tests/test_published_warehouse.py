"""The published copy: readable while a run writes, replaced atomically, never half-written."""

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import AssetExecutionContext, AssetKey, DagsterInstance, asset, materialize

from assets.publication import PUBLISHED_KEY, publish_unless_a_later_step_does
from assets.report import REPORT_KEY
from orchestration.definitions import build_definitions
from orchestration.resources import warehouse as warehouse_module
from orchestration.resources.warehouse import DuckDBFileWarehouse, Warehouse, published_path_for
from orchestration.settings import PROJECT_ROOT, Settings
from tests.sample_slice import SLICE_END, sample_warehouse

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return sample_warehouse(tmp_path_factory)


@pytest.fixture
def warehouse(sample, tmp_path):
    database = tmp_path / "warehouse" / "china_tech_rally.duckdb"
    database.parent.mkdir()
    shutil.copy(sample.database, database)
    return DuckDBFileWarehouse(database=str(database))


def test_readers_hammering_the_published_copy_during_a_full_run_never_fail(sample):
    fresh, held = sample.reader_report["fresh"], sample.reader_report["held"]
    assert sample.first_run_success
    assert fresh["error_count"] == 0, fresh["errors"]
    assert held["error_count"] == 0, held["errors"]
    # They were reading all along, many rounds each.
    assert fresh["rounds"] >= 20, fresh
    assert held["rounds"] >= 20, held
    # New connections moved from the previous publication (the empty warehouse's) to the new one...
    assert len(fresh["versions"]) == 2, fresh
    assert fresh["versions"][0].startswith("None/")
    assert not fresh["versions"][1].startswith("None/")
    # ...while the connection opened before the swap kept reading its own copy, undisturbed.
    assert held["versions"] == fresh["versions"][:1], held


def test_the_published_copy_holds_the_marts_and_the_seeds(sample):
    with duckdb.connect(str(sample.database), read_only=True) as live, \
            duckdb.connect(str(sample.published), read_only=True) as copy:
        tables = (
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in ('reference', 'marts', 'audit') and table_type = 'BASE TABLE' order by 1, 2"
        )
        assert copy.execute(tables).fetchall() == live.execute(tables).fetchall()
        assert {s for (s,) in copy.execute("select distinct table_schema from information_schema.tables").fetchall()} \
            == {"reference", "marts", "audit"}
        # The copy says which run it comes from: the run that built it.
        assert copy.execute("select run_id from audit.publications order by published_at desc limit 1").fetchone() \
            == (sample.first_run_id,)
        for schema, table in live.execute(tables).fetchall():
            sql = f'select * from "{schema}"."{table}" order by all'
            assert copy.execute(sql).fetchall() == live.execute(sql).fetchall(), (schema, table)
    assert list(sample.published.parent.glob("*.tmp")) == []


def test_the_published_path_keeps_the_warehouse_file_name():
    # DuckDB names the catalog after the file, and the staging views refer to it by that name.
    default = PROJECT_ROOT / "warehouse" / "china_tech_rally.duckdb"
    assert published_path_for(default) == PROJECT_ROOT / "warehouse" / "published" / "china_tech_rally.duckdb"


def test_a_reader_holding_the_copy_open_read_write_does_not_block_publishing(warehouse, tmp_path):
    target = published_path_for(warehouse.database)
    warehouse.publish()
    # An analyst who forgot -readonly: an exclusive lock on the published file.
    hold = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); sys.stdin.read()"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(target)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with warehouse.connect() as conn:
            conn.execute("create or replace table marts.published_marker as select 42 as answer")
        warehouse.publish()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with duckdb.connect(str(target), read_only=True) as conn:
        assert conn.execute("select answer from marts.published_marker").fetchone() == (42,)


def test_a_broken_copy_is_never_published(warehouse, monkeypatch):
    target = published_path_for(warehouse.database)
    counts = warehouse.publish()
    assert counts["fct_index_returns"] > 0
    before = target.read_bytes()

    def unreadable_copy(self, schema, table):
        raise duckdb.IOException(f"{schema}.{table}: the new copy cannot be read")

    # The check that the new file opens and reads fails: the old copy must stay.
    monkeypatch.setattr(warehouse_module.WarehouseSession, "table_rows", unreadable_copy)
    with pytest.raises(duckdb.Error):
        warehouse.publish()
    assert target.read_bytes() == before
    assert list(target.parent.glob("*.tmp")) == []


def report_rows(database):
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute("select * exclude (generated_at) from marts.rpt_headline order by line").fetchall()


def test_a_ui_run_of_only_the_report_leaves_the_published_copy_with_the_new_report(sample, warehouse, tmp_path):
    # The README's "report as of another date": the report alone, selected in the UI, which launches the
    # implicit asset job with that selection; no publish asset, no sensor, no daemon.
    database = warehouse.database
    target = published_path_for(database)
    warehouse.publish()
    assert {r[0] for r in report_rows(target)} == {SLICE_END}

    env = {**sample.env, "DUCKDB_DATABASE": database}
    as_of = "2026-01-02"
    selection = [AssetKey(["marts", "rpt_headline"]), AssetKey(["marts", "rpt_index_rebased"]), REPORT_KEY]
    job = build_definitions(Settings(**env)).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        asset_selection=selection,
        run_config={"ops": {"warehouse_dbt_models": {"config": {"report_as_of": as_of}}}},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success
    assert {m.asset_key for m in result.get_asset_materialization_events()} == set(selection)
    new_rows = report_rows(database)
    assert {r[0].isoformat() for r in new_rows} == {as_of}
    assert report_rows(target) == new_rows
    assert list(target.parent.glob("*.tmp")) == []


def test_a_full_run_copies_the_warehouse_once_from_its_last_step(sample):
    with sample.instance() as instance:
        record = instance.get_latest_materialization_event(REPORT_KEY)
        messages = [e.user_message for e in instance.all_logs(record.run_id)]
    # The dbt step (the last to write the warehouse before it) leaves it to the publish asset, which copies.
    assert sum(m.startswith("Publication left to published/warehouse") for m in messages) == 1
    assert sum(m.startswith("Published ") for m in messages) == 1


# The decision alone, on a graph shaped like the project's: marts -> report -> publish, each writing.
MART, REPORT = "mart", "report"


def test_the_last_writing_step_of_any_selection_publishes_and_only_it(tmp_path, monkeypatch):
    copies = []
    monkeypatch.setattr(DuckDBFileWarehouse, "publish", lambda self, **_: copies.append(self.published_path) or {})

    @asset(key=MART)
    def mart(context: AssetExecutionContext, warehouse: Warehouse):
        publish_unless_a_later_step_does(context, warehouse, later=[AssetKey(REPORT), PUBLISHED_KEY])

    @asset(key=REPORT, deps=[mart])
    def report(context: AssetExecutionContext, warehouse: Warehouse):
        publish_unless_a_later_step_does(context, warehouse, later=[PUBLISHED_KEY])

    @asset(key=PUBLISHED_KEY, deps=[report])
    def publish_asset(warehouse: Warehouse):
        warehouse.publish()

    resources = {
        "warehouse": DuckDBFileWarehouse(database=str(tmp_path / "w.duckdb")),
    }
    every = [mart, report, publish_asset]
    for selection, publishing_step in [
        (None, "publish"), ([mart.key], "mart"), ([report.key], "report"), ([mart.key, report.key], "report"),
        ([mart.key, PUBLISHED_KEY], "publish"),
    ]:
        copies.clear()
        result = materialize(every, selection=selection, resources=resources, instance=DagsterInstance.ephemeral())
        assert result.success
        assert len(copies) == 1, (selection, copies)
        steps = [e.step_key for e in result.all_events if e.is_step_success]
        assert steps[-1] == {"mart": "mart", "report": "report", "publish": "published__warehouse"}[
            publishing_step
        ], selection
    # Only the report, as a job of that one asset (dagster.materialize([report]) in a script).
    copies.clear()
    assert materialize([report], resources=resources, instance=DagsterInstance.ephemeral()).success
    assert len(copies) == 1


def published_rows(database) -> dict[str, list[tuple]]:
    with duckdb.connect(str(database), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in ('reference', 'marts', 'audit') and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        return {f"{s}.{t}": conn.execute(f'select * from "{s}"."{t}" order by all').fetchall() for s, t in tables}


def test_a_publication_rewrites_only_the_days_that_changed_and_ends_equal_to_the_warehouse(warehouse):
    target = published_path_for(warehouse.database)
    warehouse.publish()
    # A mark that survives only where the old copy's table is kept, not copied again.
    with duckdb.connect(str(target)) as conn:
        for table in ("fct_ai_basket_members_daily", "fct_index_returns", "dim_index"):
            conn.execute(f"comment on table marts.{table} is 'kept'")
    with warehouse.connect() as conn:
        # a late correction of an old day, a day gone, a new day, a table with a new column, a table
        # without dates rewritten, a table gone and a new one
        conn.execute("""update marts.fct_ai_basket_members_daily set close_local = close_local * 1.01
                        where symbol = '0700.HK' and trade_date = '2025-12-01'""")
        conn.execute("delete from marts.fct_ai_basket_members_daily where trade_date = '2026-01-16'")
        conn.execute("""insert into marts.fct_ai_basket_members_daily select * replace (date '2026-01-19' as trade_date)
                        from marts.fct_ai_basket_members_daily where trade_date = '2026-01-15'""")
        conn.execute("alter table marts.fct_relative_performance add column note varchar")
        conn.execute("update marts.dim_security set name = name || ' (renamed)' where symbol = '0700.HK'")
        conn.execute("drop table marts.rpt_index_rebased")
        conn.execute("create table marts.fct_new as select 1 as answer")
    warehouse.publish()

    assert published_rows(target) == published_rows(warehouse.database)
    with duckdb.connect(str(target), read_only=True) as conn:
        kept = dict(conn.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'marts'").fetchall())
    # The member table kept its unchanged days, and the untouched index returns were not rewritten;
    # dim_index has no trade_date, so it is copied whole each time.
    assert kept["fct_ai_basket_members_daily"] == "kept" and kept["fct_index_returns"] == "kept"
    assert kept["dim_index"] is None
    assert list(target.parent.glob("*.tmp")) == []


def test_a_published_file_that_does_not_open_is_replaced_by_a_whole_copy(warehouse):
    target = published_path_for(warehouse.database)
    warehouse.publish()
    target.write_bytes(b"not a database")
    warehouse.publish()
    assert published_rows(target) == published_rows(warehouse.database)


def test_changes_made_in_the_published_copy_never_reach_the_readers_of_the_next_one(warehouse):
    """An analyst opens the published copy read-write (the duckdb CLI's default), deletes NDX and adds a
    view and a table, and their process dies with the change still in the write-ahead log beside the
    file. A run then publishes: every reader afterwards sees exactly the warehouse's rows."""
    target = published_path_for(warehouse.database)
    warehouse.publish()
    change = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]);"
        " c.execute(\"delete from marts.fct_index_returns where index_id = 'NDX'\");"
        " c.execute('create view marts.mine as select 1 as x'); c.execute('create table main.scratch (x int)');"
        " print('changed', flush=True); sys.stdin.read()"
    )
    analyst = subprocess.Popen([sys.executable, "-c", change, str(target)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == "changed"
    finally:
        analyst.kill()
        analyst.wait(timeout=30)
    assert Path(f"{target}.wal").exists()  # the precondition: a log the old file never absorbed

    warehouse.publish()

    with duckdb.connect(str(warehouse.database), read_only=True) as live:
        ndx = live.execute("select count(*) from marts.fct_index_returns where index_id = 'NDX'").fetchone()[0]
    assert ndx > 0
    # Fresh processes, as readers are, so no database instance is shared with this one.
    count = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True);"
             " print(c.execute(\"select count(*) from marts.fct_index_returns where index_id = 'NDX'\").fetchone()[0])")
    for _ in range(2):
        seen = subprocess.run([sys.executable, "-c", count, str(target)], capture_output=True, text=True, check=True)
        assert int(seen.stdout) == ndx
    assert published_rows(target) == published_rows(warehouse.database)
    with duckdb.connect(str(target), read_only=True) as conn:
        assert conn.execute("select count(*) from duckdb_views() where not internal").fetchone()[0] == 0
        assert conn.execute("select count(*) from duckdb_tables() where schema_name = 'main'").fetchone()[0] == 0
