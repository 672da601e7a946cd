"""The dlt source for PostHog: events (+ quarantine), persons (+ distinct ids), cohorts (+ filter nodes).

Each pair of tables is fed by one hidden "pages" resource, so the API is read once and both tables of
the pair are written from the same pages. Every row carries `project_id`.

Events cursor: per project, kept in the source state under `events_cursor` as
`{"timestamp": <ISO UTC>, "uuid": ...}`. dlt commits source state together with the load package, so a
run that dies before its data is loaded never moves the cursor past unloaded events.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
import orjson
import pyarrow as pa

from ingestion.posthog import hogql
from ingestion.posthog.client import PostHogClient, PostHogError
from ingestion.posthog.normalize import (
    EVENTS_SCHEMA,
    QUARANTINE_SCHEMA,
    NormalizedBatch,
    normalize_events,
    parse_timestamps,
)
from ingestion.settings import PostHogSettings

log = logging.getLogger(__name__)

TS = pa.timestamp("us", tz="UTC")
PERSONS_SCHEMA = pa.schema(
    [
        pa.field("project_id", pa.int64(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("created_at", TS),
        pa.field("properties", pa.string()),
        pa.field("is_identified", pa.bool_()),
        pa.field("_loaded_at", TS),
    ]
)
DISTINCT_IDS_SCHEMA = pa.schema(
    [
        pa.field("project_id", pa.int64(), nullable=False),
        pa.field("distinct_id", pa.string(), nullable=False),
        pa.field("person_id", pa.string()),
        pa.field("_loaded_at", TS),
    ]
)
COHORTS_SCHEMA = pa.schema(
    [
        pa.field("project_id", pa.int64(), nullable=False),
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("filters", pa.string()),
        pa.field("groups", pa.string()),
        pa.field("deleted", pa.bool_()),
        pa.field("is_static", pa.bool_()),
        pa.field("count", pa.int64()),
        pa.field("created_at", TS),
        pa.field("last_calculation", TS),
        pa.field("raw", pa.string()),
        pa.field("_loaded_at", TS),
    ]
)
EMPTY_PAGE_LIMIT = 3
CURSOR_STATE_KEY = "events_cursor"


@dataclass
class RunStats:
    """What one run saw, beyond dlt's row counts (filled while extracting)."""

    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    exact_duplicates: int = 0
    events_seen: int = 0
    newest_event_at: datetime | None = None
    pages: Counter[str] = field(default_factory=Counter)

    def add(self, batch: NormalizedBatch) -> None:
        self.quarantine_reasons.update(batch.reasons)
        self.repaired.update(batch.repaired)
        self.exact_duplicates += batch.exact_duplicates
        self.events_seen += batch.events.num_rows
        newest = batch.newest
        if newest is not None and (self.newest_event_at is None or newest > self.newest_event_at):
            self.newest_event_at = newest


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _text_array(values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def rows_to_table(columns: Sequence[str], rows: list[list[Any]]) -> pa.Table:
    """Positional query rows to an Arrow table of text columns (JSON values re-encoded as text)."""
    if not rows:
        return pa.table({name: pa.array([], pa.string()) for name in columns})
    arrays: dict[str, pa.Array] = {}
    for name, values in zip(columns, zip(*rows, strict=True), strict=True):
        sample = next((v for v in values if v is not None), None)
        if isinstance(sample, dict | list):
            values = tuple(_json_text(v) for v in values)
        arrays[name] = _text_array(values)
    return pa.table(arrays)


def _parse_cursor_ts(value: Any, where: str) -> datetime:
    arr = parse_timestamps(pa.array([value if value is None else str(value)], pa.string()))
    ts = arr[0].as_py()
    if ts is None:
        raise PostHogError(f"{where}: cannot read timestamp {value!r} of the last row to continue paging")
    return ts


def _cursor_from_state(state: dict[str, Any], project_id: int) -> tuple[datetime, str] | None:
    entry = state.get(str(project_id))
    if not entry:
        return None
    return datetime.fromisoformat(entry["timestamp"]), entry.get("uuid", "")


# -- events through the query API ------------------------------------------------------------------
def _query_event_pages(
    client: PostHogClient,
    settings: PostHogSettings,
    project_id: int,
    cursor: tuple[datetime, str] | None,
    time_range: tuple[datetime, datetime] | None,
    run_started: datetime,
    stats: RunStats,
) -> Iterator[tuple[pa.Table, tuple[datetime, str] | None]]:
    """Keyset pages of raw events for one project; yields (raw table, last (timestamp, uuid))."""
    where = f"PostHog at {client.host}, project {project_id}"
    limit = settings.page_size
    lower: datetime | None = None
    upper: datetime | None = None
    after: tuple[datetime, str] | None = None
    if time_range is not None:
        lower, upper = time_range
    elif cursor is not None:
        start = min(cursor[0], run_started) - timedelta(hours=settings.lookback_hours)
        lower = start
    elif settings.start_date is not None:
        lower = settings.start_date

    def fetch(after_key: tuple[datetime, str] | None) -> tuple[pa.Table, dict[str, Any]]:
        query = hogql.events_page_query(limit=limit, after=after_key, lower=lower, upper=upper)
        answer = client.query(project_id, query, kind="events_query")
        columns = answer.get("columns") or list(hogql.EVENT_COLUMN_NAMES)
        columns = ["person_properties" if c == "person.properties" else c for c in columns]
        return rows_to_table(columns, answer["results"]), answer

    empty_pages = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="posthog-prefetch") as pool:
        pending: Future[tuple[pa.Table, dict[str, Any]]] | None = pool.submit(fetch, after)
        while pending is not None:
            table, answer = pending.result()
            pending = None
            n = table.num_rows
            stats.pages["events"] += 1
            has_more = answer.get("hasMore")
            if n:
                last_uuid = table["uuid"][n - 1].as_py()
                last_ts = _parse_cursor_ts(table["timestamp"][n - 1].as_py(), where)
                if last_uuid is None:
                    raise PostHogError(f"{where}: the last row of a page has no uuid; cannot continue paging")
                new_after = (last_ts, str(last_uuid))
                if after is not None and new_after <= after:
                    raise PostHogError(
                        f"{where}: page did not move past the keyset cursor"
                        f" {after[0].isoformat()} / {after[1]}"
                    )
                after = new_after
                empty_pages = 0
            else:
                empty_pages += 1
            # The query API reads limit + 1 rows to set hasMore, so when it answers, trust it (a full
            # page with hasMore false is the last one: no extra empty request). Without hasMore, a full
            # page means ask again. Prefetch while this page is written.
            more = n >= limit if has_more is None else bool(has_more) and empty_pages < EMPTY_PAGE_LIMIT
            if more:
                pending = pool.submit(fetch, after)
            if n:
                yield table, after


