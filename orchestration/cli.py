"""Entry points behind the make targets: materialise the whole graph over the right date range.

The terminal gets one line per asset step as it finishes (read from the run's event log while the run
goes on), warnings, failures, and at the end the headline report; dbt's output and every event go to
a log file whose path is printed.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import sys
import tempfile
import textwrap
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

import duckdb
from dagster import BetaWarning, DagsterEventType, DagsterInstance, PreviewWarning

from assets.schedules.jobs import MATERIALIZE_ALL_JOB
from orchestration import dagster_env, preflight, provenance
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG
from orchestration.release import status_lines
from orchestration.resources import build_provider, build_warehouse
from orchestration.resources.providers import ProviderError, SourceUnreachableError
from orchestration.resources.warehouse import WarehouseLockedError
from orchestration.settings import PROJECT_ROOT, Settings, get_settings

# workspace.yaml's location name: with this tag (.dagster/repository) the UI lists CLI runs under the job,
# as its own runs.
REPOSITORY_LABEL = "__repository__@china_tech_rally"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SKIPPED = re.compile(r"Dependencies for step \S+ (failed|were not executed).*Not executing\.$", re.DOTALL)
# Dagster notices about its own APIs (backfill_policy, pools, `dagster dev`) are for developers, not for
# someone running the demo or the UI. The UI's processes are separate interpreters: they get the same
# filters through PYTHONWARNINGS, which can only match a message's start (their categories are not
# importable at interpreter start).
QUIET_WARNINGS = (
    "ignore:Parameter `backfill_policy` of function",
    "ignore:Parameter `pool` of function",
    "ignore:Function `dev_command` is superseded",
)


def writable(*folders: tuple[str, Path]) -> None:
    """The folders a run writes, checked before it starts: a read-only one is one line, not a traceback
    from whichever write meets it first."""
    for what, folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise preflight.ConfigurationError(
                f"{what} {folder} is not writable ({exc.strerror}); a run writes there. Make it writable,"
                " or point DAGSTER_HOME / DUCKDB_DATABASE elsewhere."
            ) from exc


def dagster_home() -> Path:
    return Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME as the make targets set it, so `python -m orchestration.cli` works on its own too."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


class LogFile(io.TextIOBase):
    """The run's full log: dbt's output (which dagster-dbt writes to sys.stdout) and every event."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._file.write(ANSI.sub("", text))
            self._file.flush()
        return len(text)

    def close(self) -> None:
        with self._lock:
            self._file.close()
        super().close()


@contextmanager
def stdout_to(log: LogFile) -> Iterator[None]:
    saved = sys.stdout
    sys.stdout = log
    try:
        yield
    finally:
        sys.stdout = saved


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM as Ctrl-C for the block: Dagster ends an interrupted run properly (its steps stopped and
    dbt with them, the run marked failed, the lease released), where SIGTERM's default ends the process
    with the run left STARTED."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def step_label(step_key: str) -> str:
    return "dbt build" if step_key == "warehouse_dbt_models" else step_key.replace("__", "/")


def reason(error) -> str:
    """What went wrong, from a failure's error info: Dagster wraps the step's own exception in its own
    ("Error occurred while executing op ..."), which says where but not why."""
    while error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    if error.cls_name in ("DagsterExecutionInterruptedError", "KeyboardInterrupt"):
        return "interrupted (Ctrl-C or SIGTERM)"
    # "package.module.SomeError: text" -> "SomeError: text"
    return re.sub(r"^[\w.]+\.(\w+): ", r"\1: ", error.message.strip()) or error.cls_name


def _metadata_value(metadata: dict, key: str):
    value = metadata.get(key)
    return getattr(value, "value", value)


