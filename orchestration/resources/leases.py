"""Which run is writing the warehouse, known from the operating system rather than from bookkeeping.

Every run holds a lease for as long as its process lives: an exclusive `flock` on a file in the
warehouse's `leases/` folder, the file holding the run's id, pid and host. The kernel drops a flock
when its process ends, however it ends (SIGKILL, OOM, a container gone), and never while it lives.
So a lease file that can be locked but still names a run means exactly one thing: that run's process
died before the run ended. No pid is compared, no hostname trusted and no start time guessed: a run
whose worker starts late has no lease yet and is never mistaken for a dead one.

- A DuckDB file takes one writer process, so every run of it shares one lease: a second run waits a
  bounded time for it, then fails in one line naming the holder.
- A lake takes many writers: each run has a lease of its own, never contended, only watched.

Who marks a dead holder's run failed: the next run that takes the lease, and under the daemon the
`abandoned_runs` sensor (assets/schedules/) every 30 seconds. flock works on local file
systems and on NFSv4; workers on several machines must share the warehouse's folder for a file
warehouse anyway.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from dagster import DagsterInstance


@dataclass(frozen=True)
class Holder:
    run_id: str
    pid: int
    host: str
    since: str  # ISO timestamp, UTC

    @classmethod
    def this_process(cls, run_id: str) -> Holder:
        return cls(run_id, os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat(timespec="seconds"))

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.since})"


class LeaseTimeout(RuntimeError):
    """Another live run held the lease for longer than this run would wait."""


def _read(handle) -> Holder | None:
    handle.seek(0)
    text = handle.read().strip()
    if not text:
        return None
    try:
        return Holder(**json.loads(text))
    except (ValueError, TypeError):
        return None  # a record torn by a crash mid-write names no one


def _write(handle, holder: Holder | None) -> None:
    handle.seek(0)
    handle.truncate()
    if holder is not None:
        handle.write(json.dumps(asdict(holder)))
    handle.flush()
    os.fsync(handle.fileno())


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def current_holder(path: Path) -> Holder | None:
    """Who holds the lease now (None when it is free); read without taking it."""
    try:
        with path.open("r+") as handle:
            if _try_lock(handle):
                fcntl.flock(handle, fcntl.LOCK_UN)
                return None
            return _read(handle)
    except FileNotFoundError:
        return None


@contextmanager
def hold(
    path: Path, run_id: str, wait_seconds: float, on_wait: Callable[[Holder | None], None] | None = None
) -> Iterator[Holder | None]:
    """Hold the lease at `path` for the block, waiting up to `wait_seconds` for a live holder (told to
    `on_wait` once, when the wait begins).

    Yields the holder a previous process left behind when it died holding the lease (None after a
    clean release): the caller decides what to do about its run. The wait is plain sleeps, so
    SIGINT and SIGTERM end it at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        deadline = time.monotonic() + wait_seconds
        waiting = False
        while not _try_lock(handle):
            if not waiting and on_wait is not None:
                on_wait(_read(handle))
            waiting = True
            if time.monotonic() >= deadline:
                holder = _read(handle)
                who = holder.describe() if holder else "another process"
                raise LeaseTimeout(
                    f"{who} is writing this warehouse; waited {wait_seconds:.0f}s for it to end"
                    " (CTR_LOCK_WAIT_SECONDS). Run again when it has finished."
                )
            time.sleep(0.5)
        try:
            left_behind = _read(handle)
            _write(handle, Holder.this_process(run_id))
            yield left_behind
        finally:
            # Cleared before the lock goes: a record only outlives its lock when its process died.
            _write(handle, None)
            fcntl.flock(handle, fcntl.LOCK_UN)
    if path.name.startswith(RUN_LEASE_PREFIX):
        path.unlink(missing_ok=True)


RUN_LEASE_PREFIX = "run-"


def abandoned(folder: Path) -> list[tuple[Path, Holder]]:
    """The leases in `folder` that no process holds but that still name a run: their runs died."""
    found = []
    for path in sorted(folder.glob("*.lock")):
        try:
            with path.open("r+") as handle:
                if not _try_lock(handle):
                    continue
                try:
                    holder = _read(handle)
                    if holder is not None:
                        found.append((path, holder))
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        except FileNotFoundError:
            continue
    return found


def fail_dead_run(instance: DagsterInstance, holder: Holder, noticed_by: str) -> str | None:
    """Mark the run of a lease whose process died failed, if the instance still has it unfinished.
    Returns the line said about it (None when there was nothing to do)."""
    run = instance.get_run_by_id(holder.run_id)
    if run is None or run.is_finished:
        return None
    message = (
        f"The process of this run (pid {holder.pid} on {holder.host}) ended while the run was writing the"
        f" warehouse: its lease was released without the run finishing. Marked failed by {noticed_by}."
    )
    instance.report_run_failed(run, message)
    return f"Run {holder.run_id} died while writing the warehouse (pid {holder.pid} on {holder.host}): marked failed."


def fail_abandoned(instance: DagsterInstance, folder: Path, noticed_by: str) -> list[str]:
    """Fail the runs of every abandoned lease in `folder` and clear those leases."""
    lines = []
    for path, holder in abandoned(folder):
        line = fail_dead_run(instance, holder, noticed_by)
        if line:
            lines.append(line)
        try:
            with path.open("r+") as handle:
                if _try_lock(handle):
                    if _read(handle) == holder:
                        _write(handle, None)
                    fcntl.flock(handle, fcntl.LOCK_UN)
        except FileNotFoundError:
            continue
        if path.name.startswith(RUN_LEASE_PREFIX):
            path.unlink(missing_ok=True)
    return lines
