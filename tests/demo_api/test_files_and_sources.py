"""Batch-export files, the real drone-shop export, scaled generation, the live feed and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
import requests

from ingestion.demo_api.batch_export import BATCH_EXPORT_COLUMNS
from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from tests.conftest import DRONE_SHOP_EXPORT, REPO_ROOT
from tests.demo_api.conftest import API_KEY, hogql


def test_parquet_batch_export(small_store: DemoStore, tmp_path: Path) -> None:
    files = small_store.write_batch_export(tmp_path / "bucket", "parquet", rows_per_file=400)
    assert files and all(f.suffix == ".parquet" for f in files)
    table = ds.dataset([str(f) for f in files], format="parquet").to_table()
    assert table.column_names == list(BATCH_EXPORT_COLUMNS)
    assert table.num_rows == small_store.event_count()
    assert sorted(table["uuid"].to_pylist()) == sorted(small_store.events_arrow()["uuid"].to_pylist())
    assert table.schema.field("timestamp").type.tz == "UTC"
    for f in files:
        part = ds.dataset(str(f), format="parquet").to_table()
        assert part.num_rows <= 400
        days = {d.strftime("%Y-%m-%d") for d in part["timestamp"].to_pylist()}
        assert days == {f.parent.name}  # one folder per UTC day, like a bucket prefix
    json.loads(table["properties"][0].as_py())
    assert pc.sum(pc.is_null(table["person_properties"])).as_py() == 0


def test_jsonl_batch_export(small_store: DemoStore, tmp_path: Path) -> None:
    files = small_store.write_batch_export(tmp_path, "jsonl")
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert len(lines) == small_store.event_count()
    assert set(lines[0]) == set(BATCH_EXPORT_COLUMNS)
    assert isinstance(lines[0]["properties"], str) and datetime.fromisoformat(lines[0]["timestamp"]).tzinfo
    with pytest.raises(ValueError):
        small_store.write_batch_export(tmp_path, "csv")


def test_drone_shop_served_with_deterministic_uuids(http: requests.Session) -> None:
    first = DemoStore.from_drone_shop(DRONE_SHOP_EXPORT)
    second = DemoStore.from_drone_shop(DRONE_SHOP_EXPORT)
    uuids = first.events_arrow()["uuid"].to_pylist()
    assert len(uuids) == len(set(uuids)) == 372
    assert uuids == second.events_arrow()["uuid"].to_pylist()
    with DemoPostHog(first, api_key=API_KEY) as api:
        answer = hogql(
            http,
            api,
            "select uuid, timestamp, event, person_id from events order by timestamp desc, uuid limit 1",
        )
        persons = http.get(f"{api.url}/api/projects/1/persons/", timeout=10).json()["results"]
    assert answer["results"][0][1] == "2025-12-08T21:48:08.975000+00:00"  # naive export time read as UTC
    assert answer["results"][0][2] == "$pageleave"
    assert {p["id"] for p in persons} >= {answer["results"][0][3]}


def test_generate_scaled_exact_count_and_consistency() -> None:
    end = datetime(2026, 11, 23, 12, tzinfo=UTC)
    store = DemoStore.generate_scaled(12_000, seed=3, end=end)
    table = store.events_arrow()
    assert table.num_rows == 12_000
    assert pc.count_distinct(table["uuid"]).as_py() == 12_000
    assert pc.max(table["timestamp"]).as_py() < end
    cur = store.cursor()
    assert cur.execute("SELECT count(*) FROM events WHERE NOT json_valid(properties)").fetchall()[0][0] == 0
    unmapped = cur.execute(
        "SELECT count(*) FROM events e ANTI JOIN person_distinct_ids m USING (project_id, distinct_id)"
    ).fetchall()[0][0]
    wrong = cur.execute(
        "SELECT count(*) FROM events e JOIN person_distinct_ids m USING (project_id, distinct_id) "
        "WHERE m.person_id <> e.person_id"
    ).fetchall()[0][0]
    assert (unmapped, wrong) == (0, 0)
    events = set(table["event"].to_pylist())
    assert {"$pageview", "$autocapture", "$rageclick", "$identify", "product_clicked"} <= events
    again = DemoStore.generate_scaled(12_000, seed=3, end=end)
    assert again.events_arrow()["uuid"].to_pylist() == table["uuid"].to_pylist()


def test_live_feed_appends_fresh_events(fresh_store: DemoStore) -> None:
    before = fresh_store.event_count()
    started = datetime.now(UTC)
    fresh_store.start_live(200)
    try:
        deadline = time.monotonic() + 20
        while fresh_store.event_count() < before + 20 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        appended = fresh_store.stop_live()
    assert appended >= 20 and fresh_store.event_count() == before + appended
    fresh = (
        fresh_store.cursor()
        .execute('SELECT min("timestamp"), count(DISTINCT uuid) FROM events WHERE created_at >= ?', [started])
        .fetchall()[0]
    )
    assert fresh[0] >= started and fresh[1] == appended


def test_cli_serves_the_demo(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingestion.demo_api",
            "--port",
            "0",
            "--users",
            "10",
            "--days",
            "1",
            "--api-key",
            API_KEY,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = line.split(" at ")[1].split()[0]
        answer = requests.post(
            f"{url}/api/projects/1/query/",
            json={"query": {"kind": "HogQLQuery", "query": "select count() from events"}},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=30,
        )
        assert answer.status_code == 200 and answer.json()["results"][0][0] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
