"""Publishing the warehouse: the read-only copy analysts query, and which step of a run makes it.

DuckDB allows one writer process, and a reader of the live file either blocks the run or fails on its
lock. Readers open the published copy instead (`<warehouse folder>/published/<warehouse file name>`,
by default `warehouse/published/china_tech_rally.duckdb`), made by the Warehouse port's `publish`
(orchestration/resources/warehouse.py: how the copy is replaced atomically).

Every run that writes the marts leaves the copy in step, whatever it selected: the last step of the
run that writes (the dbt models or the `published/warehouse` asset itself) publishes, and
the earlier ones leave it to that step, so a full run copies the file once. This lives in the steps
rather than in a hook or a sensor because a run launched from the UI with a partial selection (only
some marts, say) runs the implicit asset job, which carries no hooks, and nothing may need a daemon.
Kept apart from `assets/publish/` so that the writing assets can use it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetExecutionContext, AssetKey

from assets.checks.plausibility import evaluate_all
from orchestration.partitions import window_start_of
from orchestration.resources.warehouse import Warehouse

PUBLISHED_KEY = AssetKey(["published", "warehouse"])


def runs_later(context: AssetExecutionContext, key: AssetKey) -> bool:
    """Whether this run still has a step materialising `key`: the asset is in the run's selection and
    its step is among those executed (a re-execution from failure runs a subset of the steps)."""
    layer = context.job_def.asset_layer
    if key not in layer.selected_asset_keys:
        return False
    steps = context.run.step_keys_to_execute
    return steps is None or str(layer.get_op_output_handle(key).node_handle) in steps


def publish_unless_a_later_step_does(
    context: AssetExecutionContext, warehouse: Warehouse, later: Iterable[AssetKey]
) -> str:
    """At the end of a step that wrote the warehouse: publish, unless one of the `later` assets (those
    downstream of this step that also publish) runs later in this run. Returns what happened, for the
    step's metadata. If that later step fails, nothing is published: a failed run leaves the previous
    copy, as a full run always has.

    The audits that hold the `published/warehouse` asset back (its blocking checks, which this run may
    not include) are evaluated here first, the same SQL over the same window: a failed one holds this
    publication back too."""
    for key in later:
        if runs_later(context, key):
            message = f"left to {key.to_user_string()}, later in this run"
            context.log.info(f"Publication {message}")
            return message
    failed = [o for o in evaluate_all(warehouse, window_start_of(context.run.tags), context.run.run_id)
              if not o.passed]
    if failed:
        for outcome in failed:
            context.log.error(f"Publication held back: {outcome.line()}")
        return f"held back by {', '.join(o.audit.name for o in failed)}"
    counts = warehouse.publish(run_id=context.run.run_id)
    target = warehouse.published_path or warehouse.location
    context.log.info(f"Published {target} ({len(counts)} marts)")
    return f"published to {target}"

