"""The published copy: readable while a run writes, replaced atomically, never half-written."""

import shutil
import subprocess
import sys

import duckdb
import pytest

from assets import publish as publish_module
from assets.publish import publish, published_path_for
from orchestration.resources.warehouse import Warehouse
from orchestration.settings import PROJECT_ROOT
from tests.sample_slice import sample_warehouse

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return sample_warehouse(tmp_path_factory)


@pytest.fixture
def warehouse(sample, tmp_path):
    database = tmp_path / "warehouse" / "china_tech_rally.duckdb"
    database.parent.mkdir()
    shutil.copy(sample.database, database)
    return Warehouse(database=str(database))


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


def test_the_published_copy_is_the_whole_warehouse(sample):
    with duckdb.connect(str(sample.database), read_only=True) as live, \
            duckdb.connect(str(sample.published), read_only=True) as copy:
        tables = "select table_schema, table_name from information_schema.tables order by 1, 2"
        assert copy.execute(tables).fetchall() == live.execute(tables).fetchall()
        for schema, table in live.execute(tables).fetchall():
            sql = f'select count(*) from "{schema}"."{table}"'
            assert copy.execute(sql).fetchone() == live.execute(sql).fetchone(), (schema, table)
    assert list(sample.published.parent.glob("*.tmp")) == []


def test_the_published_path_keeps_the_warehouse_file_name():
    # DuckDB names the catalog after the file, and the staging views refer to it by that name.
    default = PROJECT_ROOT / "warehouse" / "china_tech_rally.duckdb"
    assert published_path_for(default) == PROJECT_ROOT / "warehouse" / "published" / "china_tech_rally.duckdb"


def test_a_reader_holding_the_copy_open_read_write_does_not_block_publishing(warehouse, tmp_path):
    target = published_path_for(warehouse.database)
    publish(warehouse, target)
    # An analyst who forgot -readonly: an exclusive lock on the published file.
    hold = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); sys.stdin.read()"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(target)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with warehouse.get_connection() as conn:
            conn.execute("create or replace table marts.published_marker as select 42 as answer")
        publish(warehouse, target)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with duckdb.connect(str(target), read_only=True) as conn:
        assert conn.execute("select answer from marts.published_marker").fetchone() == (42,)


def test_a_broken_copy_is_never_published(warehouse, monkeypatch):
    target = published_path_for(warehouse.database)
    counts = publish(warehouse, target)
    assert counts["fct_index_returns"] > 0
    before = target.read_bytes()

    def truncated_copy(src, dst):
        with open(src, "rb") as f, open(dst, "wb") as out:
            out.write(f.read(4096))

    monkeypatch.setattr(publish_module.shutil, "copyfile", truncated_copy)
    with pytest.raises(duckdb.Error):
        publish(warehouse, target)
    assert target.read_bytes() == before
    assert list(target.parent.glob("*.tmp")) == []
