"""Shared test settings: telemetry off and every path the pipeline writes kept in a temp folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.settings import WAREHOUSE_CHOICE_ENV

REPO_ROOT = Path(__file__).resolve().parents[1]
# The real PostHog export the drone-shop tests read: a copy of ../shared/data's file kept in the repository,
# so a clone anywhere runs them; DRONE_SHOP_EXPORT points them at another export.
DRONE_SHOP_EXPORT = Path(
    os.environ.get("DRONE_SHOP_EXPORT") or REPO_ROOT / "tests" / "fixtures" / "posthog-export-drone-shop.json"
)

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
    "COHORT_REFERENCE_TIME",
    *WAREHOUSE_CHOICE_ENV,
)
for _name in _LEAK_GUARD:
    os.environ.pop(_name, None)


@pytest.fixture
def warehouse_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point DUCKDB_PATH and EXPORT_DIR at a fresh temp folder and return that folder."""
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("EXPORT_DIR", str(tmp_path / "export"))
    return tmp_path


@pytest.fixture(autouse=True)
def _warehouse_choice_does_not_leak() -> Iterator[None]:
    """Running a Dagster dbt step pins the warehouse choice into os.environ (for the dbt subprocess);
    a test that runs one on Spark must not leave later tests building on Spark."""
    saved = {name: os.environ.get(name) for name in WAREHOUSE_CHOICE_ENV}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# -- running on two workers (pytest-xdist) -----------------------------------------------------------------
# Every test file is one unit of work, so its module fixtures are built once; files that share an
# expensive session fixture form one unit, so it is built once too. The longest units start first, so
# the workers finish together instead of one worker running the Spark suite alone at the end.
_SHARED_SESSION_FIXTURE_FILES = {
    "tests/dbt/test_drone_shop_build.py": "drone-shop-build",  # drone_shop_warehouse
    "tests/dbt/test_postgres_build.py": "drone-shop-build",  # drone_shop_warehouse, drone_shop_postgres
    "tests/reliability/test_bad_input.py": "hostile-build",  # hostile_build
    "tests/reliability/test_security.py": "hostile-build",
    "tests/reliability/test_export_failures.py": "hostile-build",
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


def work_unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return _SHARED_SESSION_FIXTURE_FILES.get(path, path)


def _start_rank(nodeid: str) -> int:
    unit = work_unit(nodeid)
    ranks = (rank for rank, prefix in enumerate(_LONGEST_FIRST) if unit.startswith(prefix))
    return next(ranks, len(_LONGEST_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: _start_rank(item.nodeid))  # stable: file order kept within a rank


# optional: with PYTEST_WORKERS=0 (`-p no:xdist`) the hook does not exist and pytest would reject it
@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        """xdist's per-scope scheduling with our units, handed out in collection order."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False
    return WorkUnitScheduling(config, log)
