"""What every check shares: asset keys, "why is this table empty", and failing rows as metadata."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, DagsterInstance, MetadataValue

from orchestration import markdown
from orchestration.datasets import DATASETS, DATASETS_BY_NAME, Dataset
from orchestration.dbt_project import dbt_project
from orchestration.resources.providers.base import MarketDataProvider
from orchestration.resources.providers.snapshot import SnapshotProvider
from orchestration.resources.warehouse import WarehouseSession

# Failing rows listed in a check's metadata; the counts always cover all of them.
MAX_LISTED = 20
MARTS_SCHEMA = "marts"

@lru_cache
def raw_inputs_of(model: str) -> tuple[str, ...]:
    """The raw tables a dbt model is built from, read from the dbt manifest's lineage: an empty mart is
    explained by the empty ones among them, and a new model needs no list kept by hand."""
    manifest = json.loads(Path(dbt_project.manifest_path).read_text())
    nodes = {**manifest["nodes"], **manifest["sources"]}
    found: set[str] = set()
    pending = [uid for uid, node in manifest["nodes"].items() if node.get("name") == model
               and node.get("resource_type") == "model"]
    seen: set[str] = set()
    while pending:
        uid = pending.pop()
        if uid in seen or uid not in nodes:
            continue
        seen.add(uid)
        node = nodes[uid]
        if node.get("resource_type") == "source" and node.get("source_name") == "raw":
            found.add(node["name"])
        pending.extend(node.get("depends_on", {}).get("nodes", []))
    # In the datasets' own order (prices first): the first cause named is the one a reader fixes first.
    return tuple(d.name for d in DATASETS if d.name in found)


def raw_key(dataset: Dataset | str) -> AssetKey:
    name = dataset if isinstance(dataset, str) else dataset.name
    return AssetKey(["raw", name])


def mart_key(name: str) -> AssetKey:
    return AssetKey([MARTS_SCHEMA, name])


def why_raw_empty(dataset: Dataset, provider: MarketDataProvider | None, instance: DagsterInstance | None) -> str:
    """A sentence naming the cause of an empty raw table, as precisely as the provider allows."""
    prefix = f"{dataset.table} is empty"
    if isinstance(provider, SnapshotProvider):
        path = provider.path_of(dataset)
        if not path.is_file():
            return f"{prefix}: the snapshot has no {dataset.file_name} ({path.parent})"
        return f"{prefix}: {path} has no rows for the configured ids in the loaded date range"
    event = instance.get_latest_materialization_event(raw_key(dataset)) if instance is not None else None
    if event is None or event.asset_materialization is None:
        return f"{prefix}: raw/{dataset.name} has not been materialised yet"
    meta = event.asset_materialization.metadata
    failed = meta.get("ids_failed")
    failures: Mapping[str, Any] = failed.value if failed is not None and isinstance(failed.value, Mapping) else {}
    window = meta["window"].value if "window" in meta else "?"
    if failures:
        sample = "; ".join(f"{k}: {v}" for k, v in list(failures.items())[:3])
        return f"{prefix}: the last load ({window}) delivered no rows; {len(failures)} id(s) failed, e.g. {sample}"
    return f"{prefix}: the last load ({window}) delivered no rows"


def empty_inputs(
    wh: WarehouseSession,
    datasets: Iterable[str],
    provider: MarketDataProvider | None,
    instance: DagsterInstance | None,
) -> list[str]:
    """why_raw_empty() for each of `datasets` whose raw table has no rows."""
    reasons = []
    for name in datasets:
        dataset = DATASETS_BY_NAME[name]
        if not wh.table_rows("raw", name):
            reasons.append(why_raw_empty(dataset, provider, instance))
    return reasons


def raw_guard(
    wh: WarehouseSession,
    dataset: Dataset,
    provider: MarketDataProvider | None,
    instance: DagsterInstance | None,
    metadata: Mapping[str, Any] | None = None,
) -> AssetCheckResult | None:
    """A failed WARN result saying why, when the raw table has no rows; None when it has some."""
    if wh.table_rows("raw", dataset.name):
        return None
    reason = why_raw_empty(dataset, provider, instance)
    return AssetCheckResult(
        passed=False, severity=AssetCheckSeverity.WARN, description=reason,
        metadata={**(metadata or {}), "reason": reason, "rows": 0},
    )


def mart_guard(
    wh: WarehouseSession,
    mart: str,
    provider: MarketDataProvider | None,
    instance: DagsterInstance | None,
    metadata: Mapping[str, Any] | None = None,
) -> AssetCheckResult | None:
    """A failed WARN result saying why, when the mart is missing or empty; None when it has rows.

    An empty mart is the expected outcome of a snapshot folder without the files it needs: a WARN, not
    an ERROR, and never an exception, so the rest of the graph's checks still report.
    """
    rows = wh.table_rows(MARTS_SCHEMA, mart)
    if rows:
        return None
    if rows is None:
        reason = f"{MARTS_SCHEMA}.{mart} does not exist: dbt has not built it (see the dbt step's log)"
    else:
        causes = empty_inputs(wh, raw_inputs_of(mart), provider, instance)
        reason = f"{MARTS_SCHEMA}.{mart} is empty: " + (
            "; ".join(causes) if causes else "its raw inputs have rows, so the model filtered everything out"
        )
    return AssetCheckResult(
        passed=False, severity=AssetCheckSeverity.WARN, description=reason,
        metadata={**(metadata or {}), "reason": reason, "rows": 0},
    )


def rows_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], total: int | None = None) -> MetadataValue:
    """Markdown table of the first MAX_LISTED rows, saying how many more there are."""
    total = len(rows) if total is None else total
    if not rows:
        return MetadataValue.md("none")
    lines = [markdown.table(columns, rows[:MAX_LISTED])]
    if total > min(len(rows), MAX_LISTED):
        lines.append(f"\n... and {total - min(len(rows), MAX_LISTED)} more ({total} in all)")
    return MetadataValue.md("\n".join(lines))


def jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
