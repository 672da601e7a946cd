"""Bounded soak: many incremental loads in a row while the demo API keeps getting new events and random
faults fire; then every generated event is in the warehouse exactly once, and the incrementally built
`user_context` equals a full rebuild."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from reliability_helpers import REPO_ROOT, assert_exactly_once, run_dbt

from ingestion.demo_api.faults import Fault, FaultPlan
from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from ingestion.pipeline import IngestionError, run_posthog_load
from ingestion.posthog.client import PostHogError
from ingestion.settings import PostHogSettings
from ingestion.warehouse import connect_duckdb
from rules.load import load_rules_to_warehouse
from rules.loader import load_rules

RUNS = 10
SEED = 20261123


def _fault_plan() -> FaultPlan:
    p = 0.04
    return FaultPlan(
        seed=SEED,
        faults=[
            Fault(kind="status", status=429, retry_after=0.05, probability=p),
            Fault(kind="status", status=429, probability=p),
            Fault(kind="status", status=500, probability=p),
            Fault(kind="status", status=502, probability=p),
            Fault(kind="status", status=503, probability=p),
            Fault(kind="slow", delay_seconds=0.8, probability=p),
            Fault(kind="reset", probability=p),
            Fault(kind="truncated_json", probability=p),
            Fault(kind="invalid_json", probability=p),
            Fault(kind="empty_page", probability=p),
            Fault(kind="short_page", probability=p),
            Fault(kind="repeat_rows", probability=p),
            Fault(
                kind="backwards_events", endpoint="query", probability=p, new_events=3, backwards_seconds=900
            ),
        ],
    )


def _new_events(store: DemoStore, rng: random.Random, run: int) -> int:
    now = datetime.now(UTC)
    rows = []
    for _ in range(rng.randint(5, 40)):
        user = rng.randint(0, 11)
        rows.append(
            {
                "event": rng.choice(["$pageview", "product_viewed", "item_added_to_cart", "$autocapture"]),
                "distinct_id": f"soak-user-{user}",
                "timestamp": (now - timedelta(seconds=rng.uniform(0, 120))).isoformat(),
                "properties": {
                    "$session_id": f"soak-{user}-{run // 5}",
                    "$pathname": rng.choice(["/", "/products/7", "/cart", "/checkout"]),
                    "product_name": f"Soak product {rng.randint(1, 9)}",
                },
                "elements_chain": 'button.btn:text="Add to cart"' if rng.random() < 0.3 else "",
            }
        )
    return store.append_events(rows)


def _context_rows(ws) -> list[tuple]:
    con = connect_duckdb(ws.duckdb_path, read_only=True)
    try:
        columns = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics'"
                " AND table_name = 'user_context' AND column_name <> 'context_as_of'"
                " ORDER BY ordinal_position"
            ).fetchall()
        ]
        cols = ", ".join(f'"{c}"' for c in columns)
        return con.execute(
            f"SELECT {cols} FROM analytics.user_context ORDER BY project_id, person_id"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_soak_incremental_loads_with_random_faults(ws, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COHORT_REFERENCE_TIME", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    rng = random.Random(SEED)
    store = DemoStore.generate(seed=47, users=15, days=2)
    settings = PostHogSettings(page_size=200, max_retries=4, timeout=0.5, lookback_hours=1)
    outcomes: Counter[str] = Counter()
    generated = 0
    load_rules_to_warehouse(load_rules(REPO_ROOT / "rules"), ws)
    with DemoPostHog(store, faults=_fault_plan()) as demo:
        for run in range(RUNS):
            generated += _new_events(store, rng, run)
            try:
                run_posthog_load(settings, ws, demo=demo)
                outcomes["ok"] += 1
            except (PostHogError, IngestionError) as error:
                assert "project 1" in str(error) or "failed" in str(error)
                outcomes["failed clearly"] += 1
            if run == RUNS // 2:
                run_dbt(["build"], tmp_path, ws.duckdb_path)  # an incremental baseline halfway through
        fired = Counter(kind for _, _, kind in demo.faults.fired)
        demo.faults = None
        run_posthog_load(settings, ws, demo=demo)
    assert sum(fired.values()) >= 10, fired  # the soak really was faulty
    assert generated > 0
    assert_exactly_once(ws, store)
    print(f"soak: {RUNS} runs {dict(outcomes)}, faults {dict(fired)}, {store.event_count()} events")

    run_dbt(["build"], tmp_path, ws.duckdb_path)
    incremental = _context_rows(ws)
    run_dbt(["build", "--full-refresh"], tmp_path, ws.duckdb_path)
    full = _context_rows(ws)
    assert len(incremental) == len(full) > 0
    assert incremental == full
