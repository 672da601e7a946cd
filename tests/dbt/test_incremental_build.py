"""Incremental runs after new, late and re-stitched events give exactly what a full refresh gives."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dbt_harness import duckdb_workspace, load_raw, run_dbt, write_export

PERSON_A = "019aff19-86cb-7abd-b27e-5e3a34fc85f2"  # 5 sessions in the export
PERSON_B = "019aff1e-0ace-7a5c-80a8-cfdac2d7e743"
LAST_SESSION_A = "019affef-35d2-7660-86dc-8e9873937f61"  # ends 2025-12-08 21:48:08.975
OLD_SESSION_A = "019aee4f-016d-715e-9143-135b316f7144"  # 2025-12-05 11:39 .. 12:05, far outside look-back
ANON = "anon-visitor-late-1"
LATE_ONLY = "late-only-visitor-c"  # a new person whose events all arrive days late
LATE_SESSION_C = "019aee50-0000-7000-8000-00000000c0c0"

# refreshed_at / context_as_of say which run last recomputed a row: they differ by design.
SNAPSHOTS = {
    "fct_enriched_events": (
        "select * exclude (refreshed_at) from analytics.fct_enriched_events order by event_uuid"
    ),
    "fct_sessions": (
        "select * exclude (refreshed_at) from analytics.fct_sessions order by project_id, session_id"
    ),
    "fct_user_patterns": (
        "select * exclude (refreshed_at) from analytics.fct_user_patterns "
        "order by project_id, session_id, pattern_code"
    ),
    "dim_persons": "select * from analytics.dim_persons order by project_id, person_id",
    "user_context": "select * exclude (context_as_of) from analytics.user_context order by person_id",
    "fct_event_activity_hourly": (
        "select * from analytics.fct_event_activity_hourly order by project_id, period_start, event_name"
    ),
}


def _props(**extra: object) -> dict[str, object]:
    return {"token": "sample_token", **extra}


def _batch_one() -> list[dict]:
    end = datetime(2025, 12, 8, 21, 48, 8, 975000)
    rows = [
        # the newest session goes on: same $session_id, new pages
        {"event": "$pageview", "timestamp": end + timedelta(minutes=2), "distinct_id": PERSON_A,
         "properties": _props(**{"$session_id": LAST_SESSION_A, "$pathname": "/checkout"})},
        {"event": "$autocapture", "timestamp": end + timedelta(minutes=3), "distinct_id": PERSON_A,
         "elements_chain": 'button.pay:attr__class="pay"text="Pay now"',
         "properties": _props(**{"$session_id": LAST_SESSION_A, "$pathname": "/checkout/payment",
                                 "$event_type": "click"})},
        # a late event in the middle of a days-old session: its sequence numbers must shift
        {"event": "product_clicked", "timestamp": datetime(2025, 12, 5, 11, 45, 0, 1000),
         "distinct_id": PERSON_A,
         "properties": _props(**{"$session_id": OLD_SESSION_A, "product_name": "Late Drone"})},
    ]
    # an anonymous visitor without $session_id: two derived sessions (gap of 40 minutes)
    start = end - timedelta(hours=2)
    for minutes in (0, 10, 50, 55):
        rows.append({"event": "$pageview", "timestamp": start + timedelta(minutes=minutes),
                     "distinct_id": ANON, "properties": _props(**{"$pathname": f"/pricing/{minutes}"})})
    return rows


def _batch_two() -> list[dict]:
    end = datetime(2025, 12, 8, 21, 48, 8, 975000)
    return [
        # the anonymous visitor identifies as person B: its earlier events move to B
        {"event": "$identify", "timestamp": end + timedelta(minutes=5), "distinct_id": PERSON_B,
         "properties": _props(**{"$anon_distinct_id": ANON})},
        # an older event of A that arrives late and is sessionized by inactivity (no $session_id)
        {"event": "filter_changed", "timestamp": end - timedelta(hours=30), "distinct_id": PERSON_A,
         "properties": _props(filter_value="Racing")},
    ]


def _batch_three() -> list[dict]:
    """Only late data: a new person's whole history days back, plus a late event for person B."""
    start = datetime(2025, 12, 6, 9, 0, 0)
    rows = [
        {"event": "$pageview", "timestamp": start + timedelta(minutes=m), "distinct_id": LATE_ONLY,
         "properties": _props(**{"$session_id": LATE_SESSION_C, "$pathname": f"/drones/{m}"})}
        for m in (0, 1, 2, 4)
    ]
    rows.append({"event": "$pageview", "timestamp": start + timedelta(hours=3), "distinct_id": LATE_ONLY,
                 "properties": _props(**{"$pathname": "/support"})})
    rows.append({"event": "filter_changed", "timestamp": start + timedelta(hours=5), "distinct_id": PERSON_B,
                 "properties": _props(filter_value="Camera")})
    return rows


