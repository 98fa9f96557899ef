"""The composition root: builds the one Warehouse and the provider from the Settings
(orchestration/composition.py), and loads the definitions from the defs folder (`assets/`,
`[tool.dg.project]` in pyproject.toml) with them.

| concern   | contributes                                                         | defs folder         |
|-----------|---------------------------------------------------------------------|---------------------|
| raw       | the five daily-partitioned raw assets                               | assets/raw/         |
| dbt       | every dbt model, seed and test; the dbt resource; the exchange sessions dbt reads | assets/dbt/ |
| checks    | the Python asset checks and their clock                             | assets/checks/      |
| report    | reports/headline (renders marts/rpt_headline) and where its files go | assets/report/     |
| publish   | published/warehouse, the audited copy for analysts                  | assets/publish/     |
| schedules | the jobs, the two market-close schedules, the abandoned-runs sensor | assets/schedules/   |
| resources | the provider and the warehouse, chosen by the settings              | here                |

`dg scaffold defs ...` adds to the defs folder; `dg list defs` and `dg check defs` load this module.
"""

from __future__ import annotations

import warnings

from dagster import Definitions, PreviewWarning, in_process_executor, load_from_defs_folder

from assets.checks.freshness import with_mart_freshness_policy
from orchestration import dagster_env, preflight
from orchestration.composition import Composition, composing
from orchestration.settings import PROJECT_ROOT, Settings, get_settings


def build_definitions(settings: Settings) -> Definitions:
    # A broken seed or snapshot path stops the code location from loading, naming the problem, rather
    # than failing a run minutes later.
    preflight.check(settings)
    composition = Composition.of(settings)
    resources = Definitions(
        resources={"provider": composition.provider, "warehouse": composition.warehouse},
        # DuckDB takes one writer process; the multiprocess executor would open the file from several.
        executor=in_process_executor,
    )
    # map_asset_specs is marked preview; its notice would reach every `make ui` log and CLI run.
    with composing(composition), warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        loaded = load_from_defs_folder(path_within_project=PROJECT_ROOT)
        return Definitions.merge(loaded, resources).map_asset_specs(func=with_mart_freshness_policy)


__all__ = ["build_definitions", "defs"]

# Before the first run is created in this process (orchestration/dagster_env.py says why).
dagster_env.use()

defs = build_definitions(get_settings())
