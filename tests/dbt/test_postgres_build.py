"""The same `dbt build` on a real PostgreSQL server (dlt-loaded raw data), and parity with DuckDB."""

from __future__ import annotations

import json

import duckdb
import pytest

pytestmark = pytest.mark.postgres

COMPARED = {
    "fct_enriched_events": (
        "event_uuid",
        "select event_uuid, person_id, session_id, sequence_number, event_type, action_type, page_path, "
        "page_title, element_tag, element_text, element_href, element_id, element_classes, ancestor_tags, "
        "semantic_label from analytics.fct_enriched_events",
    ),
    "fct_sessions": (
        "session_id",
        "select session_id, person_id, event_count, pageview_count, autocapture_count, click_count, "
        "rage_click_count, entry_page, exit_page, channel, is_bounce, is_active, session_summary, "
        "round(cast(duration_seconds as numeric), 3) from analytics.fct_sessions",
    ),
    "user_context": (
        "person_id",
        "select person_id, last_session_id, last_session_summary, session_count, event_count, prompt_text "
        "from analytics.user_context",
    ),
}


def _pg_rows(env: dict[str, str], sql: str) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(
        host=env["PGHOST"], port=int(env["PGPORT"]), user=env["PGUSER"], dbname=env["PGDATABASE"],
        password=env["PGPASSWORD"],
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def _normalize(row: tuple) -> tuple:
    return tuple(float(v) if hasattr(v, "as_tuple") else v for v in row)


def test_postgres_build_passes(drone_shop_postgres):
    build = drone_shop_postgres.build
    assert not build.failures()
    assert {r["unique_id"].split(".")[0] for r in build.results} >= {"model", "test", "unit_test"}
    print(f"postgres drone shop: load {drone_shop_postgres.load_seconds:.1f}s, "
          f"dbt build {build.seconds:.1f}s")


def test_postgres_counts(drone_shop_postgres):
    env = drone_shop_postgres.env
    assert _pg_rows(env, "select count(*), count(distinct person_id) from analytics.fct_enriched_events") == [
        (372, 2)
    ]
    assert _pg_rows(env, "select count(*) from analytics.fct_sessions") == [(8,)]
    contexts = _pg_rows(
        env, "select recent_events, patterns, cohorts, distinct_ids from analytics.user_context"
    )
    assert len(contexts) == 2
    for recent, patterns, cohorts, distinct_ids in contexts:
        assert len(json.loads(recent)) == 20
        assert isinstance(json.loads(patterns), list)
        assert isinstance(json.loads(cohorts), list)
        assert len(json.loads(distinct_ids)) == 1


@pytest.mark.parametrize("model", sorted(COMPARED))
def test_postgres_matches_duckdb(model, drone_shop_postgres, drone_shop_warehouse):
    key, sql = COMPARED[model]
    pg = sorted(_normalize(r) for r in _pg_rows(drone_shop_postgres.env, sql))
    con = duckdb.connect(str(drone_shop_warehouse.duckdb_path), read_only=True)
    try:
        dk = sorted(_normalize(r) for r in con.execute(sql).fetchall())
    finally:
        con.close()
    assert len(pg) == len(dk)
    mismatches = [(a, b) for a, b in zip(pg, dk, strict=True) if a != b]
    assert not mismatches, f"{model}: first differences (postgres, duckdb) by {key}: {mismatches[:3]}"
