"""The asset `published/warehouse`: the read-only copy for analysts, last in the graph.

What the copy is and how it is replaced atomically: `assets/publication.py`, which also makes the steps
before this one publish when a run does not select it (a UI run of only the report, say).
"""
# No `from __future__ import annotations`: Dagster inspects the context annotation at decoration time.

from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.checks.plausibility import AUDITED_ASSETS
from assets.publication import PUBLISHED_KEY
from assets.report import REPORT_KEY
from orchestration.resources.warehouse import Warehouse

PUBLISHED_GROUP = "published"


@asset(
    key=PUBLISHED_KEY,
    # Every mart is upstream of the rendered report, so after it this is last in the graph. The audited
    # marts are direct dependencies too: Dagster skips this step when one of their blocking checks (the
    # plausibility audits, the dbt tests at severity error) fails, so the last good copy stays.
    deps=[REPORT_KEY, *AUDITED_ASSETS],
    group_name=PUBLISHED_GROUP,
    kinds={"duckdb"},
    # Part of the same single run as a raw backfill over a partition range (see assets/dbt/).
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "A read-only copy of the whole warehouse for analysts and BI tools, replaced atomically once the"
        " marts and the report are built: query it while a run writes, without locks. Path:"
        " `<warehouse folder>/published/<warehouse file name>` (default"
        " `warehouse/published/china_tech_rally.duckdb`); open it read-only. A run that leaves this asset out"
        " (some marts or the report alone, from the UI) publishes from its last step that wrote the warehouse."
        " Held back, with the previous copy left in place, when a blocking audit of the run fails"
        " (docs/data-quality.md)."
    ),
)
def publish_warehouse(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    counts = warehouse.publish(run_id=context.run.run_id)
    target = warehouse.published_path
    context.log.info(f"Published {target or warehouse.location} ({len(counts)} marts) from run {context.run.run_id}")
    metadata = {"published_at": MetadataValue.text(datetime.now(UTC).isoformat(timespec="seconds")),
                "mart_rows": MetadataValue.json(counts)}
    if target is None:
        # A lake is read in place, at its latest snapshot: publishing copies nothing (docs/scale-out.md).
        return MaterializeResult(metadata={**metadata, "location": MetadataValue.text(warehouse.location)})
    return MaterializeResult(metadata={
        **metadata,
        "path": MetadataValue.path(str(target)),
        "size_mb": MetadataValue.float(round(target.stat().st_size / 1e6, 2)),
        "open_with": MetadataValue.md(
            f"```\nduckdb -readonly {target}\n```\n\n"
            f"```python\nimport duckdb\nconn = duckdb.connect({str(target)!r}, read_only=True)\n```"
        ),
    })


# Where the copy goes is the warehouse's business (Warehouse.published_path): no resource of its own, and
# the asset is defined at module scope, where the defs folder finds it.
