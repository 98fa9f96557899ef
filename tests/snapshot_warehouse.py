"""Settings for a module-scoped warehouse built from a snapshot folder (a function-scoped test uses the
settings_for fixture): dbt reads the same DUCKDB_DATABASE from the env."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from orchestration.settings import Settings


def snapshot_settings(mp: pytest.MonkeyPatch, root: Path, snapshot: Path, start: date) -> Settings:
    mp.setenv("DUCKDB_DATABASE", str(root / "warehouse.duckdb"))
    mp.setenv("CTR_SOURCE", "snapshot")
    mp.setenv("CTR_SNAPSHOT_DIR", str(snapshot))
    mp.setenv("CTR_START_DATE", start.isoformat())
    return Settings()
