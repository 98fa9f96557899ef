"""Runs whose process died (SIGKILL, OOM, a closed laptop) and a warehouse locked by another process.

A run executed in process (`make demo`, `make run`) is its own run worker: when that process dies, no
one reports the run's end, so it stays STARTED in the instance and keeps the `duckdb_warehouse` pool
slot its step had claimed; the next run then waits for that slot forever. Dagster's run monitoring
(dagster.yaml) cannot see it: the default run launcher has no worker health check and did not launch
it. So every CLI run records its pid and host as tags, and starts by failing the runs whose process is
gone and freeing their slots.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.events import DagsterEventType

PID_TAG = "ctr/pid"
HOST_TAG = "ctr/host"
UNFINISHED = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def worker_tags() -> dict[str, str]:
    """Tags naming the process that runs a run in process."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


@dataclass(frozen=True)
class Recovered:
    run_id: str
    pid: int | None
    why: str
    slots_freed: int

    def line(self) -> str:
        slots = f"freed {self.slots_freed} pool slot{'s' if self.slots_freed != 1 else ''}"
        if self.pid is None:
            return f"Recovered run {self.run_id} ({self.why}): {slots}"
        return f"Recovered run {self.run_id} (pid {self.pid} is gone): marked FAILED, {slots}"


def _process_start_time(pid: int) -> float | None:
    """Epoch seconds the process started (Linux /proc), to tell a reused pid from the run's own."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat: starttime, in clock ticks since boot
        boot = next(
            float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def process_alive(pid: int, started_after: float | None = None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    if started_after is not None:
        began = _process_start_time(pid)
        # A process that began after the run did is not the run's: the pid was reused (a container
        # restart starts pids again from 1).
        if began is not None and began > started_after + 2:
            return False
    return True


def _launched_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The run worker's pid the default run launcher logs (a run launched from the UI)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=20).records
    for record in records:
        event = record.event_log_entry.dagster_event
        metadata = getattr(event.event_specific_data, "metadata", None) or {}
        pid = metadata.get("pid")
        if pid is not None:
            try:
                return int(getattr(pid, "value", pid))
            except (TypeError, ValueError):
                continue
    return None


def slots_by_run(instance: DagsterInstance) -> dict[str, int]:
    """Pool slots claimed, per run id, across every pool."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    held: dict[str, int] = {}
    for pool in storage.get_concurrency_keys():
        for slot in storage.get_concurrency_info(pool).claimed_slots:
            held[slot.run_id] = held.get(slot.run_id, 0) + 1
    return held


def _free(instance: DagsterInstance, run_id: str) -> int:
    held = slots_by_run(instance).get(run_id, 0)
    if instance.event_log_storage.supports_global_concurrency_limits:
        # Also drops the run's pending claims, and hands the slot to the next pending step.
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return held


def recover_dead_runs(instance: DagsterInstance) -> list[Recovered]:
    """Fail unfinished runs whose process on this host is gone, and free every slot a finished run holds."""
    host = socket.gethostname()
    recovered: list[Recovered] = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        if run.tags.get(HOST_TAG, host) != host:
            continue  # another machine's process: not ours to judge
        pid_tag = run.tags.get(PID_TAG)
        pid = int(pid_tag) if pid_tag and pid_tag.isdigit() else _launched_pid(instance, run.run_id)
        if pid is None or process_alive(pid, started_after=record.start_time or record.create_timestamp.timestamp()):
            continue
        instance.report_run_failed(
            run, f"The process running this run (pid {pid} on {host}) is gone; marked failed by the next CLI run."
        )
        recovered.append(Recovered(run.run_id, pid, "process gone", _free(instance, run.run_id)))
    # Slots a finished run still holds (its end was reported without freeing them, e.g. from the UI).
    for run_id in slots_by_run(instance):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            why = "deleted run" if run is None else f"run already {run.status.value}"
            recovered.append(Recovered(run_id, None, why, _free(instance, run_id)))
    return recovered


def slot_holders(instance: DagsterInstance) -> list[str]:
    """Who holds the pool slots now, for a line saying what a waiting run waits for."""
    lines = []
    for run_id, count in slots_by_run(instance).items():
        run = instance.get_run_by_id(run_id)
        pid = run.tags.get(PID_TAG) if run else None
        lines.append(f"run {run_id}" + (f" (pid {pid})" if pid else "") + f" holds {count} pool slot(s)")
    return lines


LOCK_ERROR = re.compile(r'Could not set lock on file "(?P<file>[^"]+)"(?:.*?\(PID (?P<pid>\d+)\))?', re.DOTALL)


def lock_message(error_text: str, published: Path) -> str | None:
    """One line for DuckDB's "Could not set lock" error, naming the file, the holder and what to do."""
    match = LOCK_ERROR.search(error_text)
    if not match:
        return None
    holder = f"process {match['pid']}" if match["pid"] else "another process"
    return (
        f"The warehouse {match['file']} is locked by {holder}, so this run cannot write it. Close that"
        f" process (a DuckDB shell or notebook holding the file), or query the published copy {published}"
        " instead, which never takes the warehouse's lock; then run again."
    )


def warehouse_lock_error(database: Path) -> str | None:
    """DuckDB's error text when another process holds the warehouse file, else None (checked before a run)."""
    import duckdb

    if not database.exists():
        return None
    try:
        duckdb.connect(str(database)).close()
    except duckdb.IOException as exc:
        return str(exc) if "lock" in str(exc).lower() else None
    return None
