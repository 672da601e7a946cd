"""HogQL text for the queries the source sends.

Only a small, well-understood subset of HogQL is used (SELECT cols FROM events WHERE ... ORDER BY ...
LIMIT n, `toDateTime('<iso with offset>')` literals) so real PostHog and the bundled demo API both answer
it. Every datetime literal carries an explicit UTC offset, because a naive literal would be read in the
project's time zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Column order of the event queries; `person.properties` is aliased so the answer names it plainly.
EVENT_COLUMNS: tuple[str, ...] = (
    "uuid",
    "event",
    "distinct_id",
    "timestamp",
    "created_at",
    "properties",
    "elements_chain",
    "person_id",
    "person.properties",
)
EVENT_COLUMN_NAMES: tuple[str, ...] = (
    "uuid",
    "event",
    "distinct_id",
    "timestamp",
    "created_at",
    "properties",
    "elements_chain",
    "person_id",
    "person_properties",
)

_UUIDISH = re.compile(r"^[0-9A-Za-z-]{1,64}$")


def dt_literal(value: datetime) -> str:
    """`toDateTime('2025-01-01T00:00:00.000000+00:00')`: microseconds and an explicit UTC offset."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    return f"toDateTime('{text}')"


def str_literal(value: str) -> str:
    """A single-quoted HogQL string; cursor uuids come from PostHog but are still escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _select(columns: tuple[str, ...], names: tuple[str, ...]) -> str:
    parts = [col if col == name else f"{col} AS {name}" for col, name in zip(columns, names, strict=True)]
    return ", ".join(parts)


def events_page_query(
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    lower: datetime | None = None,
    upper: datetime | None = None,
) -> str:
    """One keyset page of events ordered by (timestamp, uuid).

    `after` = (timestamp, uuid) of the last row already read: the page starts strictly after it.
    `lower` (inclusive) and `upper` (exclusive) bound the time range of the whole scan.
    """
    conditions: list[str] = []
    if after is not None:
        ts, uid = after
        lit = dt_literal(ts)
        conditions.append(f"(timestamp > {lit} OR (timestamp = {lit} AND uuid > {str_literal(uid)}))")
    if lower is not None:
        conditions.append(f"timestamp >= {dt_literal(lower)}")
    if upper is not None:
        conditions.append(f"timestamp < {dt_literal(upper)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return (
        f"SELECT {_select(EVENT_COLUMNS, EVENT_COLUMN_NAMES)} FROM events{where}"
        f" ORDER BY timestamp ASC, uuid ASC LIMIT {int(limit)}"
    )


def count_query(*, after: datetime | None = None) -> str:
    """How many events arrived after a point in time, and the newest timestamp (one cheap query)."""
    where = f" WHERE timestamp > {dt_literal(after)}" if after is not None else ""
    return f"SELECT count() AS n, max(timestamp) AS newest FROM events{where}"
