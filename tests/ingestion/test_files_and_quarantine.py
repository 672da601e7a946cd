"""Batch-export files, the drone-shop SQL export, and quarantine of malformed events."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from ingestion_helpers import store_uuids, warehouse_uuids

from ingestion.batch_files import load_json_export
from ingestion.demo_api.store import DemoStore
from ingestion.pipeline import run_batch_files_load
from ingestion.warehouse import read_table
from tests.conftest import DRONE_SHOP_EXPORT

DRONE_SHOP = DRONE_SHOP_EXPORT


def _good(i: int, **over: object) -> dict:
    row = {
        "event": "$pageview",
        "distinct_id": f"user-{i}",
        "timestamp": f"2025-12-08 10:{i % 60:02d}:00.000000",
        "properties": {"$current_url": f"https://shop.example/p/{i}", "$session_id": "s1"},
        "elements_chain": "",
        "person_id": None,
        "created_at": "2025-12-08 10:00:01.000000",
    }
    row.update(over)
    return row


def test_drone_shop_export_loads_once_even_twice(ws) -> None:
    first = load_json_export(DRONE_SHOP, 1, ws)
    assert first.events_loaded == 372 and first.events_quarantined == 0
    second = load_json_export(DRONE_SHOP, 1, ws)
    assert second.events_quarantined == 0
    stats = read_table(
        ws,
        "SELECT count(*) AS n, count(DISTINCT uuid) AS u, bool_and(uuid_generated) AS gen,"
        " min(source) AS src, max(project_id) AS pid, max(timestamp) AS newest FROM posthog_raw.events",
    ).to_pylist()[0]
    assert stats["n"] == stats["u"] == 372
    assert stats["gen"] is True and stats["src"] == "json_export" and stats["pid"] == 1
    # Naive timestamps in the export are UTC.
    assert stats["newest"] == datetime(2025, 12, 8, 21, 48, 8, 975000, tzinfo=UTC)
    props = read_table(ws, "SELECT properties FROM posthog_raw.events LIMIT 1")["properties"][0].as_py()
    assert isinstance(json.loads(props), dict)


def test_malformed_events_are_quarantined_with_reasons_and_counted(tmp_path, ws, monkeypatch) -> None:
    monkeypatch.setenv("MAX_PROPERTIES_BYTES", "2000")
    deep: dict = {}
    node = deep
    for _ in range(70):
        node["x"] = {}
        node = node["x"]
    rows = [
        _good(1),
        _good(2),
        _good(3, timestamp=None),
        _good(4, timestamp="last tuesday"),
        _good(5, timestamp="1970-01-01T00:00:00Z"),
        _good(6, timestamp=(datetime.now(UTC) + timedelta(days=30)).isoformat()),
        _good(7, event=None),
        _good(8, distinct_id=""),
        _good(9, properties=[1, 2, 3]),
        _good(10, properties="{not json"),
        _good(11, properties={"blob": "x" * 5000}),
        _good(12, properties=deep),
        _good(13, uuid="0b5c6a2e-1111-4222-8333-444455556666"),
        _good(14, uuid="0b5c6a2e-1111-4222-8333-444455556666", event="other"),
        _good(15, event="nul\u0000name"),
    ]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows))
    summary = load_json_export(path, 1, ws)
    expected = {
        "missing_timestamp": 1,
        "bad_timestamp": 1,
        "timestamp_out_of_range": 2,
        "missing_event": 1,
        "missing_distinct_id": 1,
        "properties_not_object": 1,
        "properties_bad_json": 1,
        "properties_too_large": 1,
        "properties_too_deep": 1,
        "duplicate_uuid_conflict": 1,
    }
    assert summary.quarantine_reasons == expected
    assert summary.events_quarantined == sum(expected.values())
    assert summary.events_loaded == len(rows) - sum(expected.values())
    assert summary.repaired_text == {"event:nul": 1}

    q = read_table(ws, "SELECT reason, detail, raw_payload, source FROM posthog_raw.events_quarantine")
    assert q.num_rows == sum(expected.values())
    assert all(r["detail"] and r["source"] == "json_export" for r in q.to_pylist())
    payloads = [json.loads(r) for r in q["raw_payload"].to_pylist()]
    assert {p.get("distinct_id") for p in payloads} >= {"user-3", "user-4", "user-9"}

    # Nothing lost, nothing doubled: loaded + quarantined = input, and a reload adds no rows anywhere.
    load_json_export(path, 1, ws)
    counts = read_table(
        ws,
        "SELECT (SELECT count(*) FROM posthog_raw.events) AS e,"
        " (SELECT count(*) FROM posthog_raw.events_quarantine) AS q",
    ).to_pylist()[0]
    assert counts["e"] + counts["q"] == len(rows)


def test_batch_export_parquet_loads_incrementally(tmp_path, ws) -> None:
    store = DemoStore.generate(seed=4, users=10, days=2)
    folder = tmp_path / "bucket"
    files = store.write_batch_export(folder, "parquet", rows_per_file=200)
    assert len(files) > 1
    summary = run_batch_files_load(str(folder), "parquet", 1, ws)
    assert summary.files == len(files)
    loaded = warehouse_uuids(ws)
    assert len(loaded) == len(set(loaded)) == store.event_count()
    assert set(loaded) == store_uuids(store)
    assert read_table(ws, "SELECT DISTINCT source FROM posthog_raw.events")["source"].to_pylist() == [
        "batch_export"
    ]

    again = run_batch_files_load(str(folder), "parquet", 1, ws)
    assert again.files == 0 and again.events_loaded == 0

    # A new file arriving later is read; its overlap with loaded events does not duplicate them.
    extra = pq.read_table(files[0]).slice(0, 5)
    new_rows = pq.read_table(files[-1]).slice(0, 3)
    fresh = new_rows.set_column(
        0, "uuid", pa.array([f"00000000-0000-4000-8000-00000000000{i}" for i in range(3)])
    )
    later = folder / "later" / "events-99999.parquet"
    later.parent.mkdir()
    pq.write_table(pa.concat_tables([extra, fresh]), later)
    future = time.time() + 5
    os.utime(later, (future, future))
    third = run_batch_files_load(str(folder), "parquet", 1, ws)
    assert third.files == 1
    assert len(warehouse_uuids(ws)) == store.event_count() + 3


def test_batch_export_jsonl_loads(tmp_path, ws) -> None:
    store = DemoStore.generate(seed=4, users=10, days=2)
    folder = tmp_path / "jsonl"
    store.write_batch_export(folder, "jsonl", rows_per_file=150)
    run_batch_files_load(str(folder), "jsonl", 1, ws)
    loaded = warehouse_uuids(ws)
    assert len(loaded) == len(set(loaded)) == store.event_count()
    props = read_table(ws, "SELECT properties FROM posthog_raw.events LIMIT 5")["properties"].to_pylist()
    assert all(isinstance(json.loads(p), dict) for p in props)


def test_jsonl_with_object_properties_and_bad_rows(tmp_path, ws) -> None:
    """PostHog may write properties as nested objects; unknown projects and bad rows are quarantined."""
    folder = tmp_path / "objs"
    folder.mkdir()
    lines = [
        {
            "uuid": "a0000000-0000-4000-8000-000000000001",
            "event": "e",
            "distinct_id": "d",
            "timestamp": "2025-12-08T10:00:00+02:00",
            "properties": {"k": [1, {"z": None}]},
            "elements_chain": "",
        },
        {
            "uuid": "a0000000-0000-4000-8000-000000000002",
            "event": "e",
            "distinct_id": "d",
            "timestamp": "2025-12-08T10:00:00Z",
            "properties": {"k": 2},
            "team_id": 77,
        },
        {
            "uuid": "a0000000-0000-4000-8000-000000000003",
            "event": "e",
            "distinct_id": None,
            "timestamp": "2025-12-08T10:00:00Z",
            "properties": {},
        },
    ]
    (folder / "part-0.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    summary = run_batch_files_load(str(folder), "jsonl", 1, ws)
    assert summary.events_loaded == 1
    assert summary.quarantine_reasons == {"unknown_project": 1, "missing_distinct_id": 1}
    row = read_table(ws, "SELECT timestamp, properties FROM posthog_raw.events").to_pylist()[0]
    assert row["timestamp"] == datetime(2025, 12, 8, 8, 0, tzinfo=UTC)
    assert json.loads(row["properties"]) == {"k": [1, {"z": None}]}
