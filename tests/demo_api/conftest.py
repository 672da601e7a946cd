"""Fixtures for the demo PostHog API tests: small seeded stores and running servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore

API_KEY = "phx_test_key_0123456789"
END = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def small_store() -> DemoStore:
    """A small generated store shared by read-only tests."""
    return DemoStore.generate(seed=11, users=40, days=3, end=END)


@pytest.fixture
def fresh_store() -> DemoStore:
    """A store a test may modify."""
    return DemoStore.generate(seed=11, users=25, days=2, end=END, personas=False)


@pytest.fixture
def server(small_store: DemoStore) -> Iterator[DemoPostHog]:
    with DemoPostHog(small_store, api_key=API_KEY) as api:
        yield api


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        yield session


def hogql(http: requests.Session, server: DemoPostHog, query: str, project_id: int = 1) -> dict[str, Any]:
    """POST a HogQL query and return the decoded answer, failing on a non-200."""
    response = http.post(
        f"{server.url}/api/projects/{project_id}/query/",
        json={"query": {"kind": "HogQLQuery", "query": query}},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def keyset_pages(http: requests.Session, server: DemoPostHog, page_size: int) -> list[list[list[Any]]]:
    """Read every event with keyset pagination on (timestamp, uuid), as the dlt source does."""
    pages: list[list[list[Any]]] = []
    cursor: tuple[str, str] | None = None
    while True:
        where = ""
        if cursor is not None:
            ts, uid = cursor
            where = (
                f" where timestamp > toDateTime64('{ts}', 6, 'UTC')"
                f" or (timestamp = toDateTime64('{ts}', 6, 'UTC') and uuid > '{uid}')"
            )
        answer = hogql(
            http,
            server,
            f"select uuid, timestamp, event from events{where} order by timestamp, uuid limit {page_size}",
        )
        rows = answer["results"]
        pages.append(rows)
        if not answer["hasMore"]:
            return pages
        assert rows, "hasMore with an empty page"
        cursor = (rows[-1][1], rows[-1][0])
