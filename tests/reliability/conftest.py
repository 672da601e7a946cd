"""Fixtures for the reliability suite: quick retries, temp warehouses, and one small demo store per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.settings import WarehouseSettings


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Millisecond backoff between retries and a short lock wait, so fault tests stay quick."""
    monkeypatch.setenv("POSTHOG_RETRY_BACKOFF", "0.01")
    monkeypatch.setenv("WAREHOUSE_LOCK_WAIT_SECONDS", "20")


@pytest.fixture
def ws(tmp_path: Path) -> WarehouseSettings:
    return WarehouseSettings(duckdb_path=tmp_path / "warehouse.duckdb")
