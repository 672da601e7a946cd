"""A load killed with SIGKILL between extract and load, and in the middle of the load; the rerun
loses nothing, doubles nothing and the cursor never runs ahead of data that is neither loaded nor pending."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from reliability_helpers import assert_exactly_once, scalar, warehouse_uuids

from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from ingestion.pipeline import current_cursor, make_pipeline, run_posthog_load
from ingestion.settings import PostHogSettings, WarehouseSettings

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def big_store() -> DemoStore:
    """Enough events that dlt's load step takes a noticeable moment (a window to kill in)."""
    return DemoStore.generate_scaled(40_000, users=300, days=3)


@pytest.fixture
def demo(big_store: DemoStore) -> Iterator[DemoPostHog]:
    with DemoPostHog(big_store) as server:
        yield server


def _env(demo: DemoPostHog, ws: WarehouseSettings) -> dict[str, str]:
    return {
        **os.environ,
        "POSTHOG_HOST": demo.url,
        "POSTHOG_PERSONAL_API_KEY": "phx_demo_key",
        "POSTHOG_PAGE_SIZE": "10000",
        "DUCKDB_PATH": str(ws.duckdb_path),
        "PYTHONPATH": str(REPO_ROOT),
    }


def _kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"load finished (exit {proc.returncode}) before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.002)
    # The whole load dies at once, as in a crash: the runner and the child process doing the load.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def _packages(ws: WarehouseSettings, stage: str) -> list[Path]:
    root = ws.dlt_pipelines_dir / "posthog"
    folder = {
        "extracted": root / "normalize" / "extracted",
        "normalized": root / "load" / "normalized",
        "loaded": root / "load" / "loaded",
    }[stage]
    return [p for p in folder.glob("*") if p.is_dir()] if folder.exists() else []


def _cursor_not_ahead_of_data(ws: WarehouseSettings) -> None:
    """A committed cursor beyond the loaded data is only allowed while the package holding it is pending."""
    cursor = current_cursor(ws).get(1)
    if cursor is None:
        return
    loaded_max = None
    if warehouse_uuids(ws):
        loaded_max = scalar(ws, "SELECT max(timestamp) FROM posthog_raw.events")
    pipeline = make_pipeline(ws)
    pending = pipeline.list_extracted_load_packages() + pipeline.list_normalized_load_packages()
    assert (loaded_max is not None and cursor <= loaded_max) or pending, (cursor, loaded_max, pending)


def _new_events(store: DemoStore, n: int) -> None:
    now = datetime.now(UTC)
    store.append_events(
        [
            {
                "event": "after_crash",
                "distinct_id": f"crash-user-{i % 3}",
                "timestamp": (now - timedelta(seconds=30 - i)).isoformat(),
                "properties": {"i": i},
            }
            for i in range(n)
        ]
    )


def test_killed_between_extract_and_load(big_store, demo, ws) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "load_once.py")],
        env=_env(demo, ws),
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    # The extracted package is committed to disk: extraction is over, nothing is loaded yet.
    _kill_when(proc, lambda: bool(_packages(ws, "extracted") or _packages(ws, "normalized")))
    assert not _packages(ws, "loaded")
    assert warehouse_uuids(ws) == []
    _cursor_not_ahead_of_data(ws)
    _new_events(big_store, 5)
    settings = PostHogSettings(host=demo.url, api_key="phx_demo_key", page_size=10_000)
    run_posthog_load(settings, ws)
    assert_exactly_once(ws, big_store)
    _cursor_not_ahead_of_data(ws)
    assert not _packages(ws, "extracted") and not _packages(ws, "normalized")


def test_killed_during_load(big_store, demo, ws) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "load_once.py")],
        env=_env(demo, ws),
        cwd=REPO_ROOT,
        start_new_session=True,
    )

    def loading() -> bool:
        # dlt has applied the schema and is running the load jobs of the package.
        return any((p / "applied_schema_updates.json").exists() for p in _packages(ws, "normalized"))

    _kill_when(proc, loading)
    assert _packages(ws, "normalized") and not _packages(ws, "loaded")
    _cursor_not_ahead_of_data(ws)
    _new_events(big_store, 5)
    settings = PostHogSettings(host=demo.url, api_key="phx_demo_key", page_size=10_000)
    run_posthog_load(settings, ws)
    assert_exactly_once(ws, big_store)
    _cursor_not_ahead_of_data(ws)
    # And once more: a normal incremental run on top adds nothing.
    run_posthog_load(settings, ws)
    assert_exactly_once(ws, big_store)


def test_killed_and_pipelines_folder_lost_rereads_everything(big_store, demo, ws) -> None:
    """Killed before loading and the local pipeline folder wiped: the warehouse holds no state, so the
    next run starts from scratch instead of trusting a cursor for data that never arrived."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "load_once.py")],
        env=_env(demo, ws),
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    _kill_when(proc, lambda: bool(_packages(ws, "extracted") or _packages(ws, "normalized")))
    import shutil

    shutil.rmtree(ws.dlt_pipelines_dir)
    settings = PostHogSettings(host=demo.url, api_key="phx_demo_key", page_size=10_000)
    run_posthog_load(settings, ws)
    assert_exactly_once(ws, big_store)
