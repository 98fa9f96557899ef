"""The raw schema is declared once (orchestration/datasets.py): the dbt sources, the snapshot format and
the raw tables in docs/warehouse.md, and the tables the warehouse creates, are checked against it."""

import re

import duckdb
import yaml

from orchestration.datasets import DATASETS, RAW_TABLES
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT

BOOKKEEPING = ["source", "loaded_at"]
DOC = (PROJECT_ROOT / "docs" / "warehouse.md").read_text()
SQL_TYPE = {"text": "VARCHAR", "date": "DATE", "double": "DOUBLE"}


def test_the_dbt_sources_list_each_raw_table_with_its_columns_in_order():
    sources = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml").read_text())["sources"]
    raw = {t["name"]: [c["name"] for c in t["columns"]] for s in sources if s["name"] == "raw" for t in s["tables"]}
    assert raw == {d.name: [*d.column_names, *BOOKKEEPING] for d in RAW_TABLES}


def test_the_docs_name_each_raw_table_and_snapshot_file_as_declared():
    for dataset in RAW_TABLES:
        row = re.search(rf"^\| `{re.escape(dataset.table)}` \| (.+) \|$", DOC, re.MULTILINE)
        assert row, dataset.table
        documented = [re.match(r"\w+(?: \w+)?", part.strip())[0] for part in row[1].split(", ")]
        assert documented == [f"{c.name} {SQL_TYPE[c.type]}" for c in dataset.columns] + BOOKKEEPING
    for dataset in DATASETS:
        row = re.search(rf"^\| `{re.escape(dataset.file_name)}` \| (.+?) \| (.+?) \|$", DOC, re.MULTILINE)
        assert row, dataset.file_name
        assert [c.strip("* ") for c in row[1].split(",")] == dataset.column_names
        # The required columns in bold, as one run: **a, b, c**, d
        assert [c.strip() for c in re.match(r"\*\*(.+?)\*\*", row[1])[1].split(",")] == dataset.required_columns
        assert [k.strip() for k in row[2].split(",")] == list(dataset.key)


def test_the_warehouse_creates_the_raw_tables_as_declared(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("create schema raw")
        for dataset in RAW_TABLES:
            conn.execute(dataset.ddl())
            columns = conn.execute("select column_name, data_type from duckdb_columns() where schema_name = 'raw'"
                                   " and table_name = ? order by column_index", [dataset.name]).fetchall()
            assert columns == [*((c.name, SQL_TYPE[c.type]) for c in dataset.columns),
                               ("source", "VARCHAR"), ("loaded_at", "TIMESTAMP")]
