"""A real PostgreSQL for the DuckLake tests: the cluster of `make postgres` (scripts/postgres.sh), started
here when it is not up yet. Without it (no PostgreSQL server, not root) the tests skip locally and fail in
CI (CI=true), where .ci/run starts it."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from orchestration.settings import PROJECT_ROOT

PG_HOST = "127.0.0.1"
PG_PORT = int(os.environ.get("CTR_PG_PORT", "54329"))
PG_USER = "ctr"


def _listening() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is needed in CI: {reason}")
    pytest.skip(f"no PostgreSQL for the DuckLake tests: {reason}")


@pytest.fixture(scope="session")
def postgres() -> str:
    """The libpq connection string of the server (without a database)."""
    if not _listening():
        script = PROJECT_ROOT / "scripts" / "postgres.sh"
        done = subprocess.run(
            ["bash", str(script), "start"], check=False, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0 or not _listening():
            _unavailable(f"`scripts/postgres.sh start` failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER}"


@contextmanager
def scratch_database(postgres: str, prefix: str) -> Iterator[str]:
    """A new, empty database, dropped afterwards (with whatever sessions are still on it)."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(f"{postgres} dbname=postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"create database {name}")
        yield name
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists {name} with (force)")
    finally:
        admin.close()
