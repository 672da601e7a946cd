"""Every fault the demo PostHog can inject, against the real HTTP source: retried or failed clearly,
and a later fault-free run leaves every event in `posthog_raw.events` exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability_helpers import assert_exactly_once, warehouse_uuids

from ingestion.demo_api.faults import Fault, FaultPlan
from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from ingestion.pipeline import current_cursor, run_posthog_load
from ingestion.posthog.client import PostHogError
from ingestion.settings import PostHogSettings

PAGE = 100  # ~700 demo events → 7+ query pages, so faults land in the middle of a run


@pytest.fixture(scope="module")
def store() -> DemoStore:
    return DemoStore.generate(seed=23, users=20, days=2)


@pytest.fixture
def demo(store: DemoStore) -> Iterator[DemoPostHog]:
    with DemoPostHog(store) as server:
        yield server


# Faults a run must ride out by retrying or re-asking: (id, faults, settings overrides).
RECOVERABLE = [
    ("429_retry_after", [Fault(kind="status", status=429, retry_after=0.2, on_requests={2})], {}),
    ("429_no_retry_after", [Fault(kind="status", status=429, on_requests={2, 3})], {}),
    ("500", [Fault(kind="status", status=500, on_requests={2, 3})], {}),
    ("502", [Fault(kind="status", status=502, on_requests={3})], {}),
    ("503_retry_after", [Fault(kind="status", status=503, retry_after=0.1, on_requests={4})], {}),
    ("timeout", [Fault(kind="slow", delay_seconds=1.5, on_requests={2})], {"timeout": 0.5}),
    ("slow_within_timeout", [Fault(kind="slow", delay_seconds=0.3, on_requests={2, 5})], {}),
    ("reset_mid_body", [Fault(kind="reset", on_requests={2, 4})], {}),
    ("truncated_json", [Fault(kind="truncated_json", on_requests={3})], {}),
    ("invalid_json", [Fault(kind="invalid_json", on_requests={2})], {}),
    ("empty_page_mid_run", [Fault(kind="empty_page", on_requests={3})], {}),
    ("two_empty_pages", [Fault(kind="empty_page", on_requests={3, 4})], {}),
    ("short_page", [Fault(kind="short_page", on_requests={2, 5})], {}),
    ("repeated_rows", [Fault(kind="repeat_rows", on_requests={3, 4})], {}),
    (
        "mixed",
        [
            Fault(kind="status", status=503, on_requests={1}),
            Fault(kind="reset", on_requests={3}),
            Fault(kind="short_page", on_requests={5}),
            Fault(kind="repeat_rows", on_requests={6}),
            Fault(kind="invalid_json", on_requests={7}),
        ],
        {},
    ),
]


def _plan(faults: list[Fault], endpoint: str) -> FaultPlan:
    return FaultPlan(faults=[f.model_copy(update={"endpoint": endpoint}) for f in faults])


@pytest.mark.parametrize(
    ("faults", "overrides"), [c[1:] for c in RECOVERABLE], ids=[c[0] for c in RECOVERABLE]
)
def test_query_api_fault_is_ridden_out(store, demo, ws, faults, overrides) -> None:
    demo.faults = _plan(faults, "query")
    settings = PostHogSettings(page_size=PAGE, max_retries=3, **overrides)
    summary = run_posthog_load(settings, ws, demo=demo)
    assert demo.faults.fired, "the fault never fired: the test proves nothing"
    assert_exactly_once(ws, store)
    assert summary.events_loaded >= len(warehouse_uuids(ws)) and summary.events_quarantined == 0
    if demo.faults.fired[-1][2] == "repeat_rows" or len(faults) > 1:
        # A second, fault-free run over the look-back window adds nothing and loses nothing.
        demo.faults = None
        run_posthog_load(settings, ws, demo=demo)
        assert_exactly_once(ws, store)


# Faults that outlast the retries: the run fails naming host and project, the cursor stays put,
# and the next run (fault gone) loads everything once.
PERSISTENT = [
    ("429_forever", Fault(kind="status", status=429, probability=1.0), {}),
    ("429_retry_after_too_long", Fault(kind="status", status=429, retry_after=3600, probability=1.0), {}),
    ("500_forever", Fault(kind="status", status=500, probability=1.0), {}),
    ("503_forever", Fault(kind="status", status=503, probability=1.0), {}),
    ("timeouts_forever", Fault(kind="slow", delay_seconds=1.0, probability=1.0), {"timeout": 0.3}),
    ("resets_forever", Fault(kind="reset", probability=1.0), {}),
    ("truncated_forever", Fault(kind="truncated_json", probability=1.0), {}),
    ("invalid_forever", Fault(kind="invalid_json", probability=1.0), {}),
]


@pytest.mark.parametrize(("fault", "overrides"), [c[1:] for c in PERSISTENT], ids=[c[0] for c in PERSISTENT])
def test_query_api_fault_that_never_ends_fails_clearly_then_recovers(
    store, demo, ws, fault, overrides
) -> None:
    # Let the first two pages through so the failure happens mid-run, with data already extracted.
    demo.faults = FaultPlan(faults=[fault.model_copy(update={"endpoint": "query"})])
    demo.faults.faults.insert(0, Fault(kind="slow", endpoint="query", on_requests={1, 2}, delay_seconds=0))
    settings = PostHogSettings(page_size=PAGE, max_retries=2, **overrides)
    with pytest.raises(PostHogError) as info:
        run_posthog_load(settings, ws, demo=demo)
    message = str(info.value)
    assert demo.url in message and "project 1" in message, message
    assert current_cursor(ws) == {}  # nothing committed, so nothing skipped later
    demo.faults = None
    run_posthog_load(PostHogSettings(page_size=PAGE), ws, demo=demo)
    assert_exactly_once(ws, store)


def test_clock_going_backwards_is_caught_by_the_lookback(ws) -> None:
    store = DemoStore.generate(seed=29, users=10, days=2)
    plan = FaultPlan(
        faults=[
            Fault(
                kind="backwards_events",
                endpoint="query",
                on_requests={2, 9},
                new_events=7,
                backwards_seconds=1800,
            )
        ]
    )
    settings = PostHogSettings(page_size=PAGE, lookback_hours=1)
    before = store.event_count()
    with DemoPostHog(store, faults=plan) as demo:
        for _ in range(3):
            run_posthog_load(settings, ws, demo=demo)
        demo.faults = None  # events added during the last run's persons query arrive after its event pages
        run_posthog_load(settings, ws, demo=demo)
    assert store.event_count() == before + 7 * len(plan.fired) and plan.fired
    assert_exactly_once(ws, store)


LEGACY = [
    ("500", Fault(kind="status", status=500, on_requests={2})),
    ("429_retry_after", Fault(kind="status", status=429, retry_after=0.1, on_requests={1})),
    ("reset", Fault(kind="reset", on_requests={2})),
    ("truncated_json", Fault(kind="truncated_json", on_requests={1})),
    ("empty_page", Fault(kind="empty_page", on_requests={1})),
    ("short_page", Fault(kind="short_page", on_requests={1})),
]


@pytest.mark.parametrize("fault", [c[1] for c in LEGACY], ids=[c[0] for c in LEGACY])
def test_legacy_events_api_fault(store, demo, ws, fault) -> None:
    demo.faults = FaultPlan(
        faults=[
            fault.model_copy(update={"endpoint": "events"}),
            Fault(kind="status", endpoint="persons", status=503, on_requests={1}),
            Fault(kind="reset", endpoint="cohorts", on_requests={1}),
        ]
    )
    settings = PostHogSettings(events_api="legacy", page_size=300, max_retries=3)
    run_posthog_load(settings, ws, demo=demo)
    fired = {kind for _, _, kind in demo.faults.fired}
    assert fault.kind in fired
    demo.faults = None
    run_posthog_load(settings, ws, demo=demo)
    assert_exactly_once(ws, store)
