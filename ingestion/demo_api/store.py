"""The demo PostHog's data: events, persons, distinct ids and cohorts in an in-memory DuckDB.

Rows live in DuckDB tables (never as millions of Python objects), so the server can answer HogQL-style
queries with SQL and benchmarks can hold millions of events. All timestamps are UTC `TIMESTAMPTZ`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingestion.demo_api import generator

EVENTS_SCHEMA = pa.schema(
    [
        ("uuid", pa.string()),
        ("project_id", pa.int64()),
        ("event", pa.string()),
        ("distinct_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("properties", pa.string()),
        ("elements_chain", pa.string()),
        ("person_id", pa.string()),
    ]
)

_DDL = """
SET TimeZone = 'UTC';
CREATE TABLE events (uuid VARCHAR, project_id BIGINT, event VARCHAR, distinct_id VARCHAR,
    "timestamp" TIMESTAMPTZ, created_at TIMESTAMPTZ, properties VARCHAR, elements_chain VARCHAR,
    person_id VARCHAR);
CREATE TABLE persons (project_id BIGINT, id VARCHAR, created_at TIMESTAMPTZ, properties VARCHAR,
    is_identified BOOLEAN);
CREATE TABLE person_distinct_ids (project_id BIGINT, distinct_id VARCHAR, person_id VARCHAR);
CREATE TABLE person_overrides (project_id BIGINT, id VARCHAR, properties VARCHAR, is_identified BOOLEAN);
"""

# Namespace for ids the demo derives from content (drone-shop export rows have no uuid).
DEMO_NAMESPACE = uuid.UUID("3b0c5d8e-7f4a-4c1e-9d2b-5a6e7f8c9d01")


def utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _as_utc(value: datetime | str | None) -> datetime | None:
    """Accept aware/naive datetimes or ISO strings (naive = UTC, as PostHog SQL exports are)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class DemoStore:
    """Demo data for one or more projects, queryable with SQL through `cursor()`."""

    def __init__(self, project_ids: Iterable[int] = (1,)) -> None:
        self.project_ids: tuple[int, ...] = tuple(int(p) for p in project_ids)
        self._db = duckdb.connect(":memory:")
        # A compressed in-memory catalog: 1M events take ~3x less RAM than DuckDB's default in-memory db.
        self._db.execute("ATTACH ':memory:' AS demo (COMPRESS); USE demo")
        self._db.execute(_DDL)
        self.cohorts: dict[int, list[dict[str, Any]]] = {p: [] for p in self.project_ids}
        self._write_lock = threading.RLock()
        self._live: Any = None  # live.LiveFeed while running
        self.seed = 7
        self.users = 200
        self._backwards_serial = 0

    # --- access -------------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A thread-own connection to the same in-memory database (DuckDB cursors are not shared)."""
        cur = self._db.cursor()
        cur.execute("USE demo; SET TimeZone = 'UTC'")
        return cur

    def events_arrow(self, project_id: int | None = None) -> pa.Table:
        """Every event (ordered by timestamp, uuid), for tests and benchmarks to compare against."""
        sql = "SELECT * FROM events"
        params: list[Any] = []
        if project_id is not None:
            sql += " WHERE project_id = ?"
            params.append(project_id)
        return self.cursor().sql(sql + ' ORDER BY "timestamp", uuid', params=params).to_arrow_table()

    def persons_arrow(self, project_id: int | None = None) -> pa.Table:
        return self._table("persons", project_id, "id")

    def distinct_ids_arrow(self, project_id: int | None = None) -> pa.Table:
        return self._table("person_distinct_ids", project_id, "distinct_id")

    def _table(self, name: str, project_id: int | None, order: str) -> pa.Table:
        where = "" if project_id is None else f" WHERE project_id = {int(project_id)}"
        return self.cursor().sql(f"SELECT * FROM {name}{where} ORDER BY project_id, {order}").to_arrow_table()

    def event_count(self, project_id: int | None = None) -> int:
        if project_id is None:
            return self.cursor().execute("SELECT count(*) FROM events").fetchall()[0][0]
        return (
            self.cursor()
            .execute("SELECT count(*) FROM events WHERE project_id = ?", [project_id])
            .fetchall()[0][0]
        )

    # --- writing ------------------------------------------------------------------------------
    def insert_arrow(self, table: pa.Table, refresh_persons: bool = True) -> int:
        """Append events already in `EVENTS_SCHEMA` column layout; returns rows added."""
        table = table.select(EVENTS_SCHEMA.names).cast(EVENTS_SCHEMA)
        with self._write_lock:
            cur = self.cursor()
            cur.register("_incoming", table)
            cur.execute("INSERT INTO events SELECT * FROM _incoming")
            if refresh_persons:
                self._add_people(cur, "_incoming")
            cur.unregister("_incoming")
        return table.num_rows

    def append_events(
        self, rows: Iterable[Mapping[str, Any]] | pa.Table, project_id: int | None = None
    ) -> int:
        """Add events (PostHog event dicts or an Arrow table); fills uuid/created_at/person_id if missing.

        Used by "new events after a run" tests and the live feed; distinct ids not seen before get a
        new person so the persons endpoints stay consistent with the events.
        """
        if isinstance(rows, pa.Table):
            return self.insert_arrow(rows)
        pid_default = project_id if project_id is not None else self.project_ids[0]
        known = self._distinct_map()
        cols: dict[str, list] = {name: [] for name in EVENTS_SCHEMA.names}
        for row in rows:
            ts = _as_utc(row.get("timestamp")) or _now()
            props = row.get("properties") or {}
            distinct_id = str(row.get("distinct_id"))
            pid = int(row.get("project_id", pid_default))
            person_id = (
                row.get("person_id")
                or known.get((pid, distinct_id))
                or str(uuid.uuid5(DEMO_NAMESPACE, f"person:{pid}:{distinct_id}"))
            )
            known[(pid, distinct_id)] = person_id
            cols["uuid"].append(str(row.get("uuid") or uuid.uuid4()))
            cols["project_id"].append(pid)
            cols["event"].append(row.get("event"))
            cols["distinct_id"].append(distinct_id)
            cols["timestamp"].append(ts)
            cols["created_at"].append(_as_utc(row.get("created_at")) or max(ts, _now()))
            cols["properties"].append(
                props if isinstance(props, str) else json.dumps(props, separators=(",", ":"))
            )
            cols["elements_chain"].append(row.get("elements_chain") or "")
            cols["person_id"].append(str(person_id))
        return self.insert_arrow(pa.table(cols, schema=EVENTS_SCHEMA))

    def _distinct_map(self) -> dict[tuple[int, str], str]:
        rows = (
            self.cursor()
            .execute("SELECT project_id, distinct_id, person_id FROM person_distinct_ids")
            .fetchall()
        )
        return {(p, d): person for p, d, person in rows}

    def _add_people(self, cur: duckdb.DuckDBPyConnection, source: str) -> None:
        """Add mapping rows and person rows for distinct ids / persons first seen in `source`."""
        cur.execute(f"""
            INSERT INTO person_distinct_ids
            SELECT s.project_id, s.distinct_id, arg_min(s.person_id, s."timestamp")
            FROM {source} s
            WHERE s.person_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM person_distinct_ids m
                WHERE m.project_id = s.project_id AND m.distinct_id = s.distinct_id)
            GROUP BY s.project_id, s.distinct_id""")
        cur.execute(f"""
            INSERT INTO persons
            SELECT s.project_id, s.person_id, min(s."timestamp"),
                   coalesce(any_value(o.properties),
                            arg_max(json_extract(s.properties, '$."$set"')::VARCHAR, s."timestamp")
                                FILTER (WHERE s.event = '$identify'), '{{}}'),
                   coalesce(any_value(o.is_identified), bool_or(s.event = '$identify'))
            FROM {source} s
            LEFT JOIN person_overrides o ON o.project_id = s.project_id AND o.id = s.person_id
            WHERE s.person_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM persons p WHERE p.project_id = s.project_id AND p.id = s.person_id)
            GROUP BY s.project_id, s.person_id""")

    def set_person(
        self,
        project_id: int,
        person_id: str,
        properties: Mapping[str, Any],
        is_identified: bool,
        distinct_ids: Iterable[str] = (),
    ) -> None:
        """Fix a person's properties (and mapping) instead of deriving them from `$identify` events."""
        props = json.dumps(dict(properties), separators=(",", ":"))
        with self._write_lock:
            cur = self.cursor()
            cur.execute(
                "DELETE FROM person_overrides WHERE project_id = ? AND id = ?", [project_id, person_id]
            )
            cur.execute(
                "INSERT INTO person_overrides VALUES (?, ?, ?, ?)",
                [project_id, person_id, props, is_identified],
            )
            cur.execute(
                "UPDATE persons SET properties = ?, is_identified = ? WHERE project_id = ? AND id = ?",
                [props, is_identified, project_id, person_id],
            )
            for did in distinct_ids:
                cur.execute(
                    "DELETE FROM person_distinct_ids WHERE project_id = ? AND distinct_id = ?",
                    [project_id, did],
                )
                cur.execute("INSERT INTO person_distinct_ids VALUES (?, ?, ?)", [project_id, did, person_id])

    def _sort_events(self) -> None:
        """Store events in (timestamp, uuid) order so range filters prune well."""
        with self._write_lock:
            cur = self.cursor()
            cur.execute('CREATE TABLE events_sorted AS SELECT * FROM events ORDER BY "timestamp", uuid')
            cur.execute("DROP TABLE events")
            cur.execute("ALTER TABLE events_sorted RENAME TO events")

    def add_backwards_events(self, project_id: int, count: int, seconds_back: float) -> int:
        """New arrivals timestamped `seconds_back` before the newest event (the clock going backwards)."""
        cur = self.cursor()
        newest = cur.execute(
            'SELECT max("timestamp") FROM events WHERE project_id = ?', [project_id]
        ).fetchall()[0][0]
        people = cur.execute(
            "SELECT distinct_id, person_id FROM person_distinct_ids WHERE project_id = ? "
            "ORDER BY distinct_id LIMIT 50",
            [project_id],
        ).fetchall()
        if newest is None or not people:
            return 0
        now = _now()
        rows = []
        for i in range(count):
            distinct_id, person_id = people[(self._backwards_serial + i) % len(people)]
            ts = newest - timedelta(seconds=seconds_back) + timedelta(milliseconds=137 * (i + 1))
            rows.append(
                {
                    "uuid": str(uuid.uuid4()),
                    "event": "$pageview",
                    "distinct_id": distinct_id,
                    "person_id": person_id,
                    "timestamp": ts,
                    "created_at": max(now, ts),
                    "properties": {
                        "$current_url": "https://shop.example.com/",
                        "$pathname": "/",
                        "late_arrival": True,
                    },
                }
            )
        self._backwards_serial += count
        return self.append_events(rows, project_id=project_id)

    # --- constructors ---------------------------------------------------------------------------
    @classmethod
    def generate(
        cls,
        seed: int = 7,
        users: int = 200,
        days: int = 7,
        end: datetime | None = None,
        project_ids: Iterable[int] = (1,),
        personas: bool = True,
        cohorts: bool = True,
    ) -> DemoStore:
        """Seeded realistic traffic for `days` UTC days ending at `end` (default now).

        Prefix-stable: each UTC day is generated from its own RNG, so a later `end` contains exactly the
        earlier events (same uuids and content) plus newer ones and late arrivals (created_at <= end).
        """
        end = _as_utc(end) or _now()
        if days < 1 or users < 0:
            raise ValueError("days must be >= 1 and users >= 0")
        store = cls(project_ids)
        store.seed, store.users = seed, users
        window_start = utc_midnight(end.date() - timedelta(days=days - 1))
        first_day = window_start.date() - timedelta(days=1)  # sessions that spill over midnight
        for project_id in store.project_ids:
            population = generator.make_users(seed, project_id, users)
            overrides = []
            for user in population:
                overrides.append(
                    (
                        project_id,
                        user.person_id,
                        json.dumps(user.person_properties(user.member), separators=(",", ":")),
                        user.member,
                    )
                )
            cur = store.cursor()
            cur.executemany("INSERT INTO person_overrides VALUES (?, ?, ?, ?)", overrides)
            day = first_day
            while day <= end.date():
                cols = generator.generate_day(seed, project_id, day, population)
                table = _visible(_columns_to_arrow(cols, project_id), window_start, end)
                if table.num_rows:
                    store.insert_arrow(table, refresh_persons=False)
                day += timedelta(days=1)
            if personas:
                store._add_personas(project_id, end)
            if cohorts:
                store.cohorts[project_id] = _demo_cohorts(project_id)
        store._sort_events()
        with store._write_lock:
            store._add_people(store.cursor(), "events")
        return store

    def _add_personas(self, project_id: int, end: datetime) -> None:
        """Scripted persona events, anchored at midnight of the day before `end`'s day."""
        try:
            from ingestion.demo_api.personas import PERSONAS, persona_events
        except ImportError:  # written by another helper; the demo works without it
            return
        anchor = utc_midnight(end.date() - timedelta(days=1))
        mapping: dict[str, str] = {}
        for persona in PERSONAS.values():
            for did in persona.distinct_ids:
                mapping[did] = persona.person_id
            self.cursor().execute(
                "INSERT INTO person_overrides VALUES (?, ?, ?, ?)",
                [
                    project_id,
                    persona.person_id,
                    json.dumps(persona.properties, separators=(",", ":")),
                    "email" in persona.properties,
                ],
            )
        rows = []
        for ev in persona_events(anchor, project_id):
            row = dict(ev)
            row["project_id"] = project_id
            row.setdefault("person_id", mapping.get(str(ev.get("distinct_id"))))
            if row.get("created_at") is None:
                row["created_at"] = _as_utc(row["timestamp"]) + timedelta(seconds=1)
            rows.append(row)
        visible = [r for r in rows if _as_utc(r["timestamp"]) <= end and _as_utc(r["created_at"]) <= end]
        if visible:
            self.append_events(visible, project_id=project_id)

    @classmethod
    def from_drone_shop(cls, path: str | Path, project_id: int = 1) -> DemoStore:
        """Serve a real PostHog SQL export (no uuids, naive UTC times): uuids become uuid5 of the content."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON array of events")
        store = cls((project_id,))
        rows = []
        for i, ev in enumerate(data):
            if not isinstance(ev, dict):
                raise ValueError(f"{path}: item {i} is not an object")
            row = dict(ev)
            row["uuid"] = ev.get("uuid") or content_uuid(ev)
            rows.append(row)
        store.append_events(rows, project_id=project_id)
        store._sort_events()
        return store

    @classmethod
    def generate_scaled(
        cls,
        n_events: int,
        seed: int = 7,
        end: datetime | None = None,
        users: int | None = None,
        days: int = 30,
        project_id: int = 1,
        compact: bool = True,
    ) -> DemoStore:
        """N events for benchmarks, built column-wise with numpy/Arrow (see `scaled.py`).

        `compact` compresses the table as it grows (about 4x less RAM, some seconds more per million).
        """
        from ingestion.demo_api.scaled import scaled_events

        end = _as_utc(end) or _now()
        store = cls((project_id,))
        store.seed = seed
        scaled_events(
            store,
            n_events,
            seed=seed,
            end=end,
            users=users,
            days=days,
            project_id=project_id,
            compact=compact,
        )
        return store

    # --- live feed ------------------------------------------------------------------------------
    def start_live(self, rate_per_second: float, seed: int | None = None) -> None:
        """Append freshly timestamped events in a background thread until `stop_live()`."""
        from ingestion.demo_api.live import LiveFeed

        self.stop_live()
        self._live = LiveFeed(self, rate_per_second, self.seed if seed is None else seed)
        self._live.start()

    def stop_live(self) -> int:
        """Stop the live feed; returns how many events it appended."""
        live, self._live = self._live, None
        if live is None:
            return 0
        live.stop()
        return live.appended

    # --- batch export files -----------------------------------------------------------------------
    def write_batch_export(
        self,
        folder: str | Path,
        fmt: str = "parquet",
        rows_per_file: int = 100_000,
        project_id: int | None = None,
    ) -> list[Path]:
        """Write events as PostHog batch-export files, one folder per UTC day (see `batch_export.py`)."""
        from ingestion.demo_api.batch_export import write_batch_export

        return write_batch_export(self, Path(folder), fmt, rows_per_file, project_id)


def content_uuid(event: Mapping[str, Any]) -> str:
    """Deterministic uuid5 of an event's content (keys sorted), stable across loads of the same file."""
    body = json.dumps(
        {k: v for k, v in event.items() if k != "uuid"}, sort_keys=True, separators=(",", ":"), default=str
    )
    return str(uuid.uuid5(DEMO_NAMESPACE, body))


def _columns_to_arrow(cols: dict[str, list], project_id: int) -> pa.Table:
    n = len(cols["uuid"])
    data = dict(cols)
    data["project_id"] = [project_id] * n
    return pa.table({name: data[name] for name in EVENTS_SCHEMA.names}, schema=EVENTS_SCHEMA)


def _visible(table: pa.Table, window_start: datetime, end: datetime) -> pa.Table:
    """Events inside the window that PostHog would have ingested by `end`."""
    import pyarrow.compute as pc

    ts = table["timestamp"]
    mask = pc.and_(
        pc.and_(
            pc.greater_equal(ts, pa.scalar(window_start, pa.timestamp("us", tz="UTC"))),
            pc.less_equal(ts, pa.scalar(end, pa.timestamp("us", tz="UTC"))),
        ),
        pc.less_equal(table["created_at"], pa.scalar(end, pa.timestamp("us", tz="UTC"))),
    )
    return table.filter(mask)


def _demo_cohorts(project_id: int) -> list[dict[str, Any]]:
    try:
        from ingestion.demo_api.demo_cohorts import demo_cohorts
    except ImportError:
        return []
    return list(demo_cohorts(project_id))
