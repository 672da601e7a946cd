"""Bad and hostile rows served through the demo PostHog (real HTTP), with the reason each one should get.

Each builder returns (rows, expected quarantine reason or None when the row must load). Rows are in the
demo store's column layout so they can carry what `append_events` would tidy up (NULLs, raw text).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.demo_api.store import EVENTS_SCHEMA, DemoStore

HOSTILE_TEXT = (
    "O'Brien \"quoted\" '; drop table analytics.user_context; -- {{ config(materialized='view') }} {% x %}"
)
REDACT_CANARY = "redact-canary-7731@example.com"
NO_EVENTS_PERSON = "person-without-events-0001"
GARBAGE_CHAINS = [
    'a.btn:attr__href="/unclosed;text="Buy',
    ';;;:::""""',
    'button:text="a"b"c";nth-child="x"',
    "\x01\x02:attr__=;;",
    "a" * 5000,
    'div:attr__class="x\\"y";a:text="ok"',
    'span:text="\'; drop table analytics.fct_sessions; --"',
]


def _row(n: int, now: datetime, **over: Any) -> dict[str, Any]:
    base = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"hostile-{n}")),
        "project_id": 1,
        "event": "$pageview",
        "distinct_id": f"hostile-user-{n % 4}",
        "timestamp": now - timedelta(hours=2, seconds=n),
        "created_at": now - timedelta(hours=2),
        "properties": json.dumps(
            {
                "$current_url": "https://shop.example.com/x",
                "$pathname": "/x",
                "$session_id": f"hostile-s-{n % 4}",
            }
        ),
        "elements_chain": "",
        "person_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"hostile-person-{n % 4}")),
    }
    base.update(over)
    return base


def hostile_rows(now: datetime) -> list[tuple[dict[str, Any], str | None, str]]:
    """(row, expected reason or None, what it is) for the HTTP path."""
    deep: Any = "bottom"
    for _ in range(100):
        deep = {"d": deep}
    cases: list[tuple[dict[str, Any], str | None, str]] = []
    n = 0

    def add(reason: str | None, what: str, **over: Any) -> None:
        nonlocal n
        n += 1
        cases.append((_row(n, now, **over), reason, what))

    add("timestamp_out_of_range", "far-future timestamp", timestamp=now + timedelta(days=400))
    add("timestamp_out_of_range", "1970 timestamp", timestamp=datetime(1970, 1, 1, tzinfo=UTC))
    add("missing_event", "missing event name", event=None)
    add("missing_event", "blank event name", event="   ")
    add("missing_distinct_id", "missing distinct id", distinct_id=None)
    add("missing_distinct_id", "empty distinct id", distinct_id="")
    add("properties_not_object", "properties is an array", properties="[1, 2, 3]")
    add("properties_not_object", "properties is a string", properties='"just text"')
    add("properties_bad_json", "properties not JSON", properties="{not json")
    add("properties_too_large", "2 MB properties", properties=json.dumps({"blob": "x" * 2_000_000}))
    add("properties_too_deep", "100 levels of nesting", properties=json.dumps({"root": deep}))
    # Loaded (repaired or kept as text): control characters, NUL escapes, garbage element chains.
    add(None, "control characters", event="ctrl\x01\x1b[31mred\x7f", properties=json.dumps({"k": "v\x02\t"}))
    add(None, "NUL escape in properties", properties='{"k": "a\\u0000b", "$session_id": "hostile-s-1"}')
    for chain in GARBAGE_CHAINS:
        add(
            None,
            "elements_chain garbage",
            event="$autocapture",
            elements_chain=chain,
            properties=json.dumps({"$event_type": "click", "$pathname": "/x", "$session_id": "hostile-s-2"}),
        )
    # Hostile values that must reach labels as plain text.
    add(
        None,
        "hostile product_name",
        event="product_viewed",
        properties=json.dumps({"product_name": HOSTILE_TEXT, "$pathname": "/products/1"}),
    )
    add(
        None,
        "hostile template event",
        event="hostile_event",
        properties=json.dumps({"message": HOSTILE_TEXT, "$pathname": "/x"}),
    )
    add(
        None,
        "hostile page path",
        properties=json.dumps(
            {"$pathname": "/o'brien';--/{{x}}", "$current_url": "https://shop.example.com/o'brien';--/{{x}}"}
        ),
    )
    # Privacy keys nested inside objects, for the redaction checks.
    add(
        None,
        "nested privacy keys",
        event="form_submitted",
        distinct_id="hostile-user-redact",
        properties=json.dumps(
            {
                "form_name": "contact",
                "profile": {"contact": {"Email": REDACT_CANARY, "phone": REDACT_CANARY}},
                "items": [{"email": REDACT_CANARY}],
            }
        ),
    )
    # Duplicate uuid, different payload (same page): the first one loads, the second is quarantined.
    dup = str(uuid.uuid5(uuid.NAMESPACE_URL, "hostile-duplicate"))
    add(None, "duplicate uuid, first payload", uuid=dup, event="dup_first")
    cases[-1][0]["timestamp"] = now - timedelta(hours=1)
    add("duplicate_uuid_conflict", "duplicate uuid, other payload", uuid=dup, event="dup_second")
    cases[-1][0]["timestamp"] = now - timedelta(hours=1)
    return cases


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def serve_hostile_rows(store: DemoStore, now: datetime) -> list[tuple[dict[str, Any], str | None, str]]:
    cases = hostile_rows(now)
    # The demo derives persons from properties with SQL JSON functions, so unparseable ones skip that.
    parsed = [_parses(c[0]["properties"]) for c in cases]
    for ok in (True, False):
        rows = [c[0] for c, p in zip(cases, parsed, strict=True) if p is ok]
        store.insert_arrow(pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA), refresh_persons=ok)
    # A person with distinct ids but no events at all.
    store.set_person(1, NO_EVENTS_PERSON, {"plan": "free"}, True, distinct_ids=["no-events-did"])
    store.cursor().execute(
        'INSERT INTO persons VALUES (1, ?, ?, \'{"plan": "free"}\', true)', [NO_EVENTS_PERSON, now]
    )
    # Cohorts PostHog may return that the pipeline cannot evaluate.
    store.cohorts[1].extend(
        [
            {
                "id": 9001,
                "name": "Unsupported filter type",
                "filters": {
                    "properties": {
                        "type": "AND",
                        "values": [{"type": "flag", "key": "beta-feature", "value": True}],
                    }
                },
                "deleted": False,
                "is_static": False,
            },
            {
                "id": 9002,
                "name": "Malformed filters",
                "filters": "not an object",
                "deleted": False,
                "is_static": False,
            },
            {
                "id": 9003,
                "name": "Operator nobody knows",
                "filters": {
                    "properties": {
                        "type": "AND",
                        "values": [
                            {"type": "person", "key": "plan", "operator": "sounds_like", "value": "pro"}
                        ],
                    }
                },
                "deleted": False,
                "is_static": False,
            },
            {
                "id": 9004,
                "name": "Hostile '; drop table x; -- {{ name }}",
                "filters": {
                    "properties": {
                        "type": "AND",
                        "values": [
                            {
                                "type": "person",
                                "key": "plan",
                                "operator": "exact",
                                "value": ["'; drop table x; --"],
                            }
                        ],
                    }
                },
                "deleted": False,
                "is_static": False,
            },
        ]
    )
    return cases


