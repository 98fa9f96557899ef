"""DuckDB's extensions for the lake (ducklake, postgres_scanner), installed from the duckdb-extension-*
packages pinned with duckdb: DuckDB's own installer would download them at run time, which a machine
without internet (or CI) cannot. Read by the lake's sessions and, through the settings, by dbt."""

from __future__ import annotations

import fcntl
import importlib.util
import sys
from pathlib import Path

import duckdb

_EXTENSIONS = {"ducklake": "duckdb_extension_ducklake", "postgres_scanner": "duckdb_extension_postgres_scanner"}


def extension_directory() -> Path:
    """DuckDB's extension folder for this environment, filled from the duckdb-extension-* packages.

    Inside the environment (sys.prefix), so it goes with the packages it was made from, and dbt (run from
    the same environment) finds the same one."""
    folder = Path(sys.prefix) / "duckdb_extensions"
    platform_dir = folder / f"v{duckdb.__version__}"
    if all(next(platform_dir.glob(f"*/{name}.duckdb_extension"), None) for name in _EXTENSIONS):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    # Several run workers may start at once on a fresh environment.
    with (folder / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with duckdb.connect(config={"extension_directory": str(folder), "autoinstall_known_extensions": False}) as conn:
            for name, package in _EXTENSIONS.items():
                spec = importlib.util.find_spec(package)
                if spec is None or spec.origin is None:
                    raise RuntimeError(f"The Python package {package.replace('_', '-')} is missing: run `make setup`.")
                files = sorted(Path(spec.origin).parent.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))
                if not files:
                    raise RuntimeError(
                        f"{package.replace('_', '-')} has no {name} extension for duckdb {duckdb.__version__}:"
                        " pin both to the same version."
                    )
                conn.execute(f"install '{files[0]}'")
    return folder
