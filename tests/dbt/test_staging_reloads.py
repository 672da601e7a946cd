"""Staging writes only new or changed events when the loader re-reads its look-back window.

Two real loads of JSON exports (dlt merge on uuid) with `dbt run` of the staging model after each:
the second load re-reads one event unchanged, one with new properties and adds one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dbt_harness import duckdb_workspace, run_dbt, write_export

START = datetime(2025, 12, 8, 10, 0, 0)
UNCHANGED, CHANGED, UNTOUCHED, NEW = (f"0193a000-0000-7000-8000-00000000000{i}" for i in range(1, 5))
COLUMNS = "event_uuid, event_name, distinct_id, event_at, properties, session_id, pathname"


def _event(uuid: str, minutes: int, pathname: str) -> dict:
    return {
        "uuid": uuid,
        "event": "$pageview",
        "timestamp": START + timedelta(minutes=minutes),
        "distinct_id": "reload-visitor",
        "properties": {"$session_id": "reload-session", "$pathname": pathname},
    }


def _rows(db_path: Path, sql: str) -> dict[str, tuple]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {row[0]: row[1:] for row in con.execute(sql).fetchall()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def reloaded(tmp_path_factory: pytest.TempPathFactory):
    from ingestion.batch_files import load_json_export

    work, db_path, ws, env = duckdb_workspace(tmp_path_factory, "reloads")
    select = ["run", "--select", "stg_posthog__events"]

    first = [_event(UNCHANGED, 0, "/a"), _event(CHANGED, 1, "/b"), _event(UNTOUCHED, 2, "/c")]
    load_json_export(write_export(work / "one.json", first), 1, ws)
    run_dbt(select, env)
    staged_one = _rows(db_path, "select event_uuid, loaded_at from staging.stg_posthog__events")

    second = [_event(UNCHANGED, 0, "/a"), _event(CHANGED, 1, "/b-edited"), _event(NEW, 3, "/d")]
    load_json_export(write_export(work / "two.json", second), 1, ws)
    raw_two = _rows(db_path, "select uuid, _loaded_at from posthog_raw.events")
    run_dbt(select, env)
    staged_two = _rows(db_path, f"select {COLUMNS}, loaded_at from staging.stg_posthog__events")

    run_dbt([*select, "--full-refresh"], env)
    rebuilt = _rows(db_path, f"select {COLUMNS} from staging.stg_posthog__events")
    return staged_one, raw_two, staged_two, rebuilt


def test_unchanged_reload_keeps_its_staged_row(reloaded):
    staged_one, raw_two, staged_two, _ = reloaded
    first_loaded = staged_one[UNCHANGED][0]
    assert raw_two[UNCHANGED][0] > first_loaded, "the loader did not re-stamp the re-read event"
    assert staged_two[UNCHANGED][-1] == first_loaded
    assert staged_two[UNTOUCHED][-1] == staged_one[UNTOUCHED][0]


def test_changed_and_new_events_are_written(reloaded):
    staged_one, _, staged_two, _ = reloaded
    assert staged_two[CHANGED][-1] > staged_one[CHANGED][0]
    assert '"/b-edited"' in staged_two[CHANGED][3]
    assert staged_two[CHANGED][5] == "/b-edited"
    assert staged_two[NEW][5] == "/d"
    assert set(staged_two) == {UNCHANGED, CHANGED, UNTOUCHED, NEW}


def test_incremental_staging_equals_full_refresh(reloaded):
    _, _, staged_two, rebuilt = reloaded
    assert {uuid: row[:-1] for uuid, row in staged_two.items()} == rebuilt
