"""Two opt-in Dagster settings, pinned workarounds for open upstream issues, in one place: the project's
`.env`. Dagster's own servers load that file when started from the project folder (`dg dev`, `dagster
dev`, dagster-webserver, dagster-daemon: documented); `use()` loads it into the processes Dagster does
not start (the code location, the CLI, the tests), never overriding what the environment already says.

- `DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true`: a run over a partition range announces one
  planned event per asset, not one per asset and day (dagster-io/dagster#32242, where the maintainers
  give this setting as the workaround). Without it, `make demo` (5 raw assets x 1,060 days) stores about
  5,300 planned events one at a time before its first step. Its trade-off, as Dagster documents it: a
  failed ranged run does not mark each of its partitions failed.
- `DAGSTER_EVENT_BATCH_SIZE=1000`: a ranged run hands its per-partition materialisations to the event
  log in batches, which dagster-postgres writes in one statement (dagster-io/dagster#19829, batch writes
  for ranged runs). Dagster's SQLite storage still writes them one at a time.
"""

from __future__ import annotations

from dotenv import load_dotenv

from orchestration.settings import PROJECT_ROOT

ENV_FILE = PROJECT_ROOT / ".env"
# What the tracked .env may hold (tests/test_security.py): these, never a secret.
SETTINGS = ("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "DAGSTER_EVENT_BATCH_SIZE")


def use() -> None:
    load_dotenv(ENV_FILE, override=False)
