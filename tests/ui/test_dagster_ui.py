"""The Dagster UI as users meet it: webserver on loopback, headless Chromium, a launched run succeeds."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
GROUPS = ("ingestion", "rules", "staging", "intermediate", "marts", "exports")
LOCATION = "posthog_context"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTANCE_YAML = """
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(base: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _wait_for_location(base: str, proc: subprocess.Popen, timeout: float = 420) -> None:
    query = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
      locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "dagster-webserver exited early"
        try:
            entries = _graphql(base, query)["workspaceOrError"]["locationEntries"]
        except (httpx.HTTPError, KeyError, TypeError):
            time.sleep(1)
            continue
        entry = next((e for e in entries if e["name"] == LOCATION), None)
        if entry and entry["loadStatus"] == "LOADED":
            error = entry["locationOrLoadError"]
            assert error["__typename"] == "RepositoryLocation", error.get("message")
            return
        time.sleep(1)
    raise AssertionError("code location did not load in time")


@pytest.fixture
def webserver(tmp_path: Path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not installed at {CHROMIUM} (apt-get install -y chromium)")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "EXPORT_DIR": str(tmp_path / "export"),
        "RULES_DIR": str(REPO_ROOT / "rules"),
        "DEMO_USERS": "20",
        "DEMO_DAYS": "1",
    }
    executable = Path(sys.executable).parent / "dagster-webserver"
    log = open(tmp_path / "webserver.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(executable), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: the whole tree is stopped below
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_location(base, proc)
        yield base
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.copy(
            tmp_path / "webserver.log", ARTIFACTS / "dagster-webserver.log"
        ) if ARTIFACTS.exists() else None


LAUNCH = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""
STATUS = """query Status($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"""
RULE_KEYS = [
    "cohort_definitions",
    "cohort_filter_nodes",
    "element_enrichment",
    "event_classification",
    "label_template_parts",
    "label_templates",
    "page_names",
    "pattern_filters",
    "pattern_rules",
    "privacy_redactions",
]


def _dismiss_welcome(page) -> None:
    """The first visit shows a community sign-up dialog; skip it so screenshots show the page."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=3_000)
        skip.click()
        skip.wait_for(state="hidden", timeout=5_000)
    except Exception:  # noqa: BLE001 - no dialog this time
        pass


def test_asset_graph_and_launched_run(webserver: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{webserver}/asset-groups", wait_until="domcontentloaded")
        for group in GROUPS:
            page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
        _dismiss_welcome(page)
        page.screenshot(path=str(ARTIFACTS / "dagster-asset-graph.png"), full_page=True)

        # Launch a materialization through the UI's own GraphQL endpoint (the rules assets: fast, real).
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": "__repository__",
                "jobName": "__ASSET_JOB",
                "assetSelection": [{"path": ["posthog_rules", key]} for key in RULE_KEYS],
            },
            "runConfigData": {},
        }
        launched = _graphql(webserver, LAUNCH, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        deadline = time.monotonic() + 300
        status = "STARTING"
        while status not in ("SUCCESS", "FAILURE", "CANCELED") and time.monotonic() < deadline:
            time.sleep(1)
            status = _graphql(webserver, STATUS, {"id": run_id})["runOrError"]["status"]
        page.goto(f"{webserver}/runs/{run_id}", wait_until="domcontentloaded")
        page.get_by_text("Success", exact=False).first.wait_for(timeout=60_000)
        _dismiss_welcome(page)
        page.screenshot(path=str(ARTIFACTS / "dagster-run-success.png"), full_page=True)
        page.goto(f"{webserver}/automation", wait_until="domcontentloaded")
        page.get_by_text("posthog_new_events_sensor").first.wait_for(timeout=60_000)
        page.get_by_text("posthog_incremental_every_15_minutes").first.wait_for(timeout=60_000)
        _dismiss_welcome(page)
        page.screenshot(path=str(ARTIFACTS / "dagster-automation.png"), full_page=True)
        browser.close()
    assert status == "SUCCESS"
