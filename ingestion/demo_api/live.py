"""Continuous traffic for freshness benchmarks and "new events after a run" tests.

A background thread replays generated sessions at roughly `rate_per_second`, stamping each event with
the current time (created_at a moment later) and a fresh UUIDv7, and appends them to the store in small
batches. Sessions keep their `$session_id`, so the live events look like people browsing right now.
"""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from ingestion.demo_api import generator
from ingestion.demo_api.store import EVENTS_SCHEMA, DemoStore

TICK_SECONDS = 0.2


class LiveFeed:
    """Appends events to a store from a daemon thread until stopped."""

    def __init__(self, store: DemoStore, rate_per_second: float, seed: int) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be > 0")
        self.store, self.rate = store, rate_per_second
        self.rng = random.Random(f"live:{seed}")
        self.project_id = store.project_ids[0]
        self.users = generator.make_users(store.seed, self.project_id, max(store.users, 20))
        self.pending: deque[tuple] = deque()
        self.appended = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-live-feed", daemon=True)
        self._credit = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _refill(self) -> None:
        """Generate one more session's events (in order) to hand out over the next ticks."""
        cols: dict[str, list] = {name: [] for name in generator.EVENT_COLUMNS}
        user = self.rng.choice(self.users)
        start = datetime.now(UTC)
        distinct_id = user.identified_id if user.member else user.anon_id
        writer = generator._SessionWriter(cols, self.rng, user, start, distinct_id, user.referrer)
        generator._session(writer, None)
        for i in range(len(cols["uuid"])):
            self.pending.append(
                (
                    cols["event"][i],
                    cols["distinct_id"][i],
                    cols["properties"][i],
                    cols["elements_chain"][i],
                    cols["person_id"][i],
                )
            )

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self._credit += self.rate * TICK_SECONDS
            count = int(self._credit)
            if count <= 0:
                continue
            self._credit -= count
            while len(self.pending) < count:
                self._refill()
            now = datetime.now(UTC)
            rows: dict[str, list] = {name: [] for name in EVENTS_SCHEMA.names}
            for i in range(count):
                event, distinct_id, props, chain, person_id = self.pending.popleft()
                ts = now - timedelta(microseconds=(count - i) * 50)
                rows["uuid"].append(generator.uuid7(int(ts.timestamp() * 1000), self.rng))
                rows["project_id"].append(self.project_id)
                rows["event"].append(event)
                rows["distinct_id"].append(distinct_id)
                rows["timestamp"].append(ts)
                rows["created_at"].append(now)
                rows["properties"].append(props if props else json.dumps({}))
                rows["elements_chain"].append(chain)
                rows["person_id"].append(person_id)
            self.store.insert_arrow(pa.table(rows, schema=EVENTS_SCHEMA))
            self.appended += count
