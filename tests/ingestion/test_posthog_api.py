"""PostHog source against the demo API over real HTTP, into a real DuckDB file."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from ingestion_helpers import store_uuids, warehouse_uuids

from ingestion.demo_api.faults import Fault, FaultPlan
from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from ingestion.pipeline import current_cursor, run_posthog_load
from ingestion.posthog.client import PostHogAuthError, PostHogError
from ingestion.posthog.probe import count_new_events
from ingestion.settings import PostHogSettings, WarehouseSettings
from ingestion.warehouse import read_table


def _new_event(ts: datetime, n: int, distinct_id: str = "late-user") -> dict:
    return {
        "event": "late_event",
        "distinct_id": distinct_id,
        "timestamp": ts.isoformat(),
        "properties": {"n": n, "$session_id": f"s-{distinct_id}"},
        "elements_chain": "",
    }


def test_full_load_every_event_once_and_rerun_adds_nothing(demo, store, ws, settings) -> None:
    summary = run_posthog_load(settings, ws, demo=demo)
    loaded = warehouse_uuids(ws)
    assert len(loaded) == len(set(loaded)) == store.event_count()
    assert set(loaded) == store_uuids(store)
    assert summary.events_quarantined == 0
    assert summary.projects == [1]
    assert summary.newest_event_at is not None

    tables = read_table(
        ws,
        "SELECT (SELECT count(*) FROM posthog_raw.persons) AS persons,"
        " (SELECT count(*) FROM posthog_raw.person_distinct_ids) AS dids,"
        " (SELECT count(*) FROM posthog_raw.cohorts) AS cohorts,"
        " (SELECT count(*) FROM posthog_raw.cohort_filter_nodes) AS nodes",
    ).to_pylist()[0]
    n_persons = store.cursor().execute("SELECT count(*) FROM persons").fetchone()[0]
    assert tables["persons"] == n_persons > 0
    assert tables["dids"] >= n_persons
    assert tables["cohorts"] == len(store.cohorts.get(1, []))
    if tables["cohorts"]:
        assert tables["nodes"] >= tables["cohorts"]

    # JSON stays one text column; no child tables.
    names = read_table(
        ws, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'posthog_raw'"
    )["table_name"].to_pylist()
    assert not [n for n in names if "__" in n]
    assert {"events", "events_quarantine", "persons", "person_distinct_ids", "cohorts"} <= set(names)
    col_types = {
        r["column_name"]: r["data_type"]
        for r in read_table(
            ws,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'posthog_raw' AND table_name = 'events'",
        ).to_pylist()
    }
    assert col_types["properties"] == "VARCHAR"
    assert col_types["elements_chain"] == "VARCHAR"
    assert col_types["timestamp"].startswith("TIMESTAMP WITH TIME ZONE")
    assert col_types["project_id"] == "BIGINT"

    second = run_posthog_load(settings, ws, demo=demo)
    again = warehouse_uuids(ws)
    assert len(again) == len(set(again)) == store.event_count()
    assert second.rows_by_table.get("events", 0) <= summary.rows_by_table["events"]


def test_request_count_within_budget(store, ws) -> None:
    with DemoPostHog(store) as demo:
        page = 200
        settings = PostHogSettings(page_size=page)
        summary = run_posthog_load(settings, ws, demo=demo, resources=["events"])
        n = store.event_count()
        budget = math.ceil(n / page) + 2
        assert demo.request_count["query"] <= budget
        assert summary.requests_by_kind["events_query"] <= budget
        assert len(warehouse_uuids(ws)) == n


def test_new_events_after_a_run_are_picked_up(demo, store, ws, settings) -> None:
    run_posthog_load(settings, ws, demo=demo, resources=["events"])
    before = len(warehouse_uuids(ws))
    now = datetime.now(UTC)
    added = store.append_events([_new_event(now - timedelta(seconds=30 - i), i) for i in range(7)])
    assert added == 7
    run_posthog_load(settings, ws, demo=demo, resources=["events"])
    after = warehouse_uuids(ws)
    assert len(after) == len(set(after)) == before + 7 == store.event_count()


def test_timestamp_ties_across_page_edges(ws) -> None:
    store = DemoStore.generate(seed=3, users=3, days=2, personas=False, cohorts=False)
    tie = datetime.now(UTC).replace(microsecond=123456) - timedelta(hours=1)
    store.append_events([_new_event(tie, i, distinct_id=f"tie-{i % 3}") for i in range(23)])
    n = store.event_count()
    with DemoPostHog(store) as demo:
        settings = PostHogSettings(page_size=5)
        run_posthog_load(settings, ws, demo=demo, resources=["events"])
        loaded = warehouse_uuids(ws)
        assert len(loaded) == len(set(loaded)) == n
        assert set(loaded) == store_uuids(store)
        ties = read_table(ws, "SELECT count(*) AS n FROM posthog_raw.events WHERE event = 'late_event'")["n"][
            0
        ].as_py()
        assert ties == 23


def test_late_event_inside_lookback_is_picked_up(demo, store, ws) -> None:
    settings = PostHogSettings(lookback_hours=6)
    run_posthog_load(settings, ws, demo=demo, resources=["events"])
    cursor = current_cursor(ws)[1]
    late = store.append_events([_new_event(cursor - timedelta(hours=2), 1, distinct_id="offline")])
    assert late == 1
    summary = run_posthog_load(settings, ws, demo=demo, resources=["events"])
    loaded = warehouse_uuids(ws)
    assert len(loaded) == len(set(loaded)) == store.event_count()
    assert (
        read_table(ws, "SELECT count(*) AS n FROM posthog_raw.events WHERE distinct_id = 'offline'")["n"][
            0
        ].as_py()
        == 1
    )
    assert summary.events_loaded >= 1


def test_429_and_500_are_retried(store, ws) -> None:
    plan = FaultPlan(
        faults=[
            Fault(kind="status", endpoint="query", on_requests={1}, status=429, retry_after=0.05),
            Fault(kind="status", endpoint="query", on_requests={2, 3}, status=500),
            Fault(kind="status", endpoint="cohorts", on_requests={1}, status=503),
            Fault(kind="truncated_json", endpoint="query", on_requests={5}),
        ]
    )
    with DemoPostHog(store, faults=plan) as demo:
        summary = run_posthog_load(PostHogSettings(max_retries=4), ws, demo=demo)
    loaded = warehouse_uuids(ws)
    assert len(loaded) == len(set(loaded)) == store.event_count()
    assert summary.retries >= 4
    assert len(plan.fired) >= 4


def test_retries_exhausted_fail_clearly(store, ws) -> None:
    plan = FaultPlan(faults=[Fault(kind="status", endpoint="query", probability=1.0, status=502)])
    with DemoPostHog(store, faults=plan) as demo:
        with pytest.raises(PostHogError) as info:
            run_posthog_load(PostHogSettings(max_retries=2), ws, demo=demo, resources=["events"])
    message = str(info.value)
    assert demo.url in message and "project 1" in message and "3 attempts" in message
    assert current_cursor(ws) == {}


def test_wrong_key_fails_with_clear_message_without_the_key(demo, ws) -> None:
    secret = "phx_wrong_secret_key_1234567890"
    settings = PostHogSettings(host=demo.url, api_key=secret, max_retries=3)
    with pytest.raises(PostHogAuthError) as info:
        run_posthog_load(settings, ws)
    message = str(info.value)
    assert demo.url in message and "project 1" in message and "401" in message
    assert secret not in message and secret not in repr(info.value)
    assert sum(demo.request_count.values()) == 1  # no retry on 401

    wrong_project = PostHogSettings(host=demo.url, api_key="phx_demo_key", project_ids=[999])
    with pytest.raises(PostHogAuthError) as info:
        run_posthog_load(wrong_project, ws)
    assert "project 999" in str(info.value)


def test_legacy_events_api(demo, store, ws) -> None:
    settings = PostHogSettings(events_api="legacy", page_size=50_000)
    assert settings.legacy_page_size == 1000
    summary = run_posthog_load(settings, ws, demo=demo)
    loaded = warehouse_uuids(ws)
    assert len(loaded) == len(set(loaded)) == store.event_count()
    assert summary.source == "events_api"
    assert demo.request_count["events"] >= math.ceil(store.event_count() / 1000)
    sources = read_table(ws, "SELECT DISTINCT source FROM posthog_raw.events")["source"].to_pylist()
    assert sources == ["events_api"]
    run_posthog_load(settings, ws, demo=demo)
    assert len(warehouse_uuids(ws)) == store.event_count()


def test_multi_project_rows_carry_project_id(ws) -> None:
    store = DemoStore.generate(seed=5, users=8, days=2, project_ids=(1, 2), personas=False)
    with DemoPostHog(store, project_ids=(1, 2)) as demo:
        summary = run_posthog_load(PostHogSettings(project_ids=[1, 2]), ws, demo=demo)
    assert summary.projects == [1, 2]
    for pid in (1, 2):
        loaded = warehouse_uuids(ws, pid)
        assert set(loaded) == store_uuids(store, pid) and len(loaded) == store.event_count(pid)
    for table in ("events", "persons", "person_distinct_ids"):
        pids = read_table(ws, f"SELECT DISTINCT project_id FROM posthog_raw.{table} ORDER BY 1")
        assert pids["project_id"].to_pylist() == [1, 2]
    assert set(current_cursor(ws)) == {1, 2}


def test_time_range_backfill_rereads_exactly_that_range(demo, store, ws, settings) -> None:
    newest = store.cursor().execute("SELECT max(timestamp) FROM events").fetchone()[0]
    day_start = datetime(newest.year, newest.month, newest.day, tzinfo=UTC)
    day_end = day_start + timedelta(days=1)
    summary = run_posthog_load(settings, ws, demo=demo, resources=["events"], time_range=(day_start, day_end))
    in_range = (
        store.cursor()
        .execute("SELECT count(*) FROM events WHERE timestamp >= ? AND timestamp < ?", [day_start, day_end])
        .fetchone()[0]
    )
    assert len(warehouse_uuids(ws)) == in_range == summary.events_loaded
    assert current_cursor(ws) == {}  # a backfill does not move the incremental cursor
    run_posthog_load(settings, ws, demo=demo, resources=["events"], time_range=(day_start, day_end))
    assert len(warehouse_uuids(ws)) == in_range
    run_posthog_load(settings, ws, demo=demo, resources=["events"])
    assert len(warehouse_uuids(ws)) == store.event_count()


def test_probe_counts_new_events_with_one_query(demo, store, ws, settings) -> None:
    run_posthog_load(settings, ws, demo=demo, resources=["events"])
    cursor = current_cursor(ws)
    before = demo.request_count["query"]
    count, newest = count_new_events(settings, cursor, demo=demo)
    assert demo.request_count["query"] == before + 1
    assert count == 0
    store.append_events([_new_event(datetime.now(UTC) - timedelta(seconds=5), i) for i in range(4)])
    count, newest = count_new_events(settings, cursor, demo=demo)
    assert count == 4 and newest is not None and newest > cursor[1]


def test_page_faults_still_give_every_event_once(store, ws) -> None:
    plan = FaultPlan(
        faults=[
            Fault(kind="empty_page", endpoint="query", on_requests={2}),
            Fault(kind="short_page", endpoint="query", on_requests={3}),
            Fault(kind="repeat_rows", endpoint="query", on_requests={5}),
            Fault(kind="reset", endpoint="query", on_requests={6}),
            Fault(kind="invalid_json", endpoint="query", on_requests={7}),
        ]
    )
    with DemoPostHog(store, faults=plan) as demo:
        run_posthog_load(PostHogSettings(page_size=100), ws, demo=demo, resources=["events"])
        run_posthog_load(PostHogSettings(page_size=100), ws, demo=demo, resources=["events"])
    loaded = warehouse_uuids(ws)
    assert len(loaded) == len(set(loaded)) == store.event_count()


def test_demo_mode_without_key_starts_bundled_server(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DEMO_USERS", "5")
    monkeypatch.setenv("DEMO_DAYS", "1")
    ws = WarehouseSettings(duckdb_path=tmp_path / "demo.duckdb")
    settings = PostHogSettings.from_env({})
    assert settings.uses_demo
    summary = run_posthog_load(settings, ws, resources=["events"])
    assert summary.events_loaded > 0 and summary.http_requests >= 1
    assert len(warehouse_uuids(ws)) == summary.events_loaded


def test_failed_load_keeps_data_for_the_next_run(demo, store, ws, settings, monkeypatch) -> None:
    """Extract succeeds but the load cannot reach the warehouse: the next run loads it, nothing lost."""
    from dlt import Pipeline

    original = Pipeline.load
    calls = {"n": 0}

    def crash_on_first_load(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("simulated crash between extract and load")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "load", crash_on_first_load)
    with pytest.raises(Exception, match="simulated crash"):
        run_posthog_load(settings, ws, demo=demo, resources=["events"])
    assert warehouse_uuids_or_empty(ws) == []
    store.append_events([_new_event(datetime.now(UTC) - timedelta(seconds=3), 1, distinct_id="after-crash")])
    run_posthog_load(settings, ws, demo=demo, resources=["events"])
    loaded = warehouse_uuids(ws)
    assert len(loaded) == len(set(loaded)) == store.event_count()


def warehouse_uuids_or_empty(ws: WarehouseSettings) -> list[str]:
    try:
        return warehouse_uuids(ws)
    except Exception:  # noqa: BLE001 - no table yet
        return []


def test_events_arriving_behind_the_cursor_are_caught_by_the_lookback(store, ws) -> None:
    """New events whose timestamps lie before the newest loaded one (clock going backwards)."""
    plan = FaultPlan(
        faults=[
            Fault(
                kind="backwards_events",
                endpoint="query",
                on_requests={3},
                new_events=5,
                backwards_seconds=3600,
            )
        ]
    )
    settings = PostHogSettings(lookback_hours=2)
    with DemoPostHog(store, faults=plan) as demo:
        before = store.event_count()
        run_posthog_load(settings, ws, demo=demo, resources=["events"])  # query requests 1-2
        run_posthog_load(settings, ws, demo=demo, resources=["events"])  # request 3 adds 5 events
        run_posthog_load(settings, ws, demo=demo, resources=["events"])
    assert store.event_count() == before + 5
    loaded = warehouse_uuids(ws)
    assert len(loaded) == len(set(loaded)) == store.event_count()