def _legacy_event_pages(
    client: PostHogClient,
    settings: PostHogSettings,
    project_id: int,
    cursor: tuple[datetime, str] | None,
    time_range: tuple[datetime, datetime] | None,
    run_started: datetime,
    stats: RunStats,
) -> Iterator[tuple[pa.Table, tuple[datetime, str] | None]]:
    """Pages of the deprecated events endpoint, ascending, following `next` until empty."""
    params: dict[str, Any] = {"orderBy": '["timestamp"]', "limit": settings.legacy_page_size}
    if time_range is not None:
        # `after`/`before` are exclusive; step back 1 µs so the range start is included.
        params["after"] = (time_range[0] - timedelta(microseconds=1)).astimezone(UTC).isoformat()
        params["before"] = time_range[1].astimezone(UTC).isoformat()
    elif cursor is not None:
        start = min(cursor[0], run_started) - timedelta(hours=settings.lookback_hours)
        params["after"] = (start - timedelta(microseconds=1)).isoformat()
    elif settings.start_date is not None:
        params["after"] = (settings.start_date - timedelta(microseconds=1)).isoformat()
    else:
        params["after"] = "2000-01-01T00:00:00+00:00"
    for results in client.follow_pages(project_id, "events/", params, kind="events"):
        stats.pages["events"] += 1
        rows = []
        for item in results:
            person = item.get("person") if isinstance(item, dict) else None
            props = item.get("properties") if isinstance(item, dict) else None
            rows.append(
                {
                    "uuid": item.get("id") or item.get("uuid"),
                    "event": item.get("event"),
                    "distinct_id": item.get("distinct_id"),
                    "timestamp": item.get("timestamp"),
                    "created_at": item.get("created_at"),
                    "properties": _json_text(props),
                    "elements_chain": item.get("elements_chain") or "",
                    "person_id": item.get("person_id")
                    or (person.get("uuid") or person.get("id") if isinstance(person, dict) else None),
                    "person_properties": _json_text(person.get("properties"))
                    if isinstance(person, dict)
                    else None,
                }
            )
        table = pa.table({name: _text_array([r[name] for r in rows]) for name in hogql.EVENT_COLUMN_NAMES})
        last = table["timestamp"][table.num_rows - 1].as_py() if table.num_rows else None
        last_key = (_parse_cursor_ts(last, f"events API project {project_id}"), "") if last else None
        yield table, last_key


