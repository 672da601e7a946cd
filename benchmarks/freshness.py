"""Lag from an event's timestamp to the moment it shows in the published export.

A watcher thread notices each swap of `EXPORT_DIR/current` and records, for that version, every
distinct id's person `last_seen` (newest event time). A live event counts as published by the first
version in which its person's newest event is at or after the event's own timestamp (events are
loaded in timestamp order, so that version includes it), or whose recent events hold its uuid.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb


@dataclass
class PublishedVersion:
    seen_at: float  # wall clock when the watcher saw `current` point at it
    name: str
    newest_by_distinct_id: dict[str, float] = field(default_factory=dict)
    newest_overall: float = 0.0
    error: str | None = None


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def read_version(path: Path) -> tuple[dict[str, float], float]:
    """distinct id -> newest event epoch of its person, from one export version folder."""
    con = duckdb.connect()
    try:
        context = str(path / "user_context.parquet")
        lookup = path / "distinct_ids.parquet"
        if lookup.exists():
            sql = f"""
                select d.distinct_id, epoch(u.last_seen::timestamptz)
                from read_parquet('{lookup}') d join read_parquet('{context}') u using (person_id)
                union all
                select person_id, epoch(last_seen::timestamptz) from read_parquet('{context}')
            """
        else:
            sql = f"""
                select unnest(from_json(distinct_ids, '["VARCHAR"]')), epoch(last_seen::timestamptz)
                from read_parquet('{context}')
                union all
                select person_id, epoch(last_seen::timestamptz) from read_parquet('{context}')
            """
        rows = con.execute(sql).fetchall()
    finally:
        con.close()
    newest: dict[str, float] = {}
    for distinct_id, seen in rows:
        if distinct_id is not None and seen is not None and seen > newest.get(distinct_id, 0.0):
            newest[str(distinct_id)] = float(seen)
    return newest, max(newest.values(), default=0.0)


class ExportWatcher:
    """Polls `current` and snapshots each new version before the writer prunes it."""

    def __init__(self, export_dir: Path, interval: float = 0.25) -> None:
        self.current = export_dir / "current"
        self.interval = interval
        self.versions: list[PublishedVersion] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="export-watcher", daemon=True)
        self._last = self._target()

    def _target(self) -> str | None:
        try:
            return os.readlink(self.current)
        except OSError:
            return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            target = self._target()
            if target and target != self._last:
                self._last = target
                version = PublishedVersion(seen_at=time.time(), name=target)
                try:
                    version.newest_by_distinct_id, version.newest_overall = read_version(
                        self.current.parent / target if not os.path.isabs(target) else Path(target)
                    )
                except (duckdb.Error, OSError) as exc:
                    version.error = str(exc)[:300]
                self.versions.append(version)
            self._stop.wait(self.interval)

    def start(self) -> ExportWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def first_seen(self, distinct_id: str, ts: float) -> float | None:
        for version in self.versions:
            if version.newest_by_distinct_id.get(distinct_id, 0.0) >= ts - 1e-3:
                return version.seen_at
        return None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def lag_summary(watcher: ExportWatcher, live_events: list[tuple[str, float]]) -> dict[str, Any]:
    """Lag percentiles over the live events (distinct_id, timestamp epoch)."""
    lags: list[float] = []
    unseen = 0
    for distinct_id, ts in live_events:
        seen = watcher.first_seen(distinct_id, ts)
        if seen is None:
            unseen += 1
        else:
            lags.append(seen - ts)

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "events_generated": len(live_events),
        "events_seen": len(lags),
        "events_unseen": unseen,
        "lag_p50_s": rounded(percentile(lags, 0.5)),
        "lag_p95_s": rounded(percentile(lags, 0.95)),
        "lag_max_s": rounded(max(lags) if lags else None),
        "versions_published": len(watcher.versions),
        "version_errors": [v.error for v in watcher.versions if v.error][:3],
    }
