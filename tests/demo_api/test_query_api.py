"""The HogQL query endpoint over real HTTP: keyset paging, limits, time zones, property access, errors."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from tests.demo_api.conftest import API_KEY, END, hogql, keyset_pages


def test_keyset_paging_returns_every_event_once(
    server: DemoPostHog, http: requests.Session, small_store: DemoStore
) -> None:
    pages = keyset_pages(http, server, 300)
    uuids = [row[0] for page in pages for row in page]
    expected = small_store.events_arrow()["uuid"].to_pylist()
    assert len(pages) > 2
    assert Counter(uuids) == Counter(expected)
    assert all(len(page) == 300 for page in pages[:-1])


def test_ties_on_timestamp_across_a_page_edge(fresh_store: DemoStore, http: requests.Session) -> None:
    cur = fresh_store.cursor()
    ts = cur.execute(
        'SELECT "timestamp" FROM events ORDER BY "timestamp", uuid LIMIT 1 OFFSET 95'
    ).fetchall()[0][0]
    tied = [
        {
            "uuid": f"00000000-0000-7000-8000-{i:012d}",
            "event": "tied_event",
            "distinct_id": "tie-user",
            "timestamp": ts,
            "properties": {"n": i},
        }
        for i in range(12)
    ]
    fresh_store.append_events(tied)
    with DemoPostHog(fresh_store, api_key=API_KEY) as api:
        pages = keyset_pages(http, api, 100)
    uuids = [row[0] for page in pages for row in page]
    assert Counter(uuids) == Counter(fresh_store.events_arrow()["uuid"].to_pylist())
    first_page = {row[0] for row in pages[0]}
    tie_ids = {t["uuid"] for t in tied}
    assert first_page & tie_ids and tie_ids - first_page  # the tie really straddles the page edge


def test_limits_and_has_more(server: DemoPostHog, http: requests.Session, small_store: DemoStore) -> None:
    default = hogql(http, server, "select uuid from events")
    assert len(default["results"]) == 100 and default["hasMore"] and default["limit"] == 100
    capped = hogql(http, server, "select uuid from events limit 1000000")
    total = small_store.event_count()
    assert capped["limit"] == 50_000
    assert len(capped["results"]) == min(total, 50_000)
    assert capped["hasMore"] is (total > 50_000)
    exact = hogql(http, server, f"select uuid from events order by timestamp limit {total}")
    assert len(exact["results"]) == total and exact["hasMore"] is False
    offset = hogql(http, server, "select uuid from events order by timestamp, uuid limit 10 offset 5")
    plain = hogql(http, server, "select uuid from events order by timestamp, uuid limit 15")
    assert offset["results"] == plain["results"][5:]


def test_count_max_min_and_filters(
    server: DemoPostHog, http: requests.Session, small_store: DemoStore
) -> None:
    answer = hogql(http, server, "select count(), max(timestamp), min(timestamp) from events")
    assert answer["columns"] == ["count()", "max(timestamp)", "min(timestamp)"]
    count, newest, oldest = answer["results"][0]
    assert count == small_store.event_count()
    assert datetime.fromisoformat(newest) <= END and datetime.fromisoformat(oldest) < datetime.fromisoformat(
        newest
    )
    pageviews = hogql(
        http,
        server,
        "select count() from events where event = '$pageview' and not "
        "(distinct_id = 'nobody' or event != '$pageview')",
    )["results"][0][0]
    expected = (
        small_store.cursor().execute("SELECT count(*) FROM events WHERE event = '$pageview'").fetchall()[0][0]
    )
    assert pageviews == expected > 0
    since = f"{END - timedelta(hours=6):%Y-%m-%d %H:%M:%S}"
    newer = hogql(http, server, f"select count() from events where timestamp >= toDateTime('{since}')")
    assert 0 < newer["results"][0][0] < count


def test_columns_types_and_property_access(server: DemoPostHog, http: requests.Session) -> None:
    answer = hogql(
        http,
        server,
        "select uuid, event, properties, properties.$session_id, "
        "properties.$screen_width, person.properties.email as email, elements_chain, "
        "person_id, created_at from events where event = '$autocapture' "
        "order by timestamp desc limit 5",
    )
    assert answer["columns"] == [
        "uuid",
        "event",
        "properties",
        "$session_id",
        "$screen_width",
        "email",
        "elements_chain",
        "person_id",
        "created_at",
    ]
    assert [t[0] for t in answer["types"]] == answer["columns"]
    for row in answer["results"]:
        props = json.loads(row[2])  # properties come back as a JSON string
        assert row[3] == props["$session_id"]
        assert row[4] == str(props["$screen_width"])  # raw value, quotes stripped
        assert row[6]
    persons = hogql(http, server, "select id, properties, is_identified, created_at from persons limit 3")
    assert len(persons["results"]) == 3 and isinstance(persons["results"][0][2], bool)
    mapping = hogql(http, server, "select distinct_id, person_id from person_distinct_ids limit 3")
    assert len(mapping["results"]) == 3


def test_datetimes_in_project_timezone(small_store: DemoStore, http: requests.Session) -> None:
    with DemoPostHog(small_store, api_key=API_KEY, timezone="America/New_York") as api:
        answer = hogql(http, api, "select uuid, timestamp from events order by timestamp, uuid limit 50000")
        naive = hogql(
            http, api, "select count() from events where timestamp < toDateTime('2026-11-23 10:30:00')"
        )
    with DemoPostHog(small_store, api_key=API_KEY) as api:
        utc = hogql(http, api, "select uuid, timestamp from events order by timestamp, uuid limit 50000")
        explicit = hogql(
            http,
            api,
            "select count() from events where timestamp < toDateTime64('2026-11-23 15:30:00', 6, 'UTC')",
        )
    new_york = ZoneInfo("America/New_York")
    offsets = Counter(row[1][-6:] for row in answer["results"])
    assert offsets["-05:00"] > 0  # November: EST (persona history in October is EDT, -04:00)
    for (u1, local), (u2, in_utc) in zip(answer["results"], utc["results"], strict=True):
        as_utc = datetime.fromisoformat(in_utc)
        assert u1 == u2 and datetime.fromisoformat(local) == as_utc
        assert datetime.fromisoformat(local).utcoffset() == as_utc.astimezone(new_york).utcoffset()
    assert utc["results"][0][1].endswith("+00:00")
    # a naive literal is read in the project's zone: 10:30 New York == 15:30 UTC
    assert naive["results"][0][0] == explicit["results"][0][0]


def test_summer_offset_differs() -> None:
    store = DemoStore.generate(
        seed=1, users=30, days=2, end=datetime.fromisoformat("2026-07-01T12:00:00+00:00"), personas=False
    )
    with DemoPostHog(store, api_key=API_KEY, timezone="Europe/Berlin") as api, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {API_KEY}"
        rows = hogql(http, api, "select timestamp from events limit 5")["results"]
    assert rows and all(r[0].endswith("+02:00") for r in rows)


def test_bad_queries_are_400(server: DemoPostHog, http: requests.Session) -> None:
    url = f"{server.url}/api/projects/1/query/"
    for query in (
        "select uuid from nowhere",
        "select uuid from events where",
        "drop table events",
        "select uuid from events; drop table events",
        "select nosuchcol from events",
        "select uuid from events where event = 'x' union select 1",
    ):
        response = http.post(url, json={"query": {"kind": "HogQLQuery", "query": query}}, timeout=10)
        assert response.status_code == 400, query
        body = response.json()
        assert body["type"] == "validation_error" and body["detail"]
    for body in ({"query": {"kind": "EventsQuery"}}, {"nope": 1}):
        assert http.post(url, json=body, timeout=10).status_code == 400
    assert http.post(url, data=b"{not json", timeout=10).status_code == 400
    # the store is untouched by injection attempts
    assert hogql(http, server, "select count() from events")["results"][0][0] > 0


def test_string_literals_are_bound_not_pasted(server: DemoPostHog, http: requests.Session) -> None:
    answer = hogql(http, server, "select count() from events where event = 'x'' or ''1''=''1'")
    assert answer["results"][0][0] == 0
    answer = hogql(http, server, "select count() from events where distinct_id = 'a\\' or 1=1 --'")
    assert answer["results"][0][0] == 0


def test_select_star_and_now_interval(server: DemoPostHog, http: requests.Session) -> None:
    answer = hogql(http, server, "select * from events order by timestamp desc limit 2")
    assert answer["columns"] == [
        "uuid",
        "event",
        "distinct_id",
        "timestamp",
        "created_at",
        "properties",
        "elements_chain",
        "person_id",
    ]
    assert len(answer["results"]) == 2
    future = hogql(http, server, "select count() from events where timestamp > now() + interval 1 day")
    recent = hogql(
        http,
        server,
        "select count() from events where timestamp > now() - interval 3650 day "
        "and event in ('$pageview', '$pageleave') and created_at is not null",
    )
    assert future["results"][0][0] == 0 and recent["results"][0][0] > 0
