"""Shared test settings: telemetry off and every path the pipeline writes kept in a temp folder."""

from __future__ import annotations

import os
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
for _name in (
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
):
    os.environ.pop(_name, None)


@pytest.fixture
def warehouse_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point DUCKDB_PATH and EXPORT_DIR at a fresh temp folder and return that folder."""
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("EXPORT_DIR", str(tmp_path / "export"))
    return tmp_path
