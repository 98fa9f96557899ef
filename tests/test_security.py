"""Security basics of the reliability suite (docs/reliability.md): the UI and the development PostgreSQL
listen on the loopback address unless told otherwise, no credential is tracked in the repository, and
SQL built from configuration treats ids as values (the hostile symbol's trip through the raw load and
the checks is in tests/test_reliability.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values

from orchestration import cli, dagster_env
from orchestration.settings import PROJECT_ROOT

# --- the UI binds to 127.0.0.1 unless configured --------------------------------------------------


class Execed(Exception):
    pass


@pytest.fixture
def execve(tmp_path, monkeypatch) -> list[list[str]]:
    """cli.ui up to the point where it would become `dagster dev`: the argv it would exec."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    monkeypatch.setattr(cli.os, "chdir", lambda path: None)
    seen: list[list[str]] = []

    def fake_execve(path, args, env):
        seen.append(list(args))
        raise Execed

    monkeypatch.setattr(cli.os, "execve", fake_execve)
    return seen


def _host(argv: list[str]) -> str:
    return argv[argv.index("-h") + 1]


def test_the_ui_binds_to_the_loopback_address_by_default(execve):
    with pytest.raises(Execed):
        cli.main(["ui"])
    assert _host(execve[0]) == "127.0.0.1"


def test_another_address_is_an_explicit_choice(execve):
    with pytest.raises(Execed):
        cli.main(["ui", "--host", "0.0.0.0", "--port", "3001"])
    assert _host(execve[0]) == "0.0.0.0" and execve[0][execve[0].index("-p") + 1] == "3001"


def test_make_ui_and_the_development_postgres_listen_on_loopback_only():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    recipe = re.search(r"^ui:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe and "--host 127.0.0.1" in recipe.group(1)
    assert "listen_addresses=127.0.0.1" in (PROJECT_ROOT / "scripts" / "postgres.sh").read_text()


# --- no credentials in the repository ------------------------------------------------------------

SECRET_PATTERNS = {
    "AWS access key": re.compile(r"AKIA[0-9A-Z]{16}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "API secret key": re.compile(r"\bsk-[A-Za-z0-9]{32,}"),
    "password or key literal": re.compile(
        r"(?i)\b(password|passwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token)\b\s*[=:]\s*['\"][^'\"\s]{4,}['\"]"
    ),
    "password in a connection string": re.compile(r"(?i)\bpassword=(?![*$<{])[^\s'\";]{3,}"),
    "credentials in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?![*$<{])[^/\s:@'\"]+@"),
}
SECRET_FILES = re.compile(r"(^|/)(\.env(\..*)?|id_rsa|id_ed25519|.*\.pem|.*\.p12|.*\.pfx|\.pgpass|\.netrc)$")


def _tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [f for f in out.decode().split("\0") if f]


def test_no_credentials_are_tracked():
    files = _tracked_files()
    assert files
    # The project's .env is tracked on purpose: Dagster's two opt-in settings (orchestration/dagster_env.py).
    found = [f"{f}: a credentials file" for f in files if SECRET_FILES.search(f) and f != ".env"]
    unexpected = set(dotenv_values(dagster_env.ENV_FILE)) - set(dagster_env.SETTINGS)
    found += [f".env: {key} is not one of Dagster's settings it is for" for key in sorted(unexpected)]
    this_file = Path(__file__).resolve().relative_to(PROJECT_ROOT).as_posix()
    for name in files:
        path = PROJECT_ROOT / name
        if name == this_file or not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images and other binaries
        for number, line in enumerate(text.splitlines(), start=1):
            found += [f"{name}:{number}: {kind}" for kind, rx in SECRET_PATTERNS.items() if rx.search(line)]
    assert found == []


def test_the_credential_patterns_would_catch_the_usual_leaks():
    leaks = [
        "aws_key = 'AKIAABCDEFGHIJKLMNOP'",
        'PASSWORD = "hunter22"',
        "postgres:dbname=ctr host=db user=ctr password=s3cret",
        "postgresql://ctr:s3cret@db.example.com/ctr",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    ]
    for leak in leaks:
        assert any(rx.search(leak) for rx in SECRET_PATTERNS.values()), leak
    # What the project itself writes: a masked catalog, an env reference, a trusted local role.
    for fine in ["password=***", "password=$PGPASSWORD", "postgres:dbname=ctr host=127.0.0.1 port=54329 user=ctr"]:
        assert not any(rx.search(fine) for rx in SECRET_PATTERNS.values()), fine