class Progress(threading.Thread):
    """Follows the run's event log while the run executes in the main thread, and reports as it goes."""

    def __init__(self, instance: DagsterInstance, run_id: str, out: TextIO, log: LogFile):
        super().__init__(daemon=True, name="progress")
        self.instance, self.run_id, self.out, self.log = instance, run_id, out, log
        self.cursor: str | None = None
        self.done = threading.Event()
        self.rows: dict[str, dict[str, int]] = {}  # step -> asset -> rows
        self.assets: dict[str, set[str]] = {}
        self.checks: dict[str, list] = {}  # step -> evaluations
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.poll()
        self.poll()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=30)

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)
        self.log.write(line + "\n")

    def poll(self) -> None:
        try:
            while True:
                connection = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, limit=500)
                for record in connection.records:
                    self.handle(record.event_log_entry)
                self.cursor = connection.cursor
                if not connection.has_more:
                    return
        except Exception as exc:  # noqa: BLE001 - a progress line is never worth failing the run for
            self.log.write(f"progress: could not read the event log: {exc!r}\n")

    def handle(self, entry) -> None:
        stamp = datetime.fromtimestamp(entry.timestamp).strftime("%H:%M:%S")
        level = entry.level if isinstance(entry.level, int) else 20
        self.log.write(f"{stamp} {entry.step_key or '-'} {entry.user_message or entry.message}\n")
        event = entry.dagster_event
        step = entry.step_key or ""
        if event is None:
            # Each step skipped after a failure (a dbt test, a held-back publication) says so at error
            # level; the failure itself is on the terminal already, the skips stay in the log file.
            if SKIPPED.match(entry.user_message or ""):
                return
            if level >= 30:  # context.log.warning / error in an asset
                self.say(f"  {'warning' if level < 40 else 'error'} ({step_label(step) or 'run'}): {entry.user_message}")
            return
        kind = event.event_type
        if kind == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            asset = materialization.asset_key.to_user_string()
            metadata = materialization.metadata
            rows = _metadata_value(metadata, "rows_written")
            if rows is None:
                rows = _metadata_value(metadata, "dagster/row_count")
            self.assets.setdefault(step, set()).add(asset)
            # A ranged raw load reports the same rows on every partition's event: count them once.
            if isinstance(rows, int):
                self.rows.setdefault(step, {})[asset] = rows
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            self.checks.setdefault(step, []).append(event.event_specific_data)
        elif kind == DagsterEventType.STEP_SUCCESS and step in self.assets:
            self.say(self.step_line(step, event.event_specific_data.duration_ms / 1000))
        elif kind in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE):
            error = getattr(event.event_specific_data, "error", None)
            if kind == DagsterEventType.RUN_FAILURE and (error is None or self.failures):
                return  # a run that failed in a step: the step's line said why
            why = reason(error) if error else (event.message or "(no message)")
            self.failures.append(why)
            self.log.write(f"{error.to_string() if error else why}\n")
            if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
                return  # a failed audit: its own line ("Publication held back: ...") said what and why
            first = why.splitlines()[0]
            where = step_label(step) if kind == DagsterEventType.STEP_FAILURE else "run"
            self.say(f"  FAILED {where}: {first[:400]}")

    def step_line(self, step: str, seconds: float) -> str:
        assets = self.assets.get(step, set())
        rows = self.rows.get(step, {})
        if step == "warehouse_dbt_models":
            evaluations = self.checks.get(step, [])
            passed = sum(1 for c in evaluations if c.passed)
            what = f"{len(assets)} models and seeds, {passed} of {len(evaluations)} tests passed"
        elif rows:
            what = f"{sum(rows.values()):,} rows"
        else:
            what = f"{len(assets)} asset{'s' if len(assets) != 1 else ''}"
        return f"  {step_label(step):<28} {what:<46} {seconds:6.1f}s"


