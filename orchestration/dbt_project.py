"""The dbt project, as dagster-dbt knows it: where its manifest is, how it is prepared, and the env dbt runs with."""

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.resources import build_warehouse
from orchestration.resources.warehouse import Warehouse
from orchestration.settings import DBT_PROJECT_DIR, get_settings

# Where the manifest is, whatever the target; the parse and the dbt resource name the warehouse's target.
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """os.environ with `values` set (None: unset) for the block: dbt is a subprocess that inherits it."""

    def apply(changes: Mapping[str, str | None]) -> None:
        for key, value in changes.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    saved = {key: os.environ.get(key) for key in values}
    apply(values)
    try:
        yield
    finally:
        apply(saved)



def prepare_manifest(warehouse: Warehouse, always: bool = False) -> None:
    """Parse the project into target/manifest.json with the same env as the runs (so their partial
    parse holds). `always`: the make targets and tests; otherwise only under `dagster dev`, which
    re-parses on every code-location load to pick up edits."""
    # The preparer runs `dbt` from PATH: the venv's, even when the venv is not activated.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=warehouse.dbt_target)
    with environment({**warehouse.dbt_env(), "PATH": path}):
        if always:
            project.preparer.prepare(project)
        else:
            project.prepare_if_dev()



if __name__ == "__main__":
    # `make setup` and a fresh clone: dagster-dbt reads target/manifest.json when the code location loads.
    prepare_manifest(build_warehouse(get_settings()), always=True)
