"""ruff over the whole project ([tool.ruff] in pyproject.toml): among its rules, no private API of any
library (a `dagster._core` import, an underscored member of another package) in production code."""

import subprocess
import sys
from pathlib import Path

from orchestration.settings import PROJECT_ROOT


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_lint_catches_a_private_dagster_import(tmp_path):
    # The rule is on, not merely configured: the same settings flag a module reaching into dagster._core.
    module = tmp_path / "reaches_in.py"
    module.write_text("from dagster._core.events import DagsterEventType\n\nprint(DagsterEventType)\n")
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "--no-cache", "--config", str(PROJECT_ROOT / "pyproject.toml"),
                             "--output-format", "concise", str(module)], capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "dagster._core" in result.stdout, result.stdout + result.stderr
