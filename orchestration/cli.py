"""Entry points behind the make targets: materialise the whole graph over the right date range."""

from __future__ import annotations

import argparse
import sys
import warnings
from datetime import date

import duckdb
from dagster import BetaWarning, DagsterInstance, PreviewWarning
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from orchestration.jobs import MATERIALIZE_ALL_JOB
from orchestration.resources.providers import ProviderError, SourceUnreachableError
from orchestration.settings import Settings, get_settings


def materialize_range(settings: Settings, start: date, end: date) -> bool:
    from orchestration.definitions import build_definitions

    defs = build_definitions(settings)
    partitions_def = defs.resolve_job_def(MATERIALIZE_ALL_JOB).partitions_def
    keys = partitions_def.get_partition_keys()
    first, last = max(start.isoformat(), keys[0]), min(end.isoformat(), keys[-1])
    print(f"Materialising every asset for {first}..{last} as one run ({settings.source}).", flush=True)
    result = defs.resolve_job_def(MATERIALIZE_ALL_JOB).execute_in_process(
        instance=DagsterInstance.get(),
        tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        raise_on_error=False,
    )
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    failed = [c for c in checks if not c.passed]
    print(f"\nRun {result.run_id}: {'succeeded' if result.success else 'FAILED'}; "
          f"{len(checks) - len(failed)} of {len(checks)} asset checks passed.")
    for check in failed:
        print(f"  failed ({check.severity.value}): {check.asset_check_key.to_user_string()}"
              f" {check.description or ''}".rstrip())
    return result.success


def print_summary(settings: Settings) -> None:
    print(f"\nWarehouse: {settings.duckdb_database}")
    with duckdb.connect(str(settings.duckdb_database), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in ('raw', 'marts') and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            count = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            print(f"  {schema}.{table:<32} {count:>10,} rows")
    from assets.publish import published_path_for
    from assets.report import default_reports_dir

    reports = settings.reports_dir or default_reports_dir(settings.duckdb_database)
    print(f"Published read-only copy (query this one): {published_path_for(settings.duckdb_database)}")
    print(f"Headline report: {reports / 'headline.md'}")
    print("Browse it all: make ui, then http://127.0.0.1:3000")


def demo(settings: Settings) -> int:
    from orchestration.definitions import build_provider

    provider = build_provider(settings)
    span = provider.date_range()
    if span is None:
        print(f"{settings.snapshot_dir} holds no snapshot files; see docs/warehouse.md.", file=sys.stderr)
        return 2
    ok = materialize_range(settings, settings.start_date, span[1])
    print_summary(settings)
    return 0 if ok else 1


def run_live(settings: Settings) -> int:
    from orchestration.definitions import build_provider

    provider = build_provider(settings)
    try:
        provider.check_reachable()
    except SourceUnreachableError as exc:
        print(f"{exc}", file=sys.stderr)
        return 3
    ok = materialize_range(settings, settings.start_date, date.today())
    print_summary(settings)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    # Beta/preview notices (backfill_policy, pools) are for developers, not for someone running a demo.
    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)
    parser = argparse.ArgumentParser(prog="python -m orchestration.cli")
    parser.add_argument("command", choices=["demo", "run", "summary"])
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        if args.command == "summary":
            print_summary(settings)
            return 0
        if args.command == "run":
            if settings.source != "live":
                settings = settings.model_copy(update={"source": "live"})
            return run_live(settings)
        if settings.source != "snapshot":
            print("`make demo` reads a snapshot folder; set CTR_SOURCE=snapshot or use `make run`.", file=sys.stderr)
            return 2
        return demo(settings)
    except ProviderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