def materialize_range(settings: Settings, start: date, end: date, out: TextIO = sys.stdout) -> bool:
    # Here, not at the top: loading the definitions imports dagster-dbt and the whole graph (seconds),
    # which `make headline` and `make ui` never need.
    from orchestration.definitions import build_definitions

    instance = DagsterInstance.get()
    locked = build_warehouse(settings).locked_by_another_process()
    if locked:
        print(locked, file=out, flush=True)
        print("No run was started; the warehouse is as the last run left it.", file=out, flush=True)
        return False

    defs = build_definitions(settings)
    job = defs.resolve_job_def(MATERIALIZE_ALL_JOB)
    keys = job.partitions_def.get_partition_keys()
    first, last = max(start.isoformat(), keys[0]), min(end.isoformat(), keys[-1])
    run_id = str(uuid.uuid4())
    log = LogFile(build_warehouse(settings).state_folder / "logs" / f"run-{run_id[:8]}.log")
    print(f"Materialising every asset for {first}..{last} as one run ({settings.source}); full log: {log.path}",
          file=out, flush=True)
    progress = Progress(instance, run_id, out, log)
    began = time.monotonic()
    progress.start()
    try:
        with stdout_to(log), sigterm_interrupts():
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                tags={
                    RANGE_START_TAG: first,
                    RANGE_END_TAG: last,
                    ".dagster/repository": REPOSITORY_LABEL,
                },
                # The terminal gets the progress lines above; every event is in the log file and the UI.
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                raise_on_error=False,
            )
    finally:
        progress.stop()
        log.close()
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    failed = [c for c in checks if not c.passed]
    print(f"Run {result.run_id} {'succeeded' if result.success else 'FAILED'} in {time.monotonic() - began:.0f}s;"
          f" {len(checks) - len(failed)} of {len(checks)} asset checks passed.", file=out)
    for check in failed[:15]:
        print(f"  failed ({check.severity.value}): {check.asset_check_key.to_user_string()}"
              f" {check.description or ''}".rstrip()[:300], file=out)
    if len(failed) > 15:
        print(f"  ... and {len(failed) - 15} more (see the UI or {log.path})", file=out)
    if not result.success:
        dbt_errors = [
            line.rstrip() for line in log.path.read_text(encoding="utf-8").splitlines()
            if re.search(r"\b(ERROR|FAIL)\b|Failure in|Error in|Compilation Error|Runtime Error", line)
        ]
        for line in dbt_errors[:12]:
            print(f"  {line[:300]}", file=out)
        print(f"Full log (dbt's output and every event): {log.path}", file=out)
    out.flush()
    return result.success


def print_summary(settings: Settings, out: TextIO = sys.stdout) -> None:
    warehouse = build_warehouse(settings)
    print(f"\nWarehouse: {warehouse.location}", file=out)
    try:
        # The warehouse itself: the published copy holds the marts only. A writer holding it (another
        # run, a notebook) leaves the copy to count from.
        with ExitStack() as stack:
            try:
                wh = stack.enter_context(warehouse.session(read_only=True))
            except WarehouseLockedError:
                wh = stack.enter_context(warehouse.reader_session())
            for schema in ("raw", "marts"):
                counts = ", ".join(f"{t} {wh.table_rows(schema, t):,}" for t in wh.tables(schema)) or "no tables"
                print(textwrap.fill(f"{schema}: {counts}", width=100, initial_indent="  ",
                                    subsequent_indent="    "), file=out)
    except (duckdb.Error, OSError) as exc:
        print(f"  (cannot read {warehouse.reader_location}: {str(exc).splitlines()[0]})", file=out)
    print(f"Query this, read-only: {warehouse.reader_hint}", file=out)
    print(f"Headline report: {settings.reports_folder / 'headline.md'}   Browse it all: make ui, then http://127.0.0.1:3000",
          file=out)


