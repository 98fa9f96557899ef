"""Publication compares only the days a dbt build rewrote since the last publication (audit.rewrites),
so a daily publication reads its window, not the history; without a record it compares every day."""

from __future__ import annotations

from datetime import date

import duckdb

from orchestration import audit_log
from orchestration.resources.warehouse import _bring_in_step


def _warehouse() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("create schema marts")
    conn.execute("create table marts.fct (trade_date date, v double)")
    conn.execute("insert into marts.fct values ('2026-01-01', 1), ('2026-01-02', 2), ('2026-01-05', 3)")
    conn.execute("attach ':memory:' as published_copy")
    return conn


def test_rewrites_since_a_publication_bound_what_is_compared():
    conn = _warehouse()
    assert audit_log.rewritten_since(conn, None) == (False, None)  # no publication known
    first = audit_log.record_publication(conn, "first")
    assert audit_log.rewritten_since(conn, first) == (False, None)  # nothing recorded since
    audit_log.record_rewrite(conn, "a", date(2026, 1, 5))
    audit_log.record_rewrite(conn, "b", date(2026, 1, 2))
    assert audit_log.rewritten_since(conn, first) == (True, date(2026, 1, 2))
    second = audit_log.record_publication(conn, "second")
    audit_log.record_rewrite(conn, "c", date(2026, 1, 5))
    assert audit_log.rewritten_since(conn, second) == (True, date(2026, 1, 5))
    # The generation published first is two publications behind: every rewrite since it counts.
    assert audit_log.rewritten_since(conn, first) == (True, date(2026, 1, 2))
    audit_log.record_rewrite(conn, "full", None)  # a full build or --full-refresh: every day
    assert audit_log.rewritten_since(conn, second) == (False, None)


def test_days_before_the_window_are_left_as_published():
    conn = _warehouse()
    _bring_in_step(conn, "published_copy")
    rows = "select * from {} order by trade_date"
    assert conn.execute(rows.format("published_copy.marts.fct")).fetchall() == conn.execute(
        rows.format("marts.fct")).fetchall()
    # A windowed build rewrote 2026-01-05 on: that day is brought in step, an earlier one is not read.
    conn.execute("update marts.fct set v = 30 where trade_date = '2026-01-05'")
    conn.execute("update published_copy.marts.fct set v = -1 where trade_date = '2026-01-01'")
    _bring_in_step(conn, "published_copy", since=date(2026, 1, 5))
    assert conn.execute(rows.format("published_copy.marts.fct")).fetchall() == [
        (date(2026, 1, 1), -1.0), (date(2026, 1, 2), 2.0), (date(2026, 1, 5), 30.0)]
    # Without a window every day is compared.
    _bring_in_step(conn, "published_copy")
    assert conn.execute(rows.format("published_copy.marts.fct")).fetchall() == conn.execute(
        rows.format("marts.fct")).fetchall()


def _file_warehouse(tmp_path):
    from orchestration.resources.warehouse import DuckDBFileWarehouse

    warehouse = DuckDBFileWarehouse(database=str(tmp_path / "china_tech_rally.duckdb"))
    with warehouse.connect() as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create table marts.fct (trade_date date, v double)")
        conn.execute("insert into marts.fct values ('2026-01-01', 1), ('2026-01-02', 2), ('2026-01-05', 3)")
    return warehouse


def _rewrite_a_day(warehouse):
    """What a daily build does: records that it rewrites 2026-01-05 on, then rewrites that day."""
    with warehouse.connect() as conn:
        audit_log.record_rewrite(conn, "daily", date(2026, 1, 5))
        conn.execute("update marts.fct set v = 30 where trade_date = '2026-01-05'")


def _published(warehouse):
    with duckdb.connect(str(warehouse.published_path), read_only=True) as conn:
        return conn.execute("select * from marts.fct order by trade_date").fetchall()


