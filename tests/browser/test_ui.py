"""The Dagster UI in a real browser: Debian's headless Chromium driven by playwright.

Starts `dagster-webserver` (as `make ui` serves it, from workspace.yaml) on a free port of 127.0.0.1
against the shared materialised sample warehouse and its Dagster home, then checks what a user checks
first: the marts in the asset graph, their asset checks passing, and the report's chart. Screenshots
go to $CTR_SCREENSHOT_DIR, or to a temporary folder; the path is printed (pytest -s, or -rA).
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.settings import PROJECT_ROOT
from tests.sample_slice import sample_warehouse
from tests.webserver import LOCATION, free_port, graphql, stop_group, wait_until_loaded

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
# Debian's own browser, never a downloaded one; no background traffic (tests have no network).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MARTS = ["dim_index", "dim_security", "fct_ai_basket_market_cap", "fct_ai_basket_members_daily",
         "fct_ai_market_cap_ratio", "fct_index_returns", "fct_relative_performance"]
UI_TIMEOUT_MS = 60_000


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{CHROMIUM} is missing in CI: `make chromium` installs Debian's chromium (as root)")
    pytest.skip(f"{CHROMIUM} not installed: `make chromium` installs Debian's chromium (as root)")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("CTR_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory):
    require_chromium()
    sample = sample_warehouse(tmp_path_factory)
    assert sample.first_run_success
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("webserver") / "webserver.log"
    with log.open("w") as out:
        # Its own process group: started from a non-interactive shell the webserver ignores SIGTERM
        # and SIGINT, and it leaves its gRPC child behind; the group is what gets stopped.
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
             "-w", "workspace.yaml"],
            cwd=PROJECT_ROOT,
            env={**os.environ, **sample.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_loaded(url, server, log)
        # The community sign-up dialog would cover the pages; a user dismisses it once, so do we.
        graphql(url, "mutation { setNuxSeen }")
        yield url
    finally:
        stop_group(server)


@pytest.fixture(scope="module")
def browser(ui_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    context.close()


def test_the_asset_graph_lists_the_marts_with_their_checks_passing(ui_url, page, screenshots):
    # Tall enough for the whole marts group: the graph renders only the nodes in view.
    page.set_viewport_size({"width": 1600, "height": 2400})
    page.goto(f"{ui_url}/locations/{LOCATION}/asset-groups/marts")
    for mart in MARTS:
        page.get_by_text(mart, exact=True).first.wait_for()
    # Each mart node carries its checks' summary, e.g. "16 / 16 Passed".
    page.get_by_text(re.compile(r"\d+ / \d+ Passed")).first.wait_for()
    page.wait_for_load_state("networkidle")
    # The nodes' check summaries arrive one query at a time after the graph draws: wait for all of them.
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    summaries = re.findall(r"(\d+) / (\d+) Passed", page.inner_text("body"))
    while len(summaries) < len(MARTS) and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        summaries = re.findall(r"(\d+) / (\d+) Passed", page.inner_text("body"))
    page.screenshot(path=screenshots / "01_asset_graph_marts.png")
    assert len(summaries) >= len(MARTS), summaries
    assert all(passed == total for passed, total in summaries), summaries


def test_the_checks_page_shows_the_asset_checks_passing(ui_url, page, screenshots):
    page.goto(f"{ui_url}/assets/marts/fct_ai_basket_market_cap?view=checks")
    heading = page.get_by_text(re.compile(r"^Checks \(\d+\)$")).first
    heading.wait_for()
    total = int(re.search(r"\d+", heading.inner_text()).group())
    page.get_by_text("Succeeded", exact=True).first.wait_for()
    page.get_by_text("Passed", exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=screenshots / "02_asset_checks.png")
    assert total >= 10
    assert page.get_by_text("Succeeded", exact=True).count() == total
    assert page.get_by_text("Failed", exact=True).count() == 0


def test_the_report_asset_shows_its_chart(ui_url, page, screenshots):
    page.goto(f"{ui_url}/assets/reports/headline")
    page.get_by_text("[Show Markdown]").first.click()
    charts = page.locator('[role="dialog"] img[src^="data:image/png;base64,"]')
    charts.first.wait_for()
    page.get_by_text(re.compile("China tech rally: the headline as of")).first.wait_for()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=screenshots / "03_report_metadata.png")
    assert charts.count() == 4
    # Decoded and drawn, not a broken-image icon.
    for i in range(charts.count()):
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 100")
    charts.nth(2).scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "04_report_chart.png")
