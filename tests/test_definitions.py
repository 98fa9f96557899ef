"""The shape of the code location: one lineage graph, raw -> staging -> intermediate -> marts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey

from orchestration.definitions import build_definitions
from orchestration.settings import PROJECT_ROOT, Settings

SPECS_SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.txt"


@pytest.fixture(scope="module")
def asset_graph():
    return build_definitions(Settings()).resolve_asset_graph()


def describe_specs(asset_graph) -> str:
    lines = []
    for key in sorted(asset_graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = asset_graph.get(key)
        parents = ",".join(sorted(p.to_user_string() for p in node.parent_keys))
        partitioned = "daily" if node.partitions_def else "-"
        lines.append(f"{key.to_user_string()} group={node.group_name} partitions={partitioned} parents=[{parents}]")
    return "\n".join(lines) + "\n"


def test_asset_specs_match_the_snapshot(asset_graph):
    """A change to the graph shows up as a diff here; refresh with UPDATE_SNAPSHOTS=1 after review."""
    actual = describe_specs(asset_graph)
    if os.environ.get("UPDATE_SNAPSHOTS") or not SPECS_SNAPSHOT.exists():
        SPECS_SNAPSHOT.write_text(actual)
    assert actual == SPECS_SNAPSHOT.read_text()


def test_dbt_sources_are_the_raw_assets(asset_graph):
    staging = asset_graph.get(AssetKey(["staging", "stg_stock_prices"]))
    assert staging.parent_keys == {AssetKey(["raw", "stock_prices"])}


def test_every_mart_descends_from_raw(asset_graph):
    raw = {k for k in asset_graph.get_all_asset_keys() if k.path[0] == "raw"}
    for key in asset_graph.get_all_asset_keys():
        if key.path[0] == "marts" and key.path[1].startswith("fct_"):
            ancestors = asset_graph.upstream_key_iterator(key)
            assert raw & set(ancestors), f"{key.to_user_string()} has no raw ancestor"


def test_dbt_tests_and_python_checks_are_asset_checks(asset_graph):
    checks = asset_graph.asset_check_keys
    by_asset = {}
    for check in checks:
        by_asset.setdefault(check.asset_key.to_user_string(), set()).add(check.name)
    assert any(name.startswith("unique_combination") for name in by_asset["marts/fct_index_returns"])
    assert "calendar_freshness" in by_asset["raw/index_prices"]


def test_dg_check_defs_loads_the_code_location():
    # The create-dagster tooling ([tool.dg] in pyproject.toml) sees the same definitions as `make ui`.
    venv = Path(sys.executable).parent.parent
    result = subprocess.run(
        [str(venv / "bin" / "dg"), "check", "defs"], check=False, cwd=PROJECT_ROOT, capture_output=True, text=True,
        env={**os.environ, "VIRTUAL_ENV": str(venv)}, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_the_dbt_resource_starts_no_extra_dbt_process_per_run(monkeypatch):
    """dagster-dbt's own `dbt --version` and in-process adapter cost seconds on every run; ours know the
    pinned dbt-core's version and build no adapter (assets/metadata.py queries the warehouse instead)."""
    import importlib.metadata

    import dagster_dbt.core.resource as dbt_resource

    from assets.dbt import build_dbt_resource
    from orchestration.definitions import dbt_executable

    def no_process(*args, **kwargs):
        raise AssertionError(f"a subprocess was started: {args}")

    monkeypatch.setattr(dbt_resource, "check_output", no_process)
    resource = build_dbt_resource(Settings(), dbt_executable())
    assert str(resource._cli_version) == importlib.metadata.version("dbt-core")
    assert resource._cli_version.major < 2  # dbt-core, not the Fusion engine: dagster-dbt's branch for it
    assert resource._initialize_dbt_core_adapter(["build"]) is None
