"""Fixtures for the Dagster tests: a small demo, a temp warehouse/export, an ephemeral instance."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Small enough for a fast `dbt build`, big enough for sessions, patterns and several persons.
SMALL_DEMO = {"DEMO_USERS": "30", "DEMO_DAYS": "2", "DEMO_SEED": "7"}


def pipeline_env(root: Path) -> dict[str, str]:
    return {
        "DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "EXPORT_DIR": str(root / "export"),
        "RULES_DIR": str(REPO_ROOT / "rules"),
        **SMALL_DEMO,
    }


@pytest.fixture(scope="module")
def module_env(tmp_path_factory: pytest.TempPathFactory):
    """Module-wide temp warehouse + export (monkeypatch is function-scoped, so use a context)."""
    root = tmp_path_factory.mktemp("pipeline")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in pipeline_env(root).items():
            mp.setenv(name, value)
        mp.delenv("DAGSTER_HOME", raising=False)
        yield root
