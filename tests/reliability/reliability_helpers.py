"""Checks shared by the reliability tests: is every event of the demo store in the warehouse exactly once?"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections import Counter
from pathlib import Path

from ingestion.demo_api.store import DemoStore
from ingestion.settings import WarehouseSettings
from ingestion.warehouse import read_table


def warehouse_uuids(ws: WarehouseSettings) -> list[str]:
    """Every uuid in posthog_raw.events, duplicates kept (empty when nothing was loaded yet)."""
    with contextlib.suppress(Exception):
        return read_table(ws, "SELECT uuid FROM posthog_raw.events")["uuid"].to_pylist()
    return []


def demo_uuids(store: DemoStore) -> list[str]:
    return [str(u) for u in store.events_arrow()["uuid"].to_pylist()]


def lost_and_doubled(ws: WarehouseSettings, expected: list[str]) -> tuple[set[str], dict[str, int]]:
    """(uuids missing from the warehouse, uuids present more than once)."""
    loaded = Counter(warehouse_uuids(ws))
    lost = set(expected) - set(loaded)
    doubled = {u: n for u, n in loaded.items() if n > 1}
    return lost, doubled


def assert_exactly_once(
    ws: WarehouseSettings, store: DemoStore, extra_allowed: set[str] = frozenset()
) -> int:
    """The warehouse holds every event of the store once and nothing else; returns the event count."""
    expected = demo_uuids(store)
    lost, doubled = lost_and_doubled(ws, expected)
    unexpected = set(warehouse_uuids(ws)) - set(expected) - set(extra_allowed)
    assert not lost, f"{len(lost)} events lost, e.g. {sorted(lost)[:3]}"
    assert not doubled, f"{len(doubled)} events loaded twice, e.g. {list(doubled.items())[:3]}"
    assert not unexpected, f"{len(unexpected)} events not in the demo store, e.g. {sorted(unexpected)[:3]}"
    return len(expected)


def scalar(ws: WarehouseSettings, sql: str):
    return read_table(ws, sql).column(0)[0].as_py()


REPO_ROOT = Path(__file__).resolve().parents[2]
DBT = REPO_ROOT / ".venv" / "bin" / "dbt"
HOSTILE_LABEL_TEMPLATE = "Said {message} '; drop table x; -- {{ config(enabled=false) }}"
HOSTILE_PAGE_NAME = "O'Brien's \"page\"; drop table analytics.fct_sessions; -- {{ this }}"


def run_dbt(
    args: list[str], work: Path, duckdb_path: Path, check: bool = True
) -> subprocess.CompletedProcess:
    """`dbt <args>` on the project with its artifacts in `work` (never the developer's target folder)."""
    env = {
        **os.environ,
        "WAREHOUSE": "duckdb",
        "DUCKDB_PATH": str(duckdb_path),
        "DBT_TARGET_PATH": str(work / "dbt_target"),
        "DBT_LOG_PATH": str(work / "dbt_logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    project = str(REPO_ROOT / "dbt_project")
    proc = subprocess.run(
        [str(DBT), *args, "--profiles-dir", project, "--project-dir", project],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
        raise AssertionError(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc
