"""The generated data: prefix-stable over time, realistic, and persons consistent with events."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc

from ingestion.demo_api.store import DemoStore

ELEMENT = re.compile(
    r'^[a-z0-9]+(\.[^.:;"]+)*\.?:((attr__[a-z0-9_-]+|attr_id|href|text|nth-child|nth-of-type)="([^"\\]|\\.)*")+$'
)


def _rows(store: DemoStore) -> dict[str, tuple]:
    table = store.events_arrow()
    cols = ["event", "distinct_id", "timestamp", "created_at", "properties", "elements_chain", "person_id"]
    data = {c: table.column(c).to_pylist() for c in ["uuid", *cols]}
    return {u: tuple(data[c][i] for c in cols) for i, u in enumerate(data["uuid"])}


def test_prefix_stable_across_ends() -> None:
    t1 = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
    t2 = datetime(2026, 11, 21, 17, 40, tzinfo=UTC)
    first = _rows(DemoStore.generate(seed=3, users=20, days=3, end=t1, personas=False))
    later = _rows(DemoStore.generate(seed=3, users=20, days=3, end=t2, personas=False))
    window_start = datetime(2026, 11, 19, tzinfo=UTC)  # first day of the later window
    expected = {u: r for u, r in first.items() if r[2] >= window_start}
    seen_by_t1 = {u: r for u, r in later.items() if window_start <= r[2] <= t1 and r[3] <= t1}
    assert len(expected) > 100, "the windows must overlap"
    assert seen_by_t1 == expected
    # late arrivals: timestamped before t1 but ingested after it, visible only in the later store
    late = {u for u, r in later.items() if r[2] <= t1 < r[3]}
    assert late and not late & set(first)


def test_same_end_same_data_and_nothing_after_end(small_store: DemoStore) -> None:
    from tests.demo_api.conftest import END

    again = DemoStore.generate(seed=11, users=40, days=3, end=END)
    assert _rows(again) == _rows(small_store)
    table = small_store.events_arrow()
    assert pc.max(table["timestamp"]).as_py() <= END
    assert pc.max(table["created_at"]).as_py() <= END


def test_realistic_traffic(small_store: DemoStore) -> None:
    table = small_store.events_arrow()
    events = set(table["event"].to_pylist())
    for name in (
        "$pageview",
        "$pageleave",
        "$autocapture",
        "$identify",
        "product_clicked",
        "item_added_to_cart",
        "checkout_started",
        "form_submitted",
        "interaction_click",
    ):
        assert name in events, name
    props = [json.loads(p) for p in table["properties"].to_pylist()]
    for p in props[:500]:
        for key in (
            "$current_url",
            "$pathname",
            "$host",
            "$browser",
            "$os",
            "$device_type",
            "$session_id",
            "$window_id",
            "$lib",
        ):
            assert key in p
    autocaptures = [
        (p, c)
        for p, c, e in zip(
            props, table["elements_chain"].to_pylist(), table["event"].to_pylist(), strict=True
        )
        if e == "$autocapture"
    ]
    assert {p["$event_type"] for p, _ in autocaptures} >= {"click", "submit", "change"}
    for _, chain in autocaptures[:300]:
        for element in chain.split(";"):
            assert ELEMENT.match(element), element
    identifies = [p for p in props if "$anon_distinct_id" in p]
    assert identifies and all("email" in p["$set"] for p in identifies)


def test_sessions_rotate_after_idle(small_store: DemoStore) -> None:
    rows = (
        small_store.cursor()
        .execute("""
        SELECT json_extract_string(properties, '$."$session_id"') AS sid, "timestamp"
        FROM events ORDER BY sid, "timestamp" """)
        .fetchall()
    )
    last: dict[str, datetime] = {}
    for sid, ts in rows:
        if sid in last:
            assert ts - last[sid] < timedelta(minutes=30), sid
        last[sid] = ts
    per_person = (
        small_store.cursor()
        .execute("""
        SELECT person_id, count(DISTINCT json_extract_string(properties, '$."$session_id"')) n
        FROM events GROUP BY 1 ORDER BY n DESC LIMIT 1""")
        .fetchall()
    )
    assert per_person[0][1] > 1


def test_late_events_exist() -> None:
    store = DemoStore.generate(
        seed=5, users=60, days=3, end=datetime(2026, 11, 22, 23, tzinfo=UTC), personas=False
    )
    late = (
        store.cursor()
        .execute('SELECT count(*) FROM events WHERE created_at > "timestamp" + INTERVAL 1 HOUR')
        .fetchall()[0][0]
    )
    assert late > 0


def test_persons_consistent_with_events(small_store: DemoStore) -> None:
    cur = small_store.cursor()
    mismatched = cur.execute("""
        SELECT count(*) FROM events e JOIN person_distinct_ids m USING (project_id, distinct_id)
        WHERE m.person_id <> e.person_id""").fetchall()[0][0]
    unmapped = cur.execute(
        "SELECT count(*) FROM events e ANTI JOIN person_distinct_ids m USING (project_id, distinct_id)"
    ).fetchall()[0][0]
    no_person = cur.execute(
        "SELECT count(*) FROM events e ANTI JOIN persons p "
        "ON p.project_id = e.project_id AND p.id = e.person_id"
    ).fetchall()[0][0]
    assert (mismatched, unmapped, no_person) == (0, 0, 0)
    identified = cur.execute("SELECT properties FROM persons WHERE is_identified").fetchall()
    assert identified and all("email" in json.loads(p) for (p,) in identified)
    merged = cur.execute(
        "SELECT count(*) FROM (SELECT person_id FROM person_distinct_ids GROUP BY 1 HAVING count(*) > 1)"
    ).fetchall()[0][0]
    assert merged > 0  # anonymous ids merged into identified persons


def test_personas_and_cohorts_included(small_store: DemoStore) -> None:
    from ingestion.demo_api.personas import PERSONAS

    cur = small_store.cursor()
    for persona in PERSONAS.values():
        n = cur.execute("SELECT count(*) FROM events WHERE person_id = ?", [persona.person_id]).fetchall()[0][
            0
        ]
        assert n > 0, persona.key
        props = cur.execute("SELECT properties FROM persons WHERE id = ?", [persona.person_id]).fetchall()
        assert json.loads(props[0][0]) == persona.properties
    assert small_store.cohorts[1]


def test_append_events_creates_people(fresh_store: DemoStore) -> None:
    before = fresh_store.event_count()
    added = fresh_store.append_events(
        [
            {
                "event": "$pageview",
                "distinct_id": "brand-new-visitor",
                "timestamp": "2026-11-23T16:00:00Z",
                "properties": {"$current_url": "https://shop.example.com/"},
            },
        ]
    )
    assert added == 1 and fresh_store.event_count() == before + 1
    mapping = (
        fresh_store.cursor()
        .execute("SELECT person_id FROM person_distinct_ids WHERE distinct_id = 'brand-new-visitor'")
        .fetchall()
    )
    assert len(mapping) == 1
    person = (
        fresh_store.cursor().execute("SELECT count(*) FROM persons WHERE id = ?", [mapping[0][0]]).fetchall()
    )
    assert person[0][0] == 1


def test_multiple_projects_have_separate_data() -> None:
    store = DemoStore.generate(
        seed=2,
        users=10,
        days=1,
        end=datetime(2026, 11, 22, 20, tzinfo=UTC),
        project_ids=(1, 2),
        personas=False,
    )
    a, b = store.events_arrow(1), store.events_arrow(2)
    assert a.num_rows and b.num_rows
    assert not set(a["uuid"].to_pylist()) & set(b["uuid"].to_pylist())