# -- the source -------------------------------------------------------------------------------------
@dlt.source(name="posthog", max_table_nesting=0, root_key=False)
def posthog(
    settings: PostHogSettings,
    client: PostHogClient,
    stats: RunStats | None = None,
    time_range: tuple[datetime, datetime] | None = None,
    run_started: datetime | None = None,
) -> Any:
    """PostHog events, persons and cohorts for every project in `settings.project_ids`."""
    stats = stats if stats is not None else RunStats()
    run_started = run_started or datetime.now(UTC)
    projects = list(settings.project_ids)
    allowed = frozenset(projects)

    @dlt.resource(name="event_pages", selected=False)
    def event_pages() -> Iterator[NormalizedBatch]:
        state = dlt.current.source_state().setdefault(CURSOR_STATE_KEY, {})
        source = "query_api" if settings.events_api == "query" else "events_api"
        pager = _query_event_pages if settings.events_api == "query" else _legacy_event_pages
        yielded = False
        for project_id in projects:
            cursor = _cursor_from_state(state, project_id)
            newest: datetime | None = cursor[0] if cursor else None
            newest_uuid = cursor[1] if cursor else ""
            for raw, _last in pager(client, settings, project_id, cursor, time_range, run_started, stats):
                batch = normalize_events(
                    raw,
                    source=source,
                    project_id=project_id,
                    allowed_projects=allowed,
                    max_properties_bytes=settings.max_properties_bytes,
                    now=run_started,
                )
                stats.add(batch)
                page_newest = batch.newest
                if page_newest is not None and (newest is None or page_newest > newest):
                    newest, newest_uuid = page_newest, ""
                yielded = True
                yield batch
            if time_range is None and newest is not None:
                # Never let a clock far in the future push the cursor past "now".
                capped = min(newest, run_started)
                state[str(project_id)] = {
                    "timestamp": capped.astimezone(UTC).isoformat(timespec="microseconds"),
                    "uuid": newest_uuid if capped == newest else "",
                }
        if not yielded:
            # Nothing new: still pass an empty batch so both tables exist with their schema.
            yield NormalizedBatch(EVENTS_SCHEMA.empty_table(), QUARANTINE_SCHEMA.empty_table())

    events, events_quarantine = event_tables(event_pages)

    @dlt.resource(name="person_pages", selected=False)
    def person_pages() -> Iterator[tuple[pa.Table, pa.Table]]:
        for project_id in projects:
            if settings.events_api == "legacy":
                yield from _rest_persons(client, project_id, run_started, stats)
            else:
                yield from _query_persons(client, settings, project_id, run_started, stats)

    @dlt.transformer(
        data_from=person_pages,
        name="persons",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=("project_id", "id"),
        columns={"properties": {"data_type": "text"}},
    )
    def persons(pages: tuple[pa.Table | None, pa.Table | None]) -> Iterator[pa.Table]:
        if pages[0] is not None and pages[0].num_rows:
            yield pages[0]

    @dlt.transformer(
        data_from=person_pages,
        name="person_distinct_ids",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=("project_id", "distinct_id"),
    )
    def person_distinct_ids(pages: tuple[pa.Table | None, pa.Table | None]) -> Iterator[pa.Table]:
        if pages[1] is not None and pages[1].num_rows:
            yield pages[1]

    @dlt.resource(name="cohort_pages", selected=False)
    def cohort_pages() -> Iterator[tuple[pa.Table, pa.Table]]:
        for project_id in projects:
            yield _cohorts(client, project_id, run_started, stats)

    @dlt.transformer(
        data_from=cohort_pages,
        name="cohorts",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=("project_id", "id"),
        columns={
            "filters": {"data_type": "text"},
            "groups": {"data_type": "text"},
            "raw": {"data_type": "text"},
        },
    )
    def cohorts(pages: tuple[pa.Table, pa.Table]) -> Iterator[pa.Table]:
        if pages[0].num_rows:
            yield pages[0]

    @dlt.transformer(data_from=cohort_pages, name="cohort_filter_nodes", write_disposition="replace")
    def cohort_filter_nodes(pages: tuple[pa.Table, pa.Table]) -> Iterator[pa.Table]:
        yield pages[1]

    return (
        events,
        events_quarantine,
        persons,
        person_distinct_ids,
        cohorts,
        cohort_filter_nodes,
    )


