"""The few calls the benchmark makes on the bundled demo PostHog (store, server, live feed)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingestion.demo_api.store import DemoStore

_SENSOR_NAMES = ("posthog_new_events_sensor", "new_events_sensor", "posthog_events_sensor")


def make_store(n_events: int, seed: int, end: datetime) -> DemoStore:
    """N generated events plus the demo cohorts, so cohort evaluation is part of the measured work."""
    store = DemoStore.generate_scaled(n_events, seed=seed, end=end)
    try:
        from ingestion.demo_api.demo_cohorts import demo_cohorts
    except ImportError:
        return store
    for project_id in store.project_ids:
        if not store.cohorts.get(project_id):
            store.cohorts[project_id] = list(demo_cohorts(project_id))
    return store


def event_count(store: DemoStore) -> int:
    return store.event_count()


def write_parquet(store: DemoStore, folder: Path) -> list[Path]:
    return store.write_batch_export(folder, "parquet")


@contextlib.contextmanager
def serve(store: DemoStore) -> Iterator[Any]:
    from ingestion.demo_api.server import DemoPostHog

    with DemoPostHog(store, api_key="phx_demo_key", project_ids=store.project_ids) as server:
        yield server


def server_url(server: Any) -> str:
    return str(server.url)


def request_counts(server: Any) -> dict[str, int]:
    counts = server.request_count
    return {str(k): int(v) for k, v in dict(counts).items()}


def query_requests(delta: dict[str, int]) -> int:
    """Requests to the query endpoint (what PostHog rate-limits hardest)."""
    return sum(v for k, v in delta.items() if "query" in k.lower())


def append_increment(store: DemoStore, n_new: int, n_late: int, seed: int) -> dict[str, int]:
    """Add about `n_new` events after the newest one (up to now) and `n_late` late ones in the look-back.

    Whole existing sessions are replayed under a new session id and fresh uuids, shifted so that they
    start after the newest event (new) or 10 min - 6 h before it with created_at = now (late): real
    users, realistic sessions, at the times an incremental run must find them.
    """
    newest = store.cursor().execute('select max("timestamp") from events').fetchall()[0][0]
    cur = store.cursor()
    now = datetime.now(UTC)
    span = max((now - newest).total_seconds(), 60.0)
    table = cur.sql(
        f"""
        with ev as (
            select *, json_extract_string(properties, '$."$session_id"') as sid from events
        ), sessions as (
            select sid, min("timestamp") as first_at, count(*) as n,
                   hash(sid, {int(seed)}) as shuffle
            from ev where sid is not null group by sid
        ), ordered as (
            select *, sum(n) over (order by shuffle rows unbounded preceding) as running from sessions
        ), picked as (
            select sid, first_at, running <= {int(n_new)} as is_new, uuid()::varchar as new_sid,
                   random() as r
            from ordered where running <= {int(n_new + n_late)}
        )
        select uuid()::varchar as uuid, ev.project_id, ev.event, ev.distinct_id,
            least($now::timestamptz, case when p.is_new
                 then $newest::timestamptz + to_microseconds(cast(p.r * {span * 1e6} as bigint))
                 else $newest::timestamptz - to_microseconds(cast((600 + p.r * 6 * 3600) * 1e6 as bigint))
            end + (ev."timestamp" - p.first_at)) as "timestamp",
            $now::timestamptz as created_at, replace(ev.properties, p.sid, p.new_sid) as properties,
            ev.elements_chain, ev.person_id, p.is_new
        from ev join picked p using (sid)
        """,
        params={"newest": newest, "now": now},
    ).to_arrow_table()
    new = int(sum(table.column("is_new").to_pylist()))
    added = store.insert_arrow(table.drop_columns(["is_new"]))
    return {"new": new, "late": added - new, "total": added}


def start_live(store: DemoStore, rate: float, seed: int) -> DemoStore:
    store.start_live(rate, seed)
    return store


def stop_live(handle: DemoStore) -> int:
    return handle.stop_live()


def live_events(store: DemoStore, since_epoch: float) -> list[tuple[str, float]]:
    """(distinct_id, timestamp epoch) of events created since the live feed started."""
    since = datetime.fromtimestamp(since_epoch, UTC) - timedelta(seconds=1)
    rows = store.cursor().execute(
        'select distinct_id, epoch("timestamp") from events where "timestamp" >= $since', {"since": since}
    ).fetchall()
    return [(str(d), float(t)) for d, t in rows]


def default_sensor() -> str:
    """Name of the project's new-events sensor, if the definitions have one."""
    try:
        from benchmarks.dagster_runs import load_definitions

        defs = load_definitions()
    except Exception:  # orchestration not importable yet: fall back to plain incremental runs
        return ""
    names = [s.name for s in defs.sensors or [] if hasattr(s, "name")]
    for name in _SENSOR_NAMES:
        if name in names:
            return name
    for name in names:
        if "event" in name and "fail" not in name:
            return name
    return ""

