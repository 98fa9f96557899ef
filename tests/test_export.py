"""Any tool: `make export` writes every mart to Parquet and CSV with a manifest, read back equal to the
marts; the marts' descriptions are comments in the DuckDB file."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from orchestration import export
from tests.reference_marts import MART_KEYS, compare_frames
from tests.sample_slice import sample_warehouse

pytestmark = pytest.mark.integration

# A key for every table the marts schema holds besides the facts the oracle knows.
KEYS = {
    **MART_KEYS,
    "dim_index": ["index_id"],
    "dim_security": ["symbol"],
    "fct_ai_basket_comparison": ["basket_id", "compared_with", "trade_date"],
    "rpt_headline": ["line"],
    "rpt_index_rebased": ["period", "index_id", "trade_date"],
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    warehouse = sample_warehouse(tmp_path_factory)
    assert warehouse.first_run_success
    return warehouse


@pytest.fixture(scope="module")
def exported(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "export"
    manifest = export.export(sample.published, out)
    return out, manifest


def marts(database) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(database), read_only=True) as conn:
        names = [r[0] for r in conn.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()]
        return {n: conn.execute(f"select * from marts.{n}").df() for n in names}


def test_every_mart_is_exported_with_its_manifest(sample, exported):
    out, manifest = exported
    tables = marts(sample.published)
    assert set(KEYS) == set(tables), "a new mart needs a key here"
    assert json.loads((out / export.MANIFEST_FILE).read_text()) == manifest
    assert {t["table"] for t in manifest["tables"]} == {f"marts.{n}" for n in tables}
    assert manifest["source"] == str(sample.published)
    assert manifest["data_label"] == tables["rpt_headline"].data_label.iloc[0] == "snapshot:sample_slice"
    for entry in manifest["tables"]:
        name = entry["table"].split(".")[1]
        assert entry["rows"] == len(tables[name])
        assert [c["name"] for c in entry["columns"]] == list(tables[name].columns)
        assert all(c["description"] for c in entry["columns"]), name
        assert (out / entry["files"]["parquet"]).is_file() and (out / entry["files"]["csv"]).is_file()
    returns = next(t for t in manifest["tables"] if t["table"] == "marts.fct_index_returns")
    assert (returns["first_date"], returns["last_date"]) == (
        str(tables["fct_index_returns"].trade_date.min().date()), str(tables["fct_index_returns"].trade_date.max().date()))


def test_duckdb_reads_the_parquet_and_csv_back_equal_to_the_marts(sample, exported):
    out, manifest = exported
    with duckdb.connect() as conn:
        conn.execute(f"attach '{sample.published}' as published (read_only)")
        for entry in manifest["tables"]:
            for kind in ("parquet", "csv"):
                path = out / entry["files"][kind]
                reader = f"read_parquet('{path}')" if kind == "parquet" else f"read_csv('{path}', header = true)"
                columns = ", ".join(f'"{c["name"]}"::{c["type"]}' for c in entry["columns"])
                exported_rows = f"select {columns} from {reader}"
                table = f"published.{entry['table']}"
                for a, b in ((table, f"({exported_rows})"), (f"({exported_rows})", table)):
                    left = conn.execute(f"select count(*) from (select * from {a} except all select * from {b})")
                    assert left.fetchone()[0] == 0, (entry["table"], kind)


def test_pandas_reads_the_parquet_and_csv_back_equal_to_the_marts(sample, exported):
    out, manifest = exported
    tables = marts(sample.published)
    for entry in manifest["tables"]:
        name = entry["table"].split(".")[1]
        text = [c["name"] for c in entry["columns"] if c["type"] == "VARCHAR"]
        parquet = pd.read_parquet(out / entry["files"]["parquet"])
        csv = pd.read_csv(out / entry["files"]["csv"], dtype={c: str for c in text})
        for frame in (parquet, csv):
            assert list(frame.columns) == list(tables[name].columns)
            assert compare_frames(frame, tables[name], KEYS[name], rel_tol=1e-12) == [], name


def test_the_marts_descriptions_are_comments_in_the_warehouse(sample):
    with duckdb.connect(str(sample.database), read_only=True) as conn:
        tables = dict(conn.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'marts'").fetchall())
        columns = conn.execute(
            "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'").fetchall()
    assert set(tables) >= set(KEYS) and all(tables.values()), tables
    missing = [(t, c) for t, c, comment in columns if not comment]
    assert missing == []
    comments = {(t, c): comment for t, c, comment in columns}
    assert comments[("fct_ai_market_cap_ratio", "cn_to_peer_ratio")].startswith("cn_market_cap_usd / peer_market_cap_usd")
