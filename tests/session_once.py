"""What a test session builds once, even when pytest-xdist runs it in several worker processes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock


def build_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], dict]) -> dict:
    """`build(root)` run once per session in `root` (a folder all workers share), its JSON-able record
    kept beside it: the first worker to ask builds, the others wait on the lock and read the record."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    record = root.with_suffix(".json")
    with FileLock(root.with_suffix(".lock")):
        if not record.exists():
            record.write_text(json.dumps(build(root)))
    return json.loads(record.read_text())