def event_tables(pages: Any) -> tuple[Any, Any]:
    """The `events` / `events_quarantine` pair fed by one hidden resource of `NormalizedBatch`es.

    Each table gets its first batch even when empty, so both exist (with their schema) after any run.
    """
    seen = {"events": False, "events_quarantine": False}

    @dlt.transformer(
        data_from=pages,
        name="events",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key="uuid",
        columns={
            "properties": {"data_type": "text"},
            "person_properties": {"data_type": "text", "nullable": True},
            "elements_chain": {"data_type": "text"},
        },
    )
    def events(batch: NormalizedBatch) -> Iterator[pa.Table]:
        if batch.events.num_rows or not seen["events"]:
            seen["events"] = True
            yield batch.events.cast(EVENTS_SCHEMA)

    @dlt.transformer(
        data_from=pages,
        name="events_quarantine",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key="quarantine_id",
        columns={"raw_payload": {"data_type": "text"}, "detail": {"data_type": "text", "nullable": True}},
    )
    def events_quarantine(batch: NormalizedBatch) -> Iterator[pa.Table]:
        if batch.quarantine.num_rows or not seen["events_quarantine"]:
            seen["events_quarantine"] = True
            yield batch.quarantine.cast(QUARANTINE_SCHEMA)

    return events, events_quarantine


# -- persons ----------------------------------------------------------------------------------------
def _persons_tables(
    project_id: int, persons: list[dict[str, Any]], pairs: list[tuple[str, str]], loaded_at: datetime
) -> tuple[pa.Table | None, pa.Table | None]:
    person_table = None
    if persons:
        person_table = pa.table(
            {
                "project_id": pa.array([project_id] * len(persons), pa.int64()),
                "id": _text_array([p["id"] for p in persons]),
                "created_at": parse_timestamps(_text_array([p.get("created_at") for p in persons])),
                "properties": _text_array([_json_text(p.get("properties")) or "{}" for p in persons]),
                "is_identified": pa.array([_as_bool(p.get("is_identified")) for p in persons], pa.bool_()),
                "_loaded_at": pa.array([loaded_at] * len(persons), TS),
            },
            schema=PERSONS_SCHEMA,
        )
    pair_table = None
    if pairs:
        pair_table = pa.table(
            {
                "project_id": pa.array([project_id] * len(pairs), pa.int64()),
                "distinct_id": _text_array([d for d, _ in pairs]),
                "person_id": _text_array([p for _, p in pairs]),
                "_loaded_at": pa.array([loaded_at] * len(pairs), TS),
            },
            schema=DISTINCT_IDS_SCHEMA,
        )
    return person_table, pair_table


def _as_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    return str(value).strip().lower() in ("1", "true", "t", "yes")


def _keyset_rows(
    client: PostHogClient,
    project_id: int,
    *,
    kind: str,
    select: str,
    key: str,
    limit: int,
    stats: RunStats,
    stat: str,
) -> Iterator[list[list[Any]]]:
    """Pages of `select` ordered by `key`, keyset on that key. Like the events pages, `hasMore` is
    trusted when the answer has it, so a full last page costs no extra empty request."""
    last = ""
    while True:
        where = f" WHERE {key} > {hogql.str_literal(last)}" if last else ""
        answer = client.query(
            project_id, kind=kind, hogql=f"{select}{where} ORDER BY {key} ASC LIMIT {limit}"
        )
        stats.pages[stat] += 1
        rows = answer["results"]
        if rows:
            yield rows
            last = str(rows[-1][0])
        has_more = answer.get("hasMore")
        more = len(rows) >= limit if has_more is None else bool(has_more)
        if not rows or not more:
            break


