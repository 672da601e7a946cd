"""Fixtures for the reliability suite: quick retries, temp warehouses, and one small demo store per module."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingestion.demo_api.store import DemoStore
from ingestion.pipeline import LoadSummary
from ingestion.settings import PostHogSettings, WarehouseSettings


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Millisecond backoff between retries and a short lock wait, so fault tests stay quick."""
    monkeypatch.setenv("POSTHOG_RETRY_BACKOFF", "0.01")
    monkeypatch.setenv("WAREHOUSE_LOCK_WAIT_SECONDS", "20")


@pytest.fixture
def ws(tmp_path: Path) -> WarehouseSettings:
    return WarehouseSettings(duckdb_path=tmp_path / "warehouse.duckdb")


# -- one warehouse full of bad and hostile input, loaded over HTTP and built by a real `dbt build` ------
from reliability_helpers import (  # noqa: E402
    HOSTILE_LABEL_TEMPLATE,
    HOSTILE_PAGE_NAME,
    REPO_ROOT,
    run_dbt,
)


def hostile_rules_dir(target: Path) -> Path:
    """The shipped rules plus a label template and a page name full of quotes, SQL and Jinja braces."""
    shutil.copytree(REPO_ROOT / "rules", target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    labels = target / "labels.yaml"
    labels.write_text(labels.read_text() + f"  hostile_event: {json.dumps(HOSTILE_LABEL_TEMPLATE)}\n")
    pages = target / "pages.yaml"
    text = pages.read_text().replace(
        "pages:\n", f'pages:\n  - {{prefix: "/o\'brien", name: {json.dumps(HOSTILE_PAGE_NAME)}}}\n', 1
    )
    pages.write_text(text)
    return target


@dataclass
class HostileBuild:
    root: Path
    ws: WarehouseSettings
    store: DemoStore
    cases: list
    summary: LoadSummary
    export_dir: Path
    dbt_output: str
    file_reasons: dict
    parquet_summary: LoadSummary
    jsonl_summary: LoadSummary


@pytest.fixture(scope="session")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> HostileBuild:
    from hostile_data import serve_hostile_rows, write_bad_batch_files

    from ingestion.demo_api.server import DemoPostHog
    from ingestion.pipeline import run_batch_files_load, run_posthog_load
    from orchestration.defs.steps import export_context
    from rules.load import load_rules_to_warehouse
    from rules.loader import load_rules

    root = tmp_path_factory.mktemp("hostile")
    ws = WarehouseSettings(duckdb_path=root / "warehouse.duckdb")
    now = datetime.now(UTC)
    store = DemoStore.generate(seed=41, users=12, days=2, end=now)
    cases = serve_hostile_rows(store, now)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSTHOG_RETRY_BACKOFF", "0.01")
        with DemoPostHog(store) as demo:
            summary = run_posthog_load(PostHogSettings(page_size=500), ws, demo=demo)
    files = root / "batch_files"
    file_reasons = write_bad_batch_files(files, now)
    parquet_summary = run_batch_files_load(str(files), "parquet", 1, ws)
    jsonl_summary = run_batch_files_load(str(files), "jsonl", 1, ws)
    load_rules_to_warehouse(load_rules(hostile_rules_dir(root / "rules")), ws)
    proc = run_dbt(["build"], root, ws.duckdb_path)
    export_dir = root / "export"
    export_context(ws, export_dir, 3)
    return HostileBuild(
        root, ws, store, cases, summary, export_dir, proc.stdout, file_reasons, parquet_summary, jsonl_summary
    )
