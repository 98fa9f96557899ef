"""A backfill launched from the UI, as a user launches it: `make ui`'s own command (`dagster dev`: webserver,
daemon, code server, run queue), Debian's headless Chromium driven by playwright.

On the job `materialize_all`: "Materialize all…", the partition picker (whose "Latest" is the snapshot's
last date), a 10-day range, "Launch backfill". The daemon turns the backfill into exactly one run over the
range, raw loads and the unpartitioned dbt, report and publication steps together, and it succeeds
(docs/operations.md, "Backfills from the UI").
"""

import re
import subprocess
import sys
import time
from datetime import timedelta

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance

from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG
from orchestration.settings import PROJECT_ROOT
from tests.browser.test_ui import CHROMIUM, CHROMIUM_ARGS, UI_TIMEOUT_MS, require_chromium
from tests.cli_runs import new_env
from tests.sample_slice import SLICE_END, write_slice
from tests.webserver import LOCATION, free_port, graphql, stop_group, wait_until_loaded

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Two weeks of prices (the as-of files keep their history): the picker shows 14 days, the run is short.
FIRST_DAY = SLICE_END - timedelta(days=13)
RANGE = [SLICE_END - timedelta(days=9), SLICE_END]
# The daemon picks a backfill up within about 30 s; the run itself takes about a minute here.
BACKFILL_SECONDS = 300

BACKFILLS = """{ partitionBackfillsOrError(limit: 5) { __typename ... on PartitionBackfills { results {
  id status numPartitions runs(limit: 20) { runId status tags { key value } } } } } }"""


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("ui_backfill")
    env = new_env(root)
    snapshot = write_slice(root / "slice", start=FIRST_DAY)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "ui.log"
    with log.open("w") as out:
        # `make ui`'s command, in its own process group so that the whole of it is stopped afterwards.
        server = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "ui", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT, env={**env.env(snapshot), "CTR_START_DATE": FIRST_DAY.isoformat()},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until_loaded(url, server, log)
        # The community sign-up dialog would cover the page; a user dismisses it once, so do we.
        graphql(url, "mutation { setNuxSeen }")
        yield url, env, snapshot, log
    finally:
        stop_group(server)


@pytest.fixture
def page(ui):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def wait_for_backfill(url: str, log) -> dict:
    deadline = time.monotonic() + BACKFILL_SECONDS
    while True:
        answer = graphql(url, BACKFILLS)["data"]["partitionBackfillsOrError"]
        [backfill] = answer["results"]
        if backfill["status"] not in ("REQUESTED", "CANCELING"):
            return backfill
        assert time.monotonic() < deadline, f"backfill {backfill} not done after {BACKFILL_SECONDS}s; see {log}"
        time.sleep(2)


def test_a_10_day_backfill_from_the_job_page_is_one_run_that_succeeds(ui, page, tmp_path):
    url, env, snapshot, log = ui
    page.goto(f"{url}/locations/{LOCATION}/jobs/materialize_all")
    page.locator("button", has_text="Materialize all").first.click()
    dialog = page.get_by_role("dialog")
    days = dialog.get_by_placeholder(re.compile("^ex: "))

    # "Latest" is the snapshot's last date, not today's date, which the snapshot does not have.
    dialog.get_by_role("button", name="Latest", exact=True).click()
    assert days.input_value() == SLICE_END.isoformat()

    days.fill(f"[{RANGE[0]}...{RANGE[1]}]")
    days.press("Enter")
    dialog.get_by_text("10 partitions", exact=True).wait_for()
    page.screenshot(path=tmp_path / "backfill_dialog.png")
    dialog.get_by_role("button", name="Launch backfill").click()
    page.get_by_text(re.compile("Created backfill")).first.wait_for()

    backfill = wait_for_backfill(url, log)
    assert backfill["numPartitions"] == 10
    [run] = backfill["runs"]
    assert run["status"] == "SUCCESS", f"see {log}"
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert (tags[RANGE_START_TAG], tags[RANGE_END_TAG]) == (RANGE[0].isoformat(), RANGE[1].isoformat())
    assert backfill["status"] == "COMPLETED_SUCCESS"

    # The one run loaded the raw range and built the unpartitioned assets downstream of it.
    with DagsterInstance.from_config(str(env.home)) as instance:
        events = instance.all_logs(run["runId"], of_type=DagsterEventType.ASSET_MATERIALIZATION)
    built = {e.dagster_event.asset_key.to_user_string() for e in events}
    assert {"raw/stock_prices", "marts/fct_index_returns", "reports/headline", "published/warehouse"} <= built
    raw_days = {e.dagster_event.partition for e in events if e.dagster_event.asset_key.path == ["raw", "index_prices"]}
    assert raw_days == {(RANGE[0] + timedelta(days=i)).isoformat() for i in range(10)}

    # The warehouse holds the range's sessions, exactly those of the snapshot.
    query = "select distinct trade_date from {} where trade_date between ? and ? order by 1"
    with duckdb.connect() as conn:
        expected = conn.execute(query.format(f"read_csv('{snapshot / 'index_prices.csv'}')"), RANGE).fetchall()
    with duckdb.connect(str(env.database), read_only=True) as conn:
        loaded = conn.execute(query.format("raw.index_prices"), RANGE).fetchall()
    assert loaded == expected and len(loaded) >= 7  # two weeks of weekdays, a holiday or two aside
