"""Legacy events endpoint (ascending, exclusive bounds, 1000 cap) and the persons/cohorts lists."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import requests

from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from tests.demo_api.conftest import END


def _follow(http: requests.Session, url: str, params: dict) -> tuple[list[dict], int]:
    results, pages = [], 0
    response = http.get(url, params=params, timeout=30)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        results.extend(body["results"])
        pages += 1
        if not body["next"]:
            return results, pages
        response = http.get(body["next"], timeout=30)


def test_legacy_ascending_paging_with_exclusive_bounds(
    server: DemoPostHog, http: requests.Session, small_store: DemoStore
) -> None:
    cur = small_store.cursor()
    after, before = (
        cur.execute('SELECT "timestamp" FROM events ORDER BY "timestamp" LIMIT 2 OFFSET 200').fetchall()[0][
            0
        ],
        END - timedelta(hours=2),
    )
    expected = {
        r[0]
        for r in cur.execute(
            'SELECT uuid FROM events WHERE "timestamp" > ? AND "timestamp" < ?', [after, before]
        ).fetchall()
    }
    results, pages = _follow(
        http,
        f"{server.url}/api/projects/1/events/",
        {
            "after": after.isoformat(),
            "before": before.isoformat(),
            "orderBy": json.dumps(["timestamp"]),
            "limit": 150,
        },
    )
    ids = [r["id"] for r in results]
    assert pages > 2 and len(ids) == len(set(ids))
    assert set(ids) == expected
    stamps = [r["timestamp"] for r in results]
    assert stamps == sorted(stamps)
    first = results[0]
    assert isinstance(first["properties"], dict) and "elements_chain" in first and first["elements"] == []
    assert first["person"] is None or "properties" in first["person"]


def test_legacy_page_cap_and_newest_first(server: DemoPostHog, http: requests.Session) -> None:
    after = (END - timedelta(days=2)).isoformat()
    body = http.get(
        f"{server.url}/api/projects/1/events/", params={"after": after, "limit": 5000}, timeout=30
    )
    results = body.json()["results"]
    assert len(results) == 1000
    stamps = [r["timestamp"] for r in results]
    assert stamps == sorted(stamps, reverse=True)
    nxt = parse_qs(urlsplit(body.json()["next"]).query)
    assert nxt["before"] == [results[-1]["timestamp"]]


def test_persons_pages(server: DemoPostHog, http: requests.Session, small_store: DemoStore) -> None:
    people, _ = _follow(http, f"{server.url}/api/projects/1/persons/", {"limit": 7})
    ids = [p["id"] for p in people]
    assert len(ids) == len(set(ids)) == small_store.persons_arrow().num_rows
    mapping = small_store.distinct_ids_arrow()
    assert sum(len(p["distinct_ids"]) for p in people) == mapping.num_rows
    one = http.get(
        f"{server.url}/api/projects/1/persons/",
        params={"distinct_id": mapping["distinct_id"][0].as_py()},
        timeout=10,
    ).json()["results"]
    assert [p["id"] for p in one] == [mapping["person_id"][0].as_py()]


def test_cohorts_pages(server: DemoPostHog, http: requests.Session, small_store: DemoStore) -> None:
    cohorts, pages = _follow(http, f"{server.url}/api/projects/1/cohorts/", {"limit": 4})
    assert pages > 1 and cohorts == small_store.cohorts[1]
    assert all("filters" in c and "id" in c for c in cohorts)


def test_legacy_page_faults_keep_a_next_link(small_store: DemoStore, http: requests.Session) -> None:
    from ingestion.demo_api.faults import Fault, FaultPlan
    from tests.demo_api.conftest import API_KEY

    plan = FaultPlan(
        faults=[
            Fault(kind="empty_page", endpoint="events", on_requests={2}),
            Fault(kind="short_page", endpoint="events", on_requests={3}),
        ]
    )
    after = (END - timedelta(days=2)).isoformat()
    with DemoPostHog(small_store, api_key=API_KEY, faults=plan) as api:
        results, pages = _follow(
            http,
            f"{api.url}/api/projects/1/events/",
            {"after": after, "orderBy": json.dumps(["timestamp"]), "limit": 100},
        )
    expected = (
        small_store.cursor()
        .execute('SELECT count(*) FROM events WHERE "timestamp" > ?', [END - timedelta(days=2)])
        .fetchall()[0][0]
    )
    assert len({r["id"] for r in results}) == len(results) == expected
    assert plan.fired == [("events", 2, "empty_page"), ("events", 3, "short_page")]
