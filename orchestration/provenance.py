"""Which data a warehouse file holds: one snapshot folder (by its resolved path) or the live sources.

A run that would load another source into it stops before fetching anything, in one line naming both
and how to start fresh: rows of two exports (or of the synthetic sample and real data) would otherwise
mix silently, key by key, and every figure after it would rest on both. The record is a small JSON file
beside the warehouse file (`<file>.source.json`), so it is read without the warehouse's lock; deleting
the warehouse makes it void. A warehouse without a record (built before records were kept, or copied
without it) is judged by the `source` its raw rows carry.
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.datasets import DATASETS
from orchestration.preflight import ConfigurationError
from orchestration.settings import PROJECT_ROOT, SAMPLE_DIR, Settings


class MixedSourcesError(ConfigurationError):
    """The warehouse holds another source's data than this run would load."""


def record_path(database: Path) -> Path:
    return database.with_name(database.name + ".source.json")


def source_of(settings: Settings) -> str:
    """`live`, or the snapshot folder's resolved path."""
    return "live" if settings.source == "live" else str(Path(settings.snapshot_dir).resolve())


def describe(source: str) -> str:
    if source == "live":
        return "the live sources"
    if source.startswith("rows of "):
        return source
    if Path(source) == SAMPLE_DIR.resolve():
        return f"the bundled synthetic sample ({Path(source).relative_to(PROJECT_ROOT)}/)"
    return source


def recorded_source(database: Path) -> str | None:
    """The source the warehouse file was built from; None without a record or without the file."""
    path = record_path(database)
    if not database.exists() or not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get("source")
    except (OSError, ValueError):
        return None


def _row_label(settings: Settings) -> str | None:
    """The `source` a snapshot run stamps on raw rows (orchestration/resources: the sample is `sample:`)."""
    if settings.source == "live":
        return None
    return f"{'sample' if settings.is_bundled_sample else 'snapshot'}:{Path(settings.snapshot_dir).name}"


def foreign_row_sources(settings: Settings) -> list[str]:
    """The raw rows' sources in the warehouse that this run would not have written (empty when the file
    is missing or busy: a busy file stops the run on its lock anyway)."""
    database = settings.duckdb_database
    if not database.exists():
        return []
    union = " union ".join(f"select distinct source from raw.{d.name}" for d in DATASETS)
    sources: list[str] = []
    with suppress(duckdb.Error), duckdb.connect(str(database), read_only=True) as conn:
        sources = [r[0] for r in conn.execute(f"select source from ({union}) where source is not null order by 1").fetchall()]
    label = _row_label(settings)
    if label is None:
        return [s for s in sources if s.startswith(("sample:", "snapshot:"))]
    return [s for s in sources if s != label]


def claim(settings: Settings) -> None:
    """Record this run's source for its warehouse, or raise MixedSourcesError when the warehouse holds
    another's. A DuckLake warehouse is left alone (its catalog is shared by design)."""
    if settings.warehouse != "duckdb":
        return
    database = settings.duckdb_database
    source, held = source_of(settings), recorded_source(database)
    if held is None and (foreign := foreign_row_sources(settings)):
        held = "rows of " + ", ".join(foreign)
    if held is not None and held != source:
        raise MixedSourcesError(
            f"{database} holds data from {describe(held)}; this run reads {describe(source)}. Not mixing them:"
            " start fresh with `make clean-warehouse`, or give this data its own warehouse"
            " (DUCKDB_DATABASE=/path/to/other.duckdb)."
        )
    if held is None:
        database.parent.mkdir(parents=True, exist_ok=True)
        record = {"source": source, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
        record_path(database).write_text(json.dumps(record) + "\n")
