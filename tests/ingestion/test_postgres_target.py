"""The same PostHog load into a real PostgreSQL server (WAREHOUSE=postgres)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ingestion_helpers import store_uuids

from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from ingestion.pipeline import run_posthog_load
from ingestion.settings import PostHogSettings, WarehouseSettings
from ingestion.warehouse import read_table

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarehouseSettings]:
    from pg_server import find_bin_dir, postgres_server

    if find_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    with postgres_server() as server:
        env = server.env()
        yield WarehouseSettings.from_env(
            {
                "WAREHOUSE": "postgres",
                **env,
                "DLT_PIPELINES_DIR": str(tmp_path_factory.mktemp("pipelines")),
            }
        )


def test_posthog_load_into_postgres_twice(pg_ws: WarehouseSettings) -> None:
    store = DemoStore.generate(seed=9, users=8, days=2)
    with DemoPostHog(store) as demo:
        first = run_posthog_load(PostHogSettings(), pg_ws, demo=demo)
        run_posthog_load(PostHogSettings(), pg_ws, demo=demo)
    assert first.events_loaded == store.event_count()
    uuids = read_table(pg_ws, "SELECT uuid FROM posthog_raw.events")["uuid"].to_pylist()
    assert len(uuids) == len(set(uuids)) == store.event_count()
    assert set(uuids) == store_uuids(store)
    types = {
        r["column_name"]: r["data_type"]
        for r in read_table(
            pg_ws,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'posthog_raw' AND table_name = 'events'",
        ).to_pylist()
    }
    assert types["properties"] in ("character varying", "text")
    assert types["timestamp"] == "timestamp with time zone"
    persons = read_table(pg_ws, "SELECT count(*) AS n FROM posthog_raw.persons")["n"][0].as_py()
    assert persons > 0
