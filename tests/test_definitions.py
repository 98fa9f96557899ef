"""The shape of the code location: one lineage graph, raw -> staging -> intermediate -> marts."""

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey

from assets.schedules.jobs import ASIA_CLOSE_JOB, MATERIALIZE_ALL_JOB, US_CLOSE_JOB
from orchestration.definitions import build_definitions
from orchestration.partitions import daily_partitions
from orchestration.resources import build_provider
from orchestration.settings import PROJECT_ROOT, Settings
from tests.sample_slice import write_slice

SPECS_SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.txt"


@pytest.fixture(scope="module")
def defs():
    return build_definitions(Settings())


@pytest.fixture(scope="module")
def asset_graph(defs):
    return defs.resolve_asset_graph()


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


def test_dg_scaffolds_into_the_defs_folder_and_loads_it(tmp_path):
    """The create-dagster tooling ([tool.dg] in pyproject.toml) works on the project as on any dg project:
    in a scratch copy, `dg scaffold defs` adds an asset to a concern's defs folder, and `dg check defs`
    and `dg list defs` load it beside the project's own definitions (the same code location as `make ui`)."""
    venv = Path(sys.executable).parent.parent
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT_ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    copy = tmp_path / "project"
    for name in files:
        if name.startswith(("sample_data/", "docs/", "benchmarks/", "tests/")) or not (PROJECT_ROOT / name).is_file():
            continue
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        # copy2 keeps the mode: scripts/dbt-child is the dbt executable where setpriv exists.
        shutil.copy2(PROJECT_ROOT / name, copy / name)
    (copy / "dbt_project" / "target").mkdir(parents=True, exist_ok=True)
    (copy / "dbt_project" / "target" / "manifest.json").write_bytes(
        (PROJECT_ROOT / "dbt_project" / "target" / "manifest.json").read_bytes())
    # The copy reads the project's own sample and warehouse settings (absolute paths).
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "CTR_SNAPSHOT_DIR": str(PROJECT_ROOT / "sample_data"),
           "DUCKDB_DATABASE": str(tmp_path / "warehouse" / "w.duckdb")}

    def dg(*args: str) -> str:
        result = subprocess.run([str(venv / "bin" / "dg"), *args], cwd=copy, capture_output=True, text=True,
                                env=env, timeout=300, check=False)
        assert result.returncode == 0, f"dg {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result.stdout + result.stderr

    dg("scaffold", "defs", "dagster.asset", "raw/scaffolded_asset.py")
    assert (copy / "assets" / "raw" / "scaffolded_asset.py").exists()
    assert "All definitions loaded successfully" in dg("check", "defs")
    listed = json.loads(_json_part(dg("list", "defs", "--json")))
    keys = {asset["asset_key"] for asset in listed["assets"]}
    assert {"scaffolded_asset", "raw/stock_prices", "marts/fct_index_returns", "published/warehouse"} <= keys
    assert {"asia_close_schedule", "us_close_schedule"} <= {s["name"] for s in listed["schedules"]}


def _json_part(output: str) -> str:
    # dg may print notices before the JSON document.
    return output[output.index("{"):]


def test_the_dbt_executable_answers_its_version_without_starting_dbt():
    """dagster-dbt asks `<dbt_executable> --version` on every run (to tell dbt-core from Fusion); the
    project's executable, scripts/dbt-child, answers from the installed package instead of starting dbt."""
    import importlib.metadata
    import os
    import subprocess
    import time

    from assets.dbt import build_dbt_resource
    from orchestration.resources import build_warehouse

    resource = build_dbt_resource(build_warehouse(Settings()))
    started = time.monotonic()
    answer = subprocess.run([resource.dbt_executable, "--version"], env={**os.environ, **resource.env},
                            capture_output=True, text=True, check=True).stdout
    assert time.monotonic() - started < 2.0
    assert f"installed: {importlib.metadata.version('dbt-core')}" in answer


def last_partitions(defs) -> set[str]:
    """The last partition of every raw asset and every job: what the UI's partition picker calls "Latest"."""
    graph = defs.resolve_asset_graph()
    raw = [graph.get(k).partitions_def for k in graph.get_all_asset_keys() if k.path[0] == "raw"]
    jobs = [defs.resolve_job_def(j).partitions_def for j in (MATERIALIZE_ALL_JOB, ASIA_CLOSE_JOB, US_CLOSE_JOB)]
    return {p.get_last_partition_key() for p in raw + jobs}


def test_in_snapshot_mode_the_last_partition_is_the_snapshots_last_date(defs):
    """A later day would be offered as "Latest", and its run would be green and load nothing."""
    last = build_provider(Settings()).date_range()[1]
    assert last < date.today()  # the bundled sample: today's partition would be the wrong one
    assert last_partitions(defs) == {last.isoformat()}


def test_an_own_snapshot_folder_ends_the_partitions_at_its_own_last_date(tmp_path, settings_for):
    folder = write_slice(tmp_path / "slice", start=date(2025, 12, 1), end=date(2025, 12, 19))
    defs = build_definitions(settings_for(folder, start=date(2025, 12, 1)))
    assert last_partitions(defs) == {"2025-12-19"}


def test_live_partitions_end_today_and_a_snapshot_ahead_of_today_is_reached():
    today = datetime.now(UTC).date()
    assert daily_partitions(date(2024, 1, 1)).get_last_partition_key() == today.isoformat()
    ahead = today + timedelta(days=40)
    assert daily_partitions(date(2024, 1, 1), ahead).get_last_partition_key() == ahead.isoformat()
    # A last date before the first partition leaves the partitions as in live mode rather than none.
    assert daily_partitions(date(2024, 1, 1), date(2023, 6, 30)).get_last_partition_key() == today.isoformat()
