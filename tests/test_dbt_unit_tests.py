"""dbt's unit tests: the models' SQL on fixture rows. A Dagster run skips them (DbtBuildConfig.unit_tests),
so the suite runs them here, against a copy of the session's shared build (they read its column types)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from assets.dbt import DbtBuildConfig
from orchestration.settings import DBT_PROJECT_DIR
from tests.sample_slice import sample_warehouse


def test_every_dbt_unit_test_passes(tmp_path, tmp_path_factory, dbt_manifest):
    env = {**os.environ, **sample_warehouse(tmp_path_factory).copy_to(tmp_path)}
    target = tmp_path / "dbt_target"
    target.mkdir()
    shutil.copy(DBT_PROJECT_DIR / "target" / "partial_parse.msgpack", target)  # as dagster-dbt does: no full parse
    dbt = str(Path(sys.executable).parent / "dbt")
    done = subprocess.run([dbt, "test", "--select", "test_type:unit", "--profiles-dir", ".", "--target-path", str(target)],
                          cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False)
    results = json.loads((target / "run_results.json").read_text())["results"]
    declared = json.loads(dbt_manifest.read_text())["unit_tests"]
    assert declared and {r["unique_id"] for r in results} == set(declared), done.stdout[-2000:]
    assert all(r["status"] == "pass" for r in results), done.stdout[-3000:]


def test_a_run_skips_unit_tests_unless_asked():
    assert DbtBuildConfig().build_args() == ["build", "--exclude-resource-type", "unit_test"]
    assert DbtBuildConfig(unit_tests=True, full_refresh=True).build_args() == ["build", "--full-refresh"]