def _stamps(db_path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {
            "sessions": con.execute(
                "select person_id, session_id, refreshed_at from analytics.fct_sessions"
            ).fetchall(),
            "context": con.execute(
                "select person_id, context_as_of from analytics.user_context"
            ).fetchall(),
        }
    finally:
        con.close()


def _snapshot(db_path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {name: con.execute(sql).fetchall() for name, sql in SNAPSHOTS.items()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def incremental_and_full(tmp_path_factory: pytest.TempPathFactory):
    from ingestion.batch_files import load_json_export

    work, db_path, ws, env = duckdb_workspace(tmp_path_factory, "incremental")
    load_raw(ws)
    run_dbt(["run"], env)
    before = _snapshot(db_path)

    load_json_export(write_export(work / "batch1.json", _batch_one()), 1, ws)
    run_dbt(["run"], env)
    after_one = _snapshot(db_path)
    load_json_export(write_export(work / "batch2.json", _batch_two()), 1, ws)
    run_dbt(["run"], env)
    stamps_two = _stamps(db_path)
    load_json_export(write_export(work / "batch3.json", _batch_three()), 1, ws)
    run_dbt(["run"], env)
    incremental = _snapshot(db_path)
    stamps_three = _stamps(db_path)

    run_dbt(["run", "--full-refresh"], env)
    full = _snapshot(db_path)
    return before, after_one, incremental, full, (stamps_two, stamps_three)


@pytest.mark.parametrize("table", sorted(SNAPSHOTS))
def test_incremental_equals_full_refresh(incremental_and_full, table):
    _, _, incremental, full, _ = incremental_and_full
    assert len(incremental[table]) == len(full[table])
    differences = [(a, b) for a, b in zip(incremental[table], full[table], strict=True) if a != b]
    assert not differences, f"{table}: incremental vs full refresh differ, e.g. {differences[:2]}"


def test_new_data_was_really_applied(incremental_and_full):
    before, after_one, incremental, _, _ = incremental_and_full
    assert len(before["fct_enriched_events"]) == 372
    assert len(after_one["fct_enriched_events"]) == 372 + 7
    assert len(incremental["fct_enriched_events"]) == 372 + 9 + 6
    # person count: A, B and (after batch one) the anonymous visitor; batch two merges it into B;
    # batch three adds the late-only visitor
    assert len({row[2] for row in after_one["fct_enriched_events"]}) == 3
    assert len({row[2] for row in incremental["fct_enriched_events"]}) == 3
    sessions_before = {row[0] for row in before["fct_sessions"]}
    sessions_after = {row[0] for row in incremental["fct_sessions"]}
    derived = sessions_after - sessions_before
    # two for the anonymous visitor, one for the $identify event, one for A's late event
    # two for the anonymous visitor, one for the $identify event, one for A's late event, one for
    # the late-only visitor's event without $session_id, one for B's late event
    assert len([s for s in derived if s.startswith("derived-")]) == 6
    assert LATE_SESSION_C in sessions_after


def test_late_only_run_recomputes_only_touched_persons(incremental_and_full):
    """Batch three has only late events: A's sessions and context are kept, not rebuilt."""
    _, _, incremental, _, (two, three) = incremental_and_full
    newest_two = max(stamp for _, _, stamp in two["sessions"])
    newest_three = max(stamp for _, _, stamp in three["sessions"])
    assert newest_three > newest_two
    kept = [row for row in three["sessions"] if row[2] < newest_three]
    assert kept, "every session was recomputed although only late events arrived"
    redone = {person for person, _, stamp in three["sessions"] if stamp == newest_three}
    late_person = {row[2] for row in incremental["fct_enriched_events"] if row[3] == LATE_ONLY}
    assert late_person <= redone
    context_stamps = dict(three["context"])
    assert all(context_stamps[p] == newest_three for p in late_person)
    # person A got nothing in batch three: its sessions and context row are the ones of run two
    person_a = {row[2] for row in incremental["fct_enriched_events"] if row[3] == PERSON_A}
    assert person_a and not person_a & redone
    assert all(context_stamps[p] == dict(two["context"])[p] for p in person_a)
