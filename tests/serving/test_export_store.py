"""ExportStore: lookups, validation, listings and reloads on a published export folder."""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

# Project packages from the checkout, and the sample export shared with the MCP tests.
sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1] / "mcp")]

import pyarrow as pa  # noqa: E402
from sample_export import (  # noqa: E402
    ALICE,
    AS_OF,
    BOB,
    CARA,
    CONTEXT_SCHEMA,
    DAN,
    sample_rows,
    sample_table,
    write_sample_export,
)

from serving.store import ExportNotFound, ExportStore, InvalidUserId, validate_user_id  # noqa: E402


@pytest.fixture
def store(tmp_path: Path) -> ExportStore:
    write_sample_export(tmp_path / "export")
    return ExportStore(tmp_path / "export", check_interval_ms=0)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "x" * 257,
        "../secret",
        "a/b",
        "a\\b",
        "..",
        "tab\tid",
        "new\nline",
        "nul\x00",
        "bell\x07",
        "sep\u2028x",
        42,
        None,
    ],
)
def test_impossible_ids_are_invalid(bad: object) -> None:
    with pytest.raises(InvalidUserId):
        validate_user_id(bad)


@pytest.mark.parametrize(
    "ok",
    [
        "x" * 256,
        "alice@example.com",
        "0190d6c2-7b1e-7c3e-9a51-2f1c0b7e8d11",
        "dan'; DROP TABLE users;--",
        "{{ jinja }}",
        "ünïcødé-ユーザー",
        "a.b.c",
    ],
)
def test_unusual_but_possible_ids_are_valid(ok: str) -> None:
    assert validate_user_id(ok) == ok


def test_lookup_by_person_id_and_every_distinct_id(store: ExportStore) -> None:
    snap = store.snapshot()
    assert snap.row_count == 4
    for person_id, distinct_ids in {
        ALICE: ["alice@example.com", "anon-alice-1"],
        BOB: ["bob-device-7"],
        CARA: ["cara"],
        DAN: ["dan'; DROP TABLE users;--"],
    }.items():
        for user_id in [person_id, *distinct_ids]:
            row = snap.get(user_id)
            assert row is not None and row["person_id"] == person_id
            assert row["distinct_ids"] == distinct_ids
    alice = snap.get("anon-alice-1")
    assert [e["uuid"] for e in alice["recent_events"]] == ["a-4", "a-3", "a-2", "a-1"]
    assert alice["last_seen"] == "2026-11-23T17:55:00Z"
    assert alice["context_as_of"] == "2026-11-23T18:00:00Z"
    assert {p["code"] for p in alice["patterns"]} == {"checkout_abandoned", "product_comparison"}
    assert snap.get("nobody") is None
    assert snap.get("1' OR '1'='1") is None
    with pytest.raises(InvalidUserId):
        snap.get("../../etc/passwd")


def test_manifest_redacted_keys_are_dropped_at_any_depth(store: ExportStore) -> None:
    alice = store.snapshot().get(ALICE)
    assert "email" not in json.dumps(alice["recent_events"])
    clicked = next(e for e in alice["recent_events"] if e["uuid"] == "a-3")
    assert clicked["properties"] == {"plan": "pro", "contact": {}}
    assert store.snapshot().manifest["redacted_keys"] == ["email"]


def test_find_users_filters_and_orders_newest_first(store: ExportStore) -> None:
    snap = store.snapshot()
    ids = lambda users: [u["person_id"] for u in users]  # noqa: E731
    assert ids(snap.find_users()) == [ALICE, BOB, CARA, DAN]
    assert ids(snap.find_users(limit=2)) == [ALICE, BOB]
    assert ids(snap.find_users(pattern="checkout_abandoned")) == [ALICE, BOB]
    assert ids(snap.find_users(pattern="rage_click")) == [BOB]
    assert ids(snap.find_users(cohort="12")) == [ALICE, BOB]
    assert ids(snap.find_users(cohort="returning visitors")) == [ALICE, CARA]
    assert ids(snap.find_users(pattern="checkout_abandoned", cohort="rules:returning")) == [ALICE]
    assert ids(snap.find_users(active_within_minutes=60, now=AS_OF)) == [ALICE]
    assert ids(snap.find_users(active_within_minutes=60 * 3, now=AS_OF)) == [ALICE, BOB]
    assert ids(snap.find_users(cohort="rules:returning", active_within_minutes=60 * 25, now=AS_OF)) == [
        ALICE,
        CARA,
    ]
    for bad in (
        {"pattern": "nope"},
        {"cohort": "nope"},
        {"limit": 0},
        {"limit": 501},
        {"active_within_minutes": 0},
    ):
        with pytest.raises(ValueError):
            snap.find_users(**bad)