def print_headline(settings: Settings, out: TextIO = sys.stdout) -> bool:
    warehouse = build_warehouse(settings)
    # Which run the figures come from, and whether the audits held a newer one back.
    status = status_lines(warehouse)
    if status:
        print(file=out)
    for line in status:
        print(line, file=out)
    published = warehouse.published_path
    if published is not None and not published.exists() and any(line.startswith("Held back") for line in status):
        return False  # the warehouse's own figures were refused: nothing to show as the headline
    try:
        with warehouse.reader_session() as wh:
            rows = wh.rows("select as_of_date, data_label, headline from marts.rpt_headline order by line")
    except (duckdb.Error, OSError) as exc:
        print(f"No headline report in {warehouse.reader_location} ({str(exc).splitlines()[0]});"
              " run `make demo` first.", file=out)
        return False
    if not rows:
        print(f"marts.rpt_headline in {warehouse.reader_location} is empty.", file=out)
        return False
    as_of, label = rows[0][0], rows[0][1]
    if not status:  # the status lines, when there are any, already opened the block with a blank line
        print(file=out)
    print(f"Headline as of {as_of}{f' ({label})' if label else ''}:", file=out)
    for _, _, line in rows:
        print(f"  {line}", file=out)
    return True


def build_all(settings: Settings) -> int:
    """Every asset, from CTR_START_DATE to the snapshot folder's last date (`make demo`) or to today from
    the live sources (`make run`); then what was built and the headline."""
    preflight.check(settings)
    writable(("the warehouse folder", build_warehouse(settings).state_folder))
    provider = build_provider(settings)
    if settings.source == "live":
        try:
            provider.check_reachable()
        except SourceUnreachableError as exc:
            print(f"{exc}", file=sys.stderr)
            return 3
    provenance.claim(settings)
    span = (None, date.today()) if settings.source == "live" else provider.date_range()
    if span is None:
        print(f"{settings.snapshot_dir} holds no snapshot files; see docs/warehouse.md.", file=sys.stderr)
        return 2
    ok = materialize_range(settings, settings.start_date, span[1])
    print_summary(settings)
    print_headline(settings)
    return 0 if ok else 1


def ui(host: str, port: str) -> int:
    """Replace this process with `dagster dev`, set up to stop on SIGTERM and to log no false alarms."""
    home = ensure_dagster_home()
    env = dict(os.environ)
    # From DAGSTER_HOME, `dagster dev` does not warn that the project's dagster.yaml "will not be used"
    # (make copies it into DAGSTER_HOME: it is used); the code location is then found on PYTHONPATH.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONWARNINGS"] = ",".join(p for p in (env.get("PYTHONWARNINGS"), *QUIET_WARNINGS) if p)
    # Started in the background (make from a script, nohup, a test) SIGINT arrives ignored, and
    # `dagster dev` maps SIGTERM onto SIGINT's handler: it would ignore both. Ignored signals survive
    # exec, default ones become Python's KeyboardInterrupt, which `dagster dev` shuts down on.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.chdir(home)
    dagster = str(Path(sys.executable).parent / "dagster")
    args = [dagster, "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", host, "-p", port]
    sys.stdout.flush()
    os.execve(dagster, args, env)
    return 1  # not reached


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)
    parser = argparse.ArgumentParser(prog="python -m orchestration.cli")
    parser.add_argument("command", choices=["demo", "run", "summary", "headline", "ui"])
    parser.add_argument("--host", default="127.0.0.1", help="ui: address to bind")
    parser.add_argument("--port", default="3000", help="ui: port")
    args = parser.parse_args(argv)
    # The UI's webserver and daemon, and the runs this process creates, see the project's Dagster settings.
    dagster_env.use()
    if args.command == "ui":
        return ui(args.host, args.port)
    # dbt's colours would land in the log file as escape codes.
    os.environ.setdefault("DBT_USE_COLORS", "false")
    settings = get_settings()
    try:
        if args.command in ("demo", "run"):
            writable(("DAGSTER_HOME", dagster_home()))
        ensure_dagster_home()
        if args.command == "summary":
            print_summary(settings)
            return 0
        if args.command == "headline":
            return 0 if print_headline(settings) else 1
        if args.command == "run":
            return build_all(settings.model_copy(update={"source": "live"}))
        if settings.source != "snapshot":
            print("`make demo` reads a snapshot folder; set CTR_SOURCE=snapshot or use `make run`.", file=sys.stderr)
            return 2
        return build_all(settings)
    except preflight.ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ProviderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
