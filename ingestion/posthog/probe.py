"""A cheap "is there anything new?" question for sensors: one HogQL count query per project."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ingestion.posthog import hogql
from ingestion.posthog.client import PostHogClient, PostHogError
from ingestion.posthog.normalize import parse_timestamps
from ingestion.settings import PostHogSettings


@contextlib.contextmanager
def _client(settings: PostHogSettings, demo: Any) -> Iterator[PostHogClient]:
    if demo is not None:
        from ingestion.pipeline import server_key

        with PostHogClient(
            demo.url, server_key(demo), timeout=settings.timeout, max_retries=settings.max_retries
        ) as client:
            yield client
        return
    if settings.uses_demo or settings.host is None or settings.api_key is None:
        raise PostHogError(
            "count_new_events needs POSTHOG_HOST and POSTHOG_PERSONAL_API_KEY, or a running demo server"
        )
    with PostHogClient(
        settings.host,
        settings.api_key.get_secret_value(),
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    ) as client:
        yield client


def count_new_events(
    settings: PostHogSettings,
    since: datetime | Mapping[int, datetime] | None,
    *,
    demo: Any = None,
) -> tuple[int, datetime | None]:
    """Events with a timestamp after `since` (one instant, or one per project), and the newest timestamp.

    Makes exactly one query per project. `demo` is a running `DemoPostHog` to ask instead of PostHog.
    """
    total = 0
    newest: datetime | None = None
    with _client(settings, demo) as client:
        for project_id in settings.project_ids:
            after = since.get(project_id) if isinstance(since, Mapping) else since
            if after is not None and after.tzinfo is None:
                after = after.replace(tzinfo=UTC)
            answer = client.query(project_id, hogql.count_query(after=after), kind="probe_query")
            rows = answer.get("results") or []
            if not rows:
                continue
            count, latest = rows[0][0], rows[0][1]
            total += int(count or 0)
            if latest is not None:
                parsed = parse_timestamps(pa.array([str(latest)], pa.string()))[0].as_py()
                if parsed is not None and (newest is None or parsed > newest):
                    newest = parsed
    return total, newest
