"""The DuckDB file held by another process: bounded wait, then a clear failure naming the file.
Two loads triggered at once never corrupt the file, and the data ends up exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_helpers import assert_exactly_once, scalar

from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from ingestion.pipeline import run_posthog_load
from ingestion.settings import PostHogSettings, WarehouseSettings
from ingestion.warehouse import WarehouseLockedError

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS lock_holder (x INT)")
print("HELD", flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def store() -> DemoStore:
    return DemoStore.generate(seed=31, users=20, days=2)


@pytest.fixture
def demo(store: DemoStore) -> Iterator[DemoPostHog]:
    with DemoPostHog(store) as server:
        yield server


@pytest.fixture
def holder(ws: WarehouseSettings) -> Iterator[subprocess.Popen]:
    """Another process with a read-write connection on the warehouse file, until the test lets go."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ws.duckdb_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "HELD"
    yield proc
    if proc.poll() is None:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(30)


def test_locked_file_waits_bounded_then_fails_naming_it(store, demo, ws, holder, monkeypatch) -> None:
    monkeypatch.setenv("WAREHOUSE_LOCK_WAIT_SECONDS", "1.5")
    with pytest.raises(WarehouseLockedError) as info:
        run_posthog_load(PostHogSettings(), ws, demo=demo)
    message = str(info.value)
    assert str(ws.duckdb_path.resolve()) in message and "locked by another process" in message
    assert "waited 1.5s" in message
    assert demo.request_count.total() == 0  # nothing was read from PostHog for a run that cannot load
    holder.stdin.close()  # type: ignore[union-attr]
    holder.wait(30)
    run_posthog_load(PostHogSettings(), ws, demo=demo)
    assert_exactly_once(ws, store)
    assert scalar(ws, "SELECT count(*) FROM lock_holder") == 0  # the other process's table is intact


def test_lock_released_within_the_wait_lets_the_run_finish(store, demo, ws, holder, monkeypatch) -> None:
    import threading

    monkeypatch.setenv("WAREHOUSE_LOCK_WAIT_SECONDS", "60")
    release = threading.Timer(1.0, holder.stdin.close)  # type: ignore[union-attr]
    release.start()
    try:
        run_posthog_load(PostHogSettings(), ws, demo=demo)
    finally:
        release.cancel()
    assert_exactly_once(ws, store)


def test_concurrent_triggers_never_corrupt_the_file(store, demo, ws) -> None:
    env = {
        **os.environ,
        "POSTHOG_HOST": demo.url,
        "POSTHOG_PERSONAL_API_KEY": "phx_demo_key",
        "POSTHOG_PAGE_SIZE": "100",
        "DUCKDB_PATH": str(ws.duckdb_path),
        "WAREHOUSE_LOCK_WAIT_SECONDS": "60",
        "PYTHONPATH": str(REPO_ROOT),
    }
    outcomes = []
    for _round in range(2):
        procs = [
            subprocess.Popen(
                [sys.executable, str(HERE / "load_once.py")],
                env=env,
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            outcomes.append((proc.returncode, out, err[-2000:]))
    # Loads into one warehouse take turns (ingestion.pipeline.exclusive_run): every trigger succeeds.
    for code, out, err in outcomes:
        assert code == 0 and "LOADED" in out, (code, out, err)
    assert_exactly_once(ws, store)
    run_posthog_load(PostHogSettings(), ws, demo=demo)
    assert_exactly_once(ws, store)
    assert scalar(ws, "PRAGMA database_size") is not None