def _query_persons(
    client: PostHogClient,
    settings: PostHogSettings,
    project_id: int,
    loaded_at: datetime,
    stats: RunStats,
) -> Iterator[tuple[pa.Table | None, pa.Table | None]]:
    """Persons and distinct ids through the query API, keyset on id / distinct_id."""
    limit = settings.page_size
    for rows in _keyset_rows(
        client,
        project_id,
        kind="persons_query",
        select="SELECT id, created_at, properties, is_identified FROM persons",
        key="id",
        limit=limit,
        stats=stats,
        stat="persons",
    ):
        people = [
            {"id": str(r[0]), "created_at": r[1], "properties": r[2], "is_identified": r[3]} for r in rows
        ]
        yield _persons_tables(project_id, people, [], loaded_at)
    for rows in _keyset_rows(
        client,
        project_id,
        kind="person_distinct_ids_query",
        select="SELECT distinct_id, person_id FROM person_distinct_ids",
        key="distinct_id",
        limit=limit,
        stats=stats,
        stat="person_distinct_ids",
    ):
        pairs = [(str(r[0]), None if r[1] is None else str(r[1])) for r in rows if r[0] is not None]
        if pairs:
            yield _persons_tables(project_id, [], pairs, loaded_at)


def _rest_persons(
    client: PostHogClient, project_id: int, loaded_at: datetime, stats: RunStats
) -> Iterator[tuple[pa.Table | None, pa.Table | None]]:
    """Persons through the REST endpoint (for instances whose query API is unavailable)."""
    for results in client.follow_pages(project_id, "persons/", {"limit": 1000}, kind="persons"):
        stats.pages["persons"] += 1
        people: list[dict[str, Any]] = []
        pairs: list[tuple[str, str]] = []
        for item in results:
            pid = str(item.get("uuid") or item.get("id"))
            people.append(
                {
                    "id": pid,
                    "created_at": item.get("created_at"),
                    "properties": item.get("properties"),
                    "is_identified": item.get("is_identified"),
                }
            )
            pairs.extend((str(d), pid) for d in item.get("distinct_ids") or [] if d is not None)
        yield _persons_tables(project_id, people, pairs, loaded_at)


# -- cohorts ----------------------------------------------------------------------------------------
def _cohorts(
    client: PostHogClient, project_id: int, loaded_at: datetime, stats: RunStats
) -> tuple[pa.Table, pa.Table]:
    from ingestion.posthog.cohort_filters import cohort_nodes_table, flatten_cohort

    items: list[dict[str, Any]] = []
    for results in client.follow_pages(project_id, "cohorts/", {"limit": 500}, kind="cohorts"):
        stats.pages["cohorts"] += 1
        items.extend(r for r in results if isinstance(r, dict))
    rows: dict[str, list[Any]] = {f.name: [] for f in COHORTS_SCHEMA}
    nodes: list[dict[str, Any]] = []
    for item in items:
        try:
            cid = int(item["id"])
        except (KeyError, TypeError, ValueError):
            log.warning("PostHog project %s: skipping a cohort without a numeric id", project_id)
            continue
        rows["project_id"].append(project_id)
        rows["id"].append(cid)
        rows["name"].append(item.get("name"))
        rows["description"].append(item.get("description"))
        rows["filters"].append(_json_text(item.get("filters")))
        rows["groups"].append(_json_text(item.get("groups")))
        rows["deleted"].append(_as_bool(item.get("deleted")))
        rows["is_static"].append(_as_bool(item.get("is_static")))
        count = item.get("count")
        rows["count"].append(int(count) if isinstance(count, int | float) else None)
        rows["created_at"].append(item.get("created_at"))
        rows["last_calculation"].append(item.get("last_calculation"))
        rows["raw"].append(_json_text(item))
        rows["_loaded_at"].append(loaded_at)
        if not item.get("deleted"):
            nodes.extend(flatten_cohort(item, project_id, str(cid), strict=False))
    for name in ("created_at", "last_calculation"):
        rows[name] = parse_timestamps(_text_array(rows[name]))  # type: ignore[assignment]
    table = pa.table(
        {
            f.name: pa.array(rows[f.name], f.type) if isinstance(rows[f.name], list) else rows[f.name]
            for f in COHORTS_SCHEMA
        },
        schema=COHORTS_SCHEMA,
    )
    return table, cohort_nodes_table(nodes)