def test_a_windowed_publication_rewrites_the_window_and_keeps_the_rest(tmp_path):
    warehouse = _file_warehouse(tmp_path)
    warehouse.publish(run_id="first")
    _rewrite_a_day(warehouse)
    warehouse.publish(run_id="daily")
    assert _published(warehouse) == [(date(2026, 1, 1), 1.0), (date(2026, 1, 2), 2.0), (date(2026, 1, 5), 30.0)]


def test_a_published_file_an_analyst_wrote_to_is_compared_whole(tmp_path):
    # The duckdb CLI opens read-write and checkpoints on exit: the change is in the file itself, in a day
    # before any window. The next publication must not trust the file's older days.
    warehouse = _file_warehouse(tmp_path)
    warehouse.publish(run_id="first")
    with duckdb.connect(str(warehouse.published_path)) as analyst:
        analyst.execute("delete from marts.fct where trade_date = '2026-01-01'")
    with warehouse.connect() as conn:
        audit_log.record_rewrite(conn, "daily", date(2026, 1, 5))
    warehouse.publish(run_id="daily")
    assert _published(warehouse) == [(date(2026, 1, 1), 1.0), (date(2026, 1, 2), 2.0), (date(2026, 1, 5), 3.0)]


def _generations(warehouse):
    target = warehouse.published_path
    return {g: (target.parent / f".{target.name}.{g}") for g in "ab"}


def test_two_generations_take_turns_and_the_one_brought_in_step_is_rewritten_in_place(tmp_path):
    warehouse = _file_warehouse(tmp_path)
    target, gens = warehouse.published_path, _generations(warehouse)
    warehouse.publish(run_id="first")
    assert target.stat().st_ino == gens["a"].stat().st_ino
    warehouse.publish(run_id="second")  # b does not exist yet: made from a copy of a
    assert target.stat().st_ino == gens["b"].stat().st_ino
    a_inode = gens["a"].stat().st_ino
    _rewrite_a_day(warehouse)
    warehouse.publish(run_id="third")
    # a, two publications behind, was brought in step where it lies (same inode: no copy) and linked in.
    assert gens["a"].stat().st_ino == a_inode == target.stat().st_ino
    assert _published(warehouse) == [(date(2026, 1, 1), 1.0), (date(2026, 1, 2), 2.0), (date(2026, 1, 5), 30.0)]


def test_a_generation_a_reader_still_holds_is_not_written_but_replaced(tmp_path):
    import subprocess
    import sys

    warehouse = _file_warehouse(tmp_path)
    target, gens = warehouse.published_path, _generations(warehouse)
    warehouse.publish(run_id="first")
    warehouse.publish(run_id="second")
    # A notebook opened the published file when it was a, and still holds it (a shared lock).
    hold = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True);"
            " print(c.execute('select sum(v) from marts.fct').fetchone()[0], flush=True); sys.stdin.read();"
            " print(c.execute('select sum(v) from marts.fct').fetchone()[0], flush=True)")
    reader = subprocess.Popen([sys.executable, "-c", hold, str(gens["a"])], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "6.0"
        a_inode = gens["a"].stat().st_ino
        _rewrite_a_day(warehouse)
        warehouse.publish(run_id="third")
        reader.stdin.close()
        # The reader's file was left as it was; readers from now on get a new file under a's name.
        assert reader.stdout.readline().strip() == "6.0"
    finally:
        reader.kill()
        reader.wait(timeout=30)
    assert gens["a"].stat().st_ino != a_inode and target.stat().st_ino == gens["a"].stat().st_ino
    assert _published(warehouse) == [(date(2026, 1, 1), 1.0), (date(2026, 1, 2), 2.0), (date(2026, 1, 5), 30.0)]


def test_without_hard_links_the_published_name_gets_a_copy(tmp_path, monkeypatch):
    import os

    warehouse = _file_warehouse(tmp_path)

    def no_links(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    warehouse.publish(run_id="first")
    _rewrite_a_day(warehouse)
    warehouse.publish(run_id="daily")
    assert _published(warehouse) == [(date(2026, 1, 1), 1.0), (date(2026, 1, 2), 2.0), (date(2026, 1, 5), 30.0)]
