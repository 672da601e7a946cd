"""Fault plans: every kind is applied on the request it names, and the data stays whole."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests

from ingestion.demo_api.faults import Fault, FaultPlan
from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from tests.demo_api.conftest import API_KEY, keyset_pages

QUERY = {
    "query": {"kind": "HogQLQuery", "query": "select uuid from events order by timestamp, uuid limit 50"}
}


def _post(http: requests.Session, api: DemoPostHog) -> requests.Response:
    return http.post(f"{api.url}/api/projects/1/query/", json=QUERY, timeout=30)


def test_429_with_and_without_retry_after(small_store: DemoStore, http: requests.Session) -> None:
    plan = FaultPlan(
        faults=[
            Fault(kind="status", endpoint="query", on_requests={1}, status=429, retry_after=2),
            Fault(kind="status", endpoint="query", on_requests={2}, status=429),
        ]
    )
    with DemoPostHog(small_store, api_key=API_KEY, faults=plan) as api:
        first, second, third = _post(http, api), _post(http, api), _post(http, api)
    assert first.status_code == 429 and first.headers["Retry-After"] == "2"
    assert first.json()["type"] == "throttled_error"
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert third.status_code == 200 and len(third.json()["results"]) == 50
    assert plan.fired == [("query", 1, "status"), ("query", 2, "status")]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_then_recovery(small_store: DemoStore, http: requests.Session, status: int) -> None:
    with DemoPostHog(
        small_store, api_key=API_KEY, faults=FaultPlan.at("status", "query", 1, status=status)
    ) as api:
        failed, ok = _post(http, api), _post(http, api)
    assert failed.status_code == status and ok.status_code == 200


def test_slow_response_still_correct(small_store: DemoStore, http: requests.Session) -> None:
    plan = FaultPlan.at("slow", "query", 1, delay_seconds=0.3)
    with DemoPostHog(small_store, api_key=API_KEY, faults=plan) as api:
        slow = _post(http, api)
    assert slow.status_code == 200 and len(slow.json()["results"]) == 50
    assert plan.fired == [("query", 1, "slow")]


def test_broken_bodies(small_store: DemoStore, http: requests.Session) -> None:
    plan = FaultPlan(
        faults=[
            Fault(kind="reset", endpoint="query", on_requests={1}),
            Fault(kind="truncated_json", endpoint="query", on_requests={2}),
            Fault(kind="invalid_json", endpoint="query", on_requests={3}),
        ]
    )
    with DemoPostHog(small_store, api_key=API_KEY, faults=plan) as api:
        with pytest.raises(requests.exceptions.RequestException):
            _post(http, api).json()
        with requests.Session() as fresh:
            fresh.headers.update(http.headers)
            truncated = _post(fresh, api)
            with pytest.raises(ValueError):
                json.loads(truncated.content)
            invalid = _post(fresh, api)
            assert invalid.status_code == 200
            with pytest.raises(ValueError):
                json.loads(invalid.content)
            assert _post(fresh, api).status_code == 200


def test_empty_short_and_repeated_pages_keep_every_event(
    fresh_store: DemoStore, http: requests.Session
) -> None:
    plan = FaultPlan(
        faults=[
            Fault(kind="short_page", endpoint="query", on_requests={2}),
            Fault(kind="repeat_rows", endpoint="query", on_requests={3}),
            Fault(kind="empty_page", endpoint="query", on_requests={4}),
        ]
    )
    with DemoPostHog(fresh_store, api_key=API_KEY, faults=plan) as api:
        pages = _tolerant_pages(http, api, 200)
    sizes = [len(p) for p in pages]
    assert sizes[1] < 200 and sizes[3] == 0  # the short page and the empty page in the middle
    uuids = [row[0] for page in pages for row in page]
    assert len(uuids) > len(set(uuids))  # rows were repeated across pages
    assert set(uuids) == set(fresh_store.events_arrow()["uuid"].to_pylist())


def _tolerant_pages(http: requests.Session, api: DemoPostHog, size: int) -> list[list]:
    """Keyset paging that keeps its cursor on an empty page and advances past repeated rows."""
    pages, cursor = [], None
    for _ in range(1000):
        where = ""
        if cursor:
            where = (
                f" where timestamp > toDateTime64('{cursor[0]}', 6, 'UTC') or "
                f"(timestamp = toDateTime64('{cursor[0]}', 6, 'UTC') and uuid > '{cursor[1]}')"
            )
        body = {
            "query": {
                "kind": "HogQLQuery",
                "query": f"select uuid, timestamp from events{where} order by timestamp, uuid limit {size}",
            }
        }
        answer = http.post(f"{api.url}/api/projects/1/query/", json=body, timeout=30).json()
        rows = answer["results"]
        pages.append(rows)
        if rows:
            last = max((r[1], r[0]) for r in rows)
            cursor = max(cursor, last) if cursor else last
        if not answer["hasMore"]:
            return pages
    raise AssertionError("paging did not end")


def test_backwards_events_arrive_before_the_newest(fresh_store: DemoStore, http: requests.Session) -> None:
    newest = fresh_store.cursor().execute('SELECT max("timestamp") FROM events').fetchall()[0][0]
    before = fresh_store.event_count()
    plan = FaultPlan.at("backwards_events", "query", 1, new_events=4, backwards_seconds=600)
    with DemoPostHog(fresh_store, api_key=API_KEY, faults=plan) as api:
        assert _post(http, api).status_code == 200
        pages = keyset_pages(http, api, 500)
    assert fresh_store.event_count() == before + 4
    added = (
        fresh_store.cursor()
        .execute(
            'SELECT "timestamp", created_at FROM events WHERE "timestamp" < ? AND created_at > ?',
            [newest, newest],
        )
        .fetchall()
    )
    assert len(added) >= 4
    assert len({row[0] for page in pages for row in page}) == before + 4


def test_probability_faults_are_seeded(small_store: DemoStore, http: requests.Session) -> None:
    def run() -> list[int]:
        plan = FaultPlan(
            seed=42, faults=[Fault(kind="status", endpoint="query", probability=0.4, status=503)]
        )
        with DemoPostHog(small_store, api_key=API_KEY, faults=plan) as api:
            return [_post(http, api).status_code for _ in range(12)]

    first, second = run(), run()
    assert first == second and Counter(first)[503] > 0 and Counter(first)[200] > 0


def test_times_limit_and_endpoint_match(small_store: DemoStore, http: requests.Session) -> None:
    plan = FaultPlan(faults=[Fault(kind="status", endpoint="persons", probability=1.0, times=2, status=500)])
    with DemoPostHog(small_store, api_key=API_KEY, faults=plan) as api:
        codes = [http.get(f"{api.url}/api/projects/1/persons/", timeout=10).status_code for _ in range(3)]
        assert _post(http, api).status_code == 200
    assert codes == [500, 500, 200]
