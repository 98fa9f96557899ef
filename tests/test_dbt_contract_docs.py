"""dbt declares the contract: enforced marts with typed columns, one YAML per model beside its SQL,
exposures for what reads the marts, and docs/warehouse.md's column tables generated from it all."""

from __future__ import annotations

import json

import pytest

from orchestration import docs


@pytest.fixture(scope="module")
def manifest(dbt_manifest):
    return json.loads(dbt_manifest.read_text())


def models(manifest):
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def test_every_mart_has_an_enforced_contract_with_typed_columns(manifest):
    marts = docs.mart_nodes(manifest)
    assert {"fct_index_returns", "fct_ai_market_cap_ratio", "dim_security"} <= set(marts)
    for name, node in marts.items():
        assert node["config"]["contract"]["enforced"], name
        untyped = [c for c, column in node["columns"].items() if not column.get("data_type")]
        assert node["columns"] and not untyped, (name, untyped)


def test_each_model_has_its_own_yaml_beside_its_sql(manifest):
    for node in models(manifest):
        code = node["original_file_path"]  # .sql, or .py for a Python model
        assert node["patch_path"], f"{code} has no YAML"
        yaml = node["patch_path"].split("://", 1)[1]
        assert yaml == code.rsplit(".", 1)[0] + ".yml", (code, yaml)
    for unit_test in manifest["unit_tests"].values():
        model = manifest["nodes"][unit_test["depends_on"]["nodes"][0]]
        assert unit_test["original_file_path"] == model["patch_path"].split("://", 1)[1], unit_test["name"]


def test_the_report_and_the_published_copy_are_exposures_of_the_marts(manifest):
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) >= {"headline_report", "published_warehouse"}
    marts = {n["unique_id"] for n in docs.mart_nodes(manifest).values()}
    assert set(exposures["published_warehouse"]["depends_on"]["nodes"]) == marts


def test_the_column_tables_in_the_docs_are_generated_from_the_contracts(manifest):
    doc = docs.WAREHOUSE_DOC.read_text()
    assert sorted(docs.documented_models(doc)) == sorted(docs.mart_nodes(manifest))
    assert docs.render(doc, manifest) == doc, "run: python -m orchestration.docs"
