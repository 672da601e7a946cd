"""Shared test settings: telemetry off and every path the pipeline writes kept in a temp folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
DRONE_SHOP_EXPORT = SHARED_DIR / "data" / "posthog-export-drone-shop.json"

# Nothing outside this machine can be reached, and nothing should be tried.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

# Settings a developer may have exported in their shell must not leak into tests.
_LEAK_GUARD = (
    "POSTHOG_HOST",
    "POSTHOG_PERSONAL_API_KEY",
    "POSTHOG_PROJECT_ID",
    "BATCH_EXPORT_URL",
    "WAREHOUSE",
    "DBT_TARGET",
    "COHORT_REFERENCE_TIME",
    "SPARK_DATA_DIR",
    "SPARK_LAKE_URL",
    "SPARK_MASTER",
    "SPARK_THRIFT_HOST",
    "SPARK_THRIFT_PORT",
)
for _name in _LEAK_GUARD:
    os.environ.pop(_name, None)


@pytest.fixture
def warehouse_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point DUCKDB_PATH and EXPORT_DIR at a fresh temp folder and return that folder."""
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("EXPORT_DIR", str(tmp_path / "export"))
    return tmp_path


_WAREHOUSE_CHOICE = (
    "WAREHOUSE",
    "DBT_TARGET",
    "SPARK_DATA_DIR",
    "SPARK_LAKE_URL",
    "SPARK_MASTER",
    "SPARK_DRIVER_MEMORY",
    "SPARK_THRIFT_HOST",
    "SPARK_THRIFT_PORT",
    "SPARK_LOG4J_CONFIG",
)


@pytest.fixture(autouse=True)
def _warehouse_choice_does_not_leak() -> Iterator[None]:
    """Running a Dagster dbt step pins the warehouse choice into os.environ (for the dbt subprocess);
    a test that runs one on Spark must not leave later tests building on Spark."""
    saved = {name: os.environ.get(name) for name in _WAREHOUSE_CHOICE}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# -- running on two workers (pytest-xdist, `--dist loadgroup`) --------------------------------------------
# Tests that share an expensive session fixture run on one worker, so it is built once; every other test
# file is its own group (module fixtures are built once too). The longest groups start first so the
# workers finish together instead of one worker running the Spark suite alone at the end.
_SHARED_SESSION_FIXTURES = {
    "drone_shop_warehouse": "drone-shop-build",
    "drone_shop_postgres": "drone-shop-build",
    "hostile_build": "hostile-build",
}
_LONGEST_FIRST = (
    "tests/spark/",
    "drone-shop-build",
    "hostile-build",
    "tests/dbt/test_rule_edits.py",
    "tests/reliability/test_soak.py",
    "tests/dbt/test_incremental_build.py",
    "tests/benchmarks/",
)


def _xdist_group(item: pytest.Item) -> str:
    for fixture, group in _SHARED_SESSION_FIXTURES.items():
        if fixture in getattr(item, "fixturenames", ()):
            return group
    return item.nodeid.split("::", 1)[0]


def _start_rank(group: str) -> int:
    for rank, prefix in enumerate(_LONGEST_FIRST):
        if group.startswith(prefix):
            return rank
    return len(_LONGEST_FIRST)


@pytest.hookimpl(tryfirst=True)  # before xdist appends the group to each node id
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = {}
    for item in items:
        groups[item.nodeid] = _xdist_group(item)
        item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
    items.sort(key=lambda item: _start_rank(groups[item.nodeid]))
