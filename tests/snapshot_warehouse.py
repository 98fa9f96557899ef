"""Settings for a module-scoped warehouse built from a snapshot folder (a function-scoped test uses the
settings_for fixture)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from orchestration.settings import Settings


def snapshot_settings(root: Path, snapshot: Path, start: date) -> Settings:
    return Settings(DUCKDB_DATABASE=root / "warehouse.duckdb", CTR_SOURCE="snapshot", CTR_SNAPSHOT_DIR=snapshot,
                    CTR_START_DATE=start)
