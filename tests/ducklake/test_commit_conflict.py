"""A raw write whose commit loses to another writer's is redone, and its error is never masked.

The conflict is forced, not waited for: inside the write's transaction (the `verify` hook, which runs
just before the commit), a second connection commits a change to the same table first. DuckLake then
refuses the first commit. Before, the rollback after it raised "cannot rollback - no transaction is
active" in place of the conflict, so the retry never saw a conflict and the run failed.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from orchestration.datasets import FX_RATES
from orchestration.resources.ducklake import DuckLakeWarehouse
from orchestration.resources.providers.base import QueryFetch
from orchestration.resources.warehouse import transaction
from tests.ducklake.conftest import scratch_database

pytestmark = pytest.mark.integration

ROWS = "select * from (values ('EUR', date '2026-01-15', 1.16), ('EUR', date '2026-01-16', 1.17)) as t(c, d, v)"


def test_a_commit_conflict_is_retried_and_the_rows_are_exact(postgres, tmp_path):
    with scratch_database(postgres, "conflict") as database:
        lake = DuckLakeWarehouse(catalog=f"postgres:{postgres} dbname={database}",
                                 data_path=f"{tmp_path / 'lake'}/", state_dir=str(tmp_path))
        lake.ensure_raw_tables()
        with lake.connect() as conn:
            conn.execute("insert into raw.fx_rates values ('JPY', date '2026-01-14', 0.0064, 'old', now()::timestamp)")
        attempts = []

        def another_writer_commits_first(session):
            attempts.append([c for (c,) in session.rows("select distinct currency from raw.fx_rates order by 1")])
            if len(attempts) == 1:
                # Deletes from the same table as this write: DuckLake lets only one of the two commit.
                with lake.connect() as other:
                    other.execute("delete from raw.fx_rates where currency = 'JPY'")
                    other.execute("insert into raw.fx_rates values"
                                  " ('KRW', date '2026-01-14', 0.00069, 'other run', now()::timestamp)")

        fetch = QueryFetch(FX_RATES, f"select c as currency, d as trade_date, v as usd_per_unit from ({ROWS})",
                           [], source="test")
        written = lake.replace_window_from_query(fetch, ["EUR"], date(2026, 1, 1), date(2026, 1, 31),
                                                 loaded_at=datetime(2026, 1, 17), verify=another_writer_commits_first)

        # Redone once, against the snapshot that holds the other run's row.
        assert attempts == [["EUR", "JPY"], ["EUR", "KRW"]]
        assert written.rows_written == 2 and written.ids_loaded == ["EUR"]
        with lake.session(read_only=True) as session:
            rows = session.rows("select currency, trade_date, usd_per_unit, source from raw.fx_rates order by all")
        assert rows == [
            ("EUR", date(2026, 1, 15), 1.16, "test"),
            ("EUR", date(2026, 1, 16), 1.17, "test"),
            ("KRW", date(2026, 1, 14), 0.00069, "other run"),
        ]


class FailingCommit:
    """A connection whose commit fails as DuckDB's does on a full disk, after which DuckDB has no
    transaction left to roll back."""

    def __init__(self):
        self.statements = []

    def execute(self, sql):
        self.statements.append(sql)
        if sql == "commit":
            raise duckdb.IOException('Could not write file "w.duckdb.wal": No space left on device')
        if sql == "rollback":
            raise duckdb.TransactionException("TransactionContext Error: cannot rollback - no transaction is active")


def test_a_failed_commit_says_why_not_what_its_rollback_said():
    conn = FailingCommit()
    with pytest.raises(duckdb.IOException, match="No space left on device"), transaction(conn):
        conn.execute("insert into raw.fx_rates values (1)")
    assert conn.statements == ["begin transaction", "insert into raw.fx_rates values (1)", "commit", "rollback"]