def write_bad_batch_files(folder: Path, now: datetime) -> dict[str, int]:
    """A Parquet batch-export file and a JSONL one with the faults only files can carry; returns the
    quarantine reasons expected from them (invalid UTF-8 is repaired and loaded, not quarantined)."""
    day = folder / now.strftime("%Y-%m-%d")
    day.mkdir(parents=True)
    ts = (now - timedelta(hours=3)).isoformat()

    def uid(n: int) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"file-row-{n}"))

    rows = [
        (uid(1), b"bad\xff\xfeutf8", b"file-user", ts, b'{"k": "v\xc3\x28", "$session_id": "file-s"}', "1"),
        (uid(2), b"ok", b"file-user", "", b"{}", "1"),
        (uid(3), b"ok", b"file-user", "yesterday at noon", b"{}", "1"),
        (uid(4), b"ok", b"file-user", None, b"{}", "1"),
        (uid(5), b"ok", b"file-user", ts, b"{}", "999"),
        (uid(6), b"ok", b"file-user", "2026-13-45T10:00:00Z", b"{}", "1"),
        (uid(7), b"ctl\x00\x07bell", b"file-user", ts, b"{}", "1"),
    ]
    names = ["uuid", "event", "distinct_id", "timestamp", "properties", "team_id"]
    binary = {"event", "distinct_id", "properties"}
    table = pa.table(
        {
            name: pa.array([r[i] for r in rows], pa.binary() if name in binary else pa.string())
            for i, name in enumerate(names)
        }
    )
    pq.write_table(table, day / "part-0.parquet")
    lines = [
        b'{"uuid": "%s", "event": "jsonl_bad_\xff_byte", "distinct_id": "file-user", "timestamp": "%s",'
        b' "properties": {"a": 1}}' % (uid(8).encode(), ts.encode()),
        b'{"uuid": "%s", "event": "jsonl_ok", "distinct_id": "file-user", "timestamp": "%s",'
        b' "properties": {"a": 2}}' % (uid(9).encode(), ts.encode()),
    ]
    (day / "part-1.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return {"missing_timestamp": 2, "bad_timestamp": 2, "unknown_project": 1}


FILE_ROWS = 9