def test_patterns_and_cohorts_count_members(store: ExportStore) -> None:
    snap = store.snapshot()
    patterns = {p["code"]: p for p in snap.patterns()}
    assert {k: v["member_count"] for k, v in patterns.items()} == {
        "checkout_abandoned": 2,
        "rage_click": 1,
        "product_comparison": 1,
    }
    assert patterns["checkout_abandoned"]["severity"] == "HIGH"
    assert [p["code"] for p in snap.patterns()][0] == "checkout_abandoned"  # HIGH first
    cohorts = {c["id"]: (c["name"], c["member_count"]) for c in snap.cohorts()}
    assert cohorts == {"12": ("Drone buyers", 2), "rules:returning": ("Returning visitors", 2)}


def test_no_export_yet(tmp_path: Path) -> None:
    store = ExportStore(tmp_path / "nothing-here", check_interval_ms=0)
    with pytest.raises(ExportNotFound, match="no export yet"):
        store.snapshot()


def test_reload_when_current_moves_and_old_snapshot_stays_whole(store: ExportStore) -> None:
    old = store.snapshot()
    later = AS_OF + timedelta(hours=1)
    table = sample_table(later).slice(0, 2)
    write_sample_export(store.export_dir, table, as_of=later)
    new = store.snapshot()
    assert new.as_of_iso == "2026-11-23T19:00:00Z" and new.row_count == 2
    assert new.version != old.version
    assert new.get(CARA) is None
    # The snapshot taken before the swap still answers from its own version.
    assert old.as_of_iso == "2026-11-23T18:00:00Z" and old.get(CARA) is not None


def test_unreadable_new_version_keeps_the_previous_one(store: ExportStore) -> None:
    before = store.snapshot()
    broken = store.export_dir / "versions" / "20991231T000000Z-dead"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text('{"as_of": "2099-12-31T00:00:00Z"}')  # parquet files missing
    link = store.export_dir / ".tmp-link-broken"
    os.symlink(os.path.join("versions", broken.name), link)
    os.replace(link, store.export_dir / "current")
    assert store.snapshot().version == before.version
    write_sample_export(store.export_dir, as_of=AS_OF + timedelta(minutes=5))
    assert store.snapshot().as_of_iso == "2026-11-23T18:05:00Z"


def test_check_interval_limits_how_often_current_is_looked_at(tmp_path: Path) -> None:
    write_sample_export(tmp_path / "export")
    store = ExportStore(tmp_path / "export", check_interval_ms=3_600_000)
    first = store.snapshot()
    write_sample_export(tmp_path / "export", as_of=AS_OF + timedelta(minutes=1))
    assert store.snapshot() is first  # not looked at again within the hour


def test_new_version_loads_in_the_background_without_a_wait(tmp_path: Path) -> None:
    write_sample_export(tmp_path / "export")
    store = ExportStore(tmp_path / "export", check_interval_ms=0, reload_wait_ms=0)
    first = store.snapshot()
    write_sample_export(tmp_path / "export", as_of=AS_OF + timedelta(minutes=2))
    seen = {store.snapshot().as_of_iso}  # the old version or the new one, whichever is ready
    for _ in range(10_000):
        seen.add(store.snapshot().as_of_iso)
        if "2026-11-23T18:02:00Z" in seen:
            break
        threading.Event().wait(0.01)
    assert seen <= {first.as_of_iso, "2026-11-23T18:02:00Z"}
    assert "2026-11-23T18:02:00Z" in seen


def test_same_distinct_id_in_two_projects_needs_project_id(tmp_path: Path) -> None:
    rows = sample_rows()
    twin = dict(rows[2], person_id="018f-cara-in-project-2", project_id=2)
    write_sample_export(tmp_path / "export", pa.Table.from_pylist([*rows, twin], schema=CONTEXT_SCHEMA))
    snap = ExportStore(tmp_path / "export", check_interval_ms=0).snapshot()
    with pytest.raises(LookupError, match="several projects"):
        snap.get("cara")
    assert snap.get("cara", project_id=1)["person_id"] == CARA
    assert snap.get("cara", project_id=2)["person_id"] == "018f-cara-in-project-2"
    assert snap.get("cara", project_id=3) is None
    assert snap.get(CARA)["project_id"] == 1
