"""One Dagster run of the whole graph over a partition range, in its own process, on the instance of
DAGSTER_HOME: what a run worker does. `python -m tests.ducklake.worker START END OUT_JSON`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dagster import DagsterInstance

from orchestration.definitions import build_definitions
from orchestration.settings import Settings
from tests.conftest import run_range


def main(start: str, end: str, out: str) -> None:
    began = time.time()
    with DagsterInstance.get() as instance:
        result = run_range(build_definitions(Settings()), instance, start, end)
    failed_checks = [
        e.event_specific_data.asset_check_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    failures = [e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    Path(out).write_text(
        json.dumps(
            {
                "success": result.success,
                "failed_checks": failed_checks,
                "failures": failures,
                "began": began,
                "ended": time.time(),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
