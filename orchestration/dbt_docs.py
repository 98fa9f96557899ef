"""`make docs`: dbt's documentation site for the project, from the manifest the runs use.

    python -m orchestration.dbt_docs generate       # target/manifest.json + catalog.json + index.html
    python -m orchestration.dbt_docs serve [--port 8080] [--host 127.0.0.1]   # generate, then serve

With the settings' environment (the warehouse file, the dbt target), as every run has, so the parse is
the runs' own and the catalog (column types, row counts) is read from the same warehouse. Generating
the catalog opens the warehouse: between runs, or it waits for the run's lock as a run would.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from orchestration.resources import build_warehouse
from orchestration.settings import DBT_PROJECT_DIR, get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.dbt_docs")
    parser.add_argument("command", choices=["generate", "serve"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8080")
    args = parser.parse_args(argv)
    settings = get_settings()
    dbt = str(Path(sys.executable).parent / "dbt")
    warehouse = build_warehouse(settings)
    env = {**os.environ, **warehouse.dbt_env()}
    common = ["--profiles-dir", ".", "--target", warehouse.dbt_target]
    generated = subprocess.run([dbt, "docs", "generate", *common], cwd=DBT_PROJECT_DIR, env=env, check=False)
    if generated.returncode or args.command == "generate":
        return generated.returncode
    sys.stdout.flush()
    os.chdir(DBT_PROJECT_DIR)
    os.execve(dbt, [dbt, "docs", "serve", *common, "--host", args.host, "--port", args.port, "--no-browser"], env)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
