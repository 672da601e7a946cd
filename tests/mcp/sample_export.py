"""A small hand-made `user_context` table, published with the project's real export writer.

The rows follow the `user_context` contract columns; publishing goes through
`serving.export_writer.write_export`, so the store and the MCP server are tested on exactly the folder
the pipeline writes (layout, manifest, redaction, atomic `current` swap).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from serving.export_writer import write_export

AS_OF = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)

ALICE = "018f-alice-person"
BOB = "018f-bob-person"
CARA = "018f-cara-person"
DAN = "018f-dan-person"

CONTEXT_SCHEMA = pa.schema(
    [
        ("person_id", pa.string()),
        ("project_id", pa.int64()),
        ("distinct_ids", pa.string()),
        ("recent_events", pa.string()),
        ("last_session_id", pa.string()),
        ("last_session_summary", pa.string()),
        ("patterns", pa.string()),
        ("cohorts", pa.string()),
        ("first_seen", pa.timestamp("us", tz="UTC")),
        ("last_seen", pa.timestamp("us", tz="UTC")),
        ("session_count", pa.int64()),
        ("event_count", pa.int64()),
        ("device_type", pa.string()),
        ("browser", pa.string()),
        ("country", pa.string()),
        ("context_as_of", pa.timestamp("us", tz="UTC")),
        ("prompt_text", pa.string()),
    ]
)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _event(
    uuid: str,
    at: datetime,
    label: str,
    event_name: str,
    page: str,
    session: str,
    seq: int,
    event_type: str = "pageview",
    action_type: str = "view",
) -> dict[str, Any]:
    return {
        "label": label,
        "event_type": event_type,
        "action_type": action_type,
        "event_name": event_name,
        "timestamp": _iso(at),
        "page": page,
        "session_id": session,
        "sequence_number": seq,
        "uuid": uuid,
    }


def sample_rows(as_of: datetime = AS_OF) -> list[dict[str, Any]]:
    """Four people: one abandoning checkout (HIGH pattern, two cohorts), one rage-clicking, one quiet,
    one old visitor. Alice's events carry a nested `email` key that redaction must remove."""
    t = as_of - timedelta(minutes=5)
    alice_events = [
        _event("a-4", t, "Viewed checkout page", "$pageview", "/checkout", "s-a2", 4),
        _event(
            "a-3",
            t - timedelta(minutes=1),
            "Clicked 'Add to cart' button",
            "$autocapture",
            "/products/x1",
            "s-a2",
            3,
            "click",
            "click",
        ),
        _event(
            "a-2",
            t - timedelta(minutes=2),
            "Viewed product X1 drone page",
            "$pageview",
            "/products/x1",
            "s-a2",
            2,
        ),
        _event("a-1", t - timedelta(minutes=3), "Viewed home page", "$pageview", "/", "s-a2", 1),
    ]
    alice_events[1]["properties"] = {"plan": "pro", "contact": {"email": "alice@example.com"}}
    alice_patterns = [
        {
            "code": "checkout_abandoned",
            "severity": "HIGH",
            "description": "Started checkout but did not place an order",
            "session_id": "s-a2",
            "matched_count": 1,
            "first_at": _iso(t),
            "last_at": _iso(t),
            "evidence": [{"uuid": "a-4", "at": _iso(t), "label": "Viewed checkout page"}],
        },
        {
            "code": "product_comparison",
            "severity": "LOW",
            "description": "Compared several products",
            "session_id": "s-a1",
            "matched_count": 2,
            "first_at": _iso(t - timedelta(days=1)),
            "last_at": _iso(t - timedelta(days=1, minutes=-3)),
            "evidence": [
                {"uuid": "a-0a", "at": _iso(t - timedelta(days=1)), "label": "Viewed product X1 drone page"},
                {
                    "uuid": "a-0b",
                    "at": _iso(t - timedelta(days=1, minutes=-3)),
                    "label": "Viewed product X2 page",
                },
            ],
        },
    ]
    bob_t = as_of - timedelta(hours=2)
    bob_events = [
        _event(
            "b-2",
            bob_t,
            "Rage-clicked 'Pay' button on payment page",
            "$rageclick",
            "/checkout/payment",
            "s-b1",
            2,
            "click",
            "rage_click",
        ),
        _event(
            "b-1",
            bob_t - timedelta(minutes=1),
            "Viewed payment page",
            "$pageview",
            "/checkout/payment",
            "s-b1",
            1,
        ),
    ]
    bob_patterns = [
        {
            "code": "rage_click",
            "severity": "MEDIUM",
            "description": "Clicked the same element repeatedly in frustration",
            "session_id": "s-b1",
            "matched_count": 1,
            "first_at": _iso(bob_t),
            "last_at": _iso(bob_t),
            "evidence": [
                {"uuid": "b-2", "at": _iso(bob_t), "label": "Rage-clicked 'Pay' button on payment page"}
            ],
        },
        {
            "code": "checkout_abandoned",
            "severity": "HIGH",
            "description": "Started checkout but did not place an order",
            "session_id": "s-b1",
            "matched_count": 2,
            "first_at": _iso(bob_t - timedelta(minutes=1)),
            "last_at": _iso(bob_t),
            "evidence": [
                {"uuid": "b-1", "at": _iso(bob_t - timedelta(minutes=1)), "label": "Viewed payment page"},
                {"uuid": "b-2", "at": _iso(bob_t), "label": "Rage-clicked 'Pay' button on payment page"},
            ],
        },
    ]
    cara_t = as_of - timedelta(days=1)
    dan_t = as_of - timedelta(days=6)
    people = [
        (
            ALICE,
            ["alice@example.com", "anon-alice-1"],
            alice_events,
            "s-a2",
            "Browsed the X1 drone, added it to the cart and opened checkout",
            alice_patterns,
            [{"id": "12", "name": "Drone buyers"}, {"id": "rules:returning", "name": "Returning visitors"}],
            t,
            2,
            9,
            "Desktop",
            "Chrome",
            "DE",
        ),
        (
            BOB,
            ["bob-device-7"],
            bob_events,
            "s-b1",
            "Struggled on the payment page",
            bob_patterns,
            [{"id": "12", "name": "Drone buyers"}],
            bob_t,
            1,
            2,
            "Mobile",
            "Safari",
            "US",
        ),
        (
            CARA,
            ["cara"],
            [_event("c-1", cara_t, "Viewed pricing page", "$pageview", "/pricing", "s-c1", 1)],
            "s-c1",
            "Looked at pricing",
            [],
            [{"id": "rules:returning", "name": "Returning visitors"}],
            cara_t,
            3,
            1,
            "Desktop",
            "Firefox",
            "FR",
        ),
        (
            DAN,
            ["dan'; DROP TABLE users;--"],
            [_event("d-1", dan_t, "Viewed home page", "$pageview", "/", "s-d1", 1)],
            "s-d1",
            "Bounced from the home page",
            [],
            [],
            dan_t,
            1,
            1,
            None,
            None,
            None,
        ),
    ]
    rows = []
    for (
        pid,
        dids,
        events,
        last_session,
        summary,
        patterns,
        cohorts,
        last_seen,
        sessions,
        n_events,
        device,
        browser,
        country,
    ) in people:
        lines = [f"User {pid} (last seen {_iso(last_seen)}). Last session: {summary}."]
        lines += [f"- {e['timestamp']} {e['label']}" for e in events]
        lines += [f"Pattern {p['code']} ({p['severity']}): {p['description']}" for p in patterns]
        rows.append(
            {
                "person_id": pid,
                "project_id": 1,
                "distinct_ids": json.dumps(dids),
                "recent_events": json.dumps(events),
                "last_session_id": last_session,
                "last_session_summary": summary,
                "patterns": json.dumps(patterns),
                "cohorts": json.dumps(cohorts),
                "first_seen": last_seen - timedelta(days=3),
                "last_seen": last_seen,
                "session_count": sessions,
                "event_count": n_events,
                "device_type": device,
                "browser": browser,
                "country": country,
                "context_as_of": as_of,
                "prompt_text": "\n".join(lines),
            }
        )
    return rows


def sample_table(as_of: datetime = AS_OF) -> pa.Table:
    return pa.Table.from_pylist(sample_rows(as_of), schema=CONTEXT_SCHEMA)


def write_sample_export(
    export_dir: Path,
    table: pa.Table | None = None,
    *,
    as_of: datetime = AS_OF,
    redact_keys: set[str] | None = None,
    keep_versions: int = 3,
) -> dict[str, Any]:
    """Publish `table` (default: the sample people) as a new export version and return its manifest."""
    table = sample_table(as_of) if table is None else table
    redact_keys = {"email"} if redact_keys is None else redact_keys
    return write_export(
        table, Path(export_dir), redact_keys=redact_keys, as_of=as_of, keep_versions=keep_versions
    )
