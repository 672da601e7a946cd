"""Fixtures for ingestion tests: a small demo PostHog over real HTTP and a DuckDB file in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from ingestion.settings import PostHogSettings, WarehouseSettings


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff between retries in milliseconds, so fault tests stay quick."""
    monkeypatch.setenv("POSTHOG_RETRY_BACKOFF", "0.01")


@pytest.fixture
def ws(tmp_path: Path) -> WarehouseSettings:
    return WarehouseSettings(duckdb_path=tmp_path / "warehouse.duckdb")


@pytest.fixture
def store() -> DemoStore:
    return DemoStore.generate(seed=11, users=20, days=2)


@pytest.fixture
def demo(store: DemoStore) -> Iterator[DemoPostHog]:
    with DemoPostHog(store) as server:
        yield server


@pytest.fixture
def settings() -> PostHogSettings:
    return PostHogSettings(max_retries=4)
