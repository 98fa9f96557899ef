"""Every mart of the published copy as Parquet and CSV, with a manifest, for tools that do not read DuckDB.

    python -m orchestration.export              # into <warehouse folder>/export/ (`make export`)
    python -m orchestration.export --out DIR

Reads the published copy (never the warehouse's lock), so it runs beside a run. Each table becomes
`<table>.parquet` and `<table>.csv` (header, ISO dates, empty for NULL); `manifest.json` lists every
table with its rows, columns (type and the dbt definition), files, date range and the data's source.
The files are written to a temporary folder and renamed into place, so a reader never sees half an export.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from orchestration import docs
from orchestration.resources import build_warehouse
from orchestration.settings import Settings, get_settings

MANIFEST_FILE = "manifest.json"
EXPORTED_SCHEMA = "marts"


def default_export_dir(settings: Settings) -> Path:
    return settings.duckdb_database.parent / "export"


def published_database(settings: Settings) -> Path | None:
    """The published DuckDB copy export reads; None where readers read the warehouse itself (a lake)."""
    return build_warehouse(settings).published_path


def _definitions() -> dict[str, dict[str, Any]]:
    """Per mart: its dbt node (description, columns and their definitions), from the manifest."""
    return docs.mart_nodes(json.loads(docs.MANIFEST.read_text())) if docs.MANIFEST.exists() else {}


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export(database: Path, out: Path) -> dict[str, Any]:
    """Write every mart of `database` (read-only) to `out`; returns the manifest."""
    if not database.exists():
        raise FileNotFoundError(f"{database} does not exist: run `make demo` (or `make run`) first")
    definitions = _definitions()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    tables = []
    with duckdb.connect(str(database), read_only=True) as conn:
        names = [r[0] for r in conn.execute(
            "select table_name from duckdb_tables() where schema_name = ? order by table_name", [EXPORTED_SCHEMA]
        ).fetchall()]
        label = None
        if "rpt_headline" in names:
            row = conn.execute(f"select any_value(data_label) from {EXPORTED_SCHEMA}.rpt_headline").fetchone()
            label = row[0] if row else None
        for name in names:
            relation = f"{EXPORTED_SCHEMA}.{name}"
            columns = conn.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ?"
                " order by column_index", [EXPORTED_SCHEMA, name]
            ).fetchall()
            ordered = ", ".join(f'"{c}"' for c, _ in columns)
            files = {"parquet": f"{name}.parquet", "csv": f"{name}.csv"}
            conn.execute(f"copy (select * from {relation} order by {ordered}) to {_quoted(staging / files['parquet'])}"
                         " (format parquet)")
            conn.execute(f"copy (select * from {relation} order by {ordered}) to {_quoted(staging / files['csv'])}"
                         " (format csv, header, dateformat '%Y-%m-%d')")
            rows = conn.execute(f"select count(*) from {relation}").fetchone()[0]
            dated = "trade_date" in {c for c, _ in columns}
            first, last = (conn.execute(f"select min(trade_date), max(trade_date) from {relation}").fetchone()
                           if dated else (None, None))
            described = definitions.get(name, {})
            meaning = {c: col.get("description", "") for c, col in described.get("columns", {}).items()}
            tables.append({
                "table": relation,
                "description": " ".join(described.get("description", "").split()),
                "rows": rows,
                "first_date": first.isoformat() if first else None,
                "last_date": last.isoformat() if last else None,
                "files": files,
                "columns": [{"name": c, "type": t, "description": meaning.get(c, "")} for c, t in columns],
            })
    manifest = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": str(database),
        "data_label": label,
        "tables": tables,
    }
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    previous = out.parent / f".{out.name}.old"
    shutil.rmtree(previous, ignore_errors=True)
    if out.exists():
        out.rename(previous)
    staging.rename(out)
    shutil.rmtree(previous, ignore_errors=True)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.export", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="folder to write (default: <warehouse folder>/export)")
    args = parser.parse_args(argv)
    settings = get_settings()
    published = published_database(settings)
    if published is None:
        print("export reads the published DuckDB copy; with CTR_WAREHOUSE=ducklake the lake's Parquet files"
              " are already readable by any tool (docs/scale-out.md).", file=sys.stderr)
        return 2
    out = (args.out or default_export_dir(settings)).resolve()
    try:
        manifest = export(published, out)
    except (FileNotFoundError, duckdb.Error) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    total = sum(t["rows"] for t in manifest["tables"])
    print(f"Exported {len(manifest['tables'])} tables ({total:,} rows) from {manifest['source']}"
          f" to {out} (Parquet, CSV, {MANIFEST_FILE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
