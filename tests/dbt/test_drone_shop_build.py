"""`dbt build` on the real drone-shop export (DuckDB): labels, sessions, persons, context."""

from __future__ import annotations

import json

import duckdb
import pytest


@pytest.fixture(scope="module")
def con(drone_shop_warehouse):
    connection = duckdb.connect(str(drone_shop_warehouse.duckdb_path), read_only=True)
    yield connection
    connection.close()


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_build_passes_every_model_unit_test_and_data_test(drone_shop_warehouse):
    results = drone_shop_warehouse.build.results
    assert results, "dbt wrote no run results"
    assert not drone_shop_warehouse.build.failures()
    kinds = {r["unique_id"].split(".")[0] for r in results}
    assert {"model", "test", "unit_test"} <= kinds
    print(f"drone shop: load {drone_shop_warehouse.load_seconds:.1f}s, "
          f"dbt build {drone_shop_warehouse.build.seconds:.1f}s")


def test_every_event_enriched_once(con):
    counts = rows(con, "select count(*), count(distinct event_uuid) from analytics.fct_enriched_events")
    assert counts == [(372, 372)]


def test_two_persons_eight_sessions(con):
    assert rows(con, "select count(distinct person_id) from analytics.fct_enriched_events") == [(2,)]
    assert rows(con, "select count(*) from analytics.fct_sessions") == [(8,)]
    assert rows(con, "select count(*) from analytics.user_context") == [(2,)]
    # the export's $session_id values are the sessions (no derived ones in this data)
    derived = rows(con, "select count(*) from analytics.fct_sessions where session_id like 'derived-%'")
    assert derived == [(0,)]


def test_sequence_numbers_unique_and_gapless(con):
    bad = rows(con, """
        select session_id from analytics.fct_enriched_events
        group by session_id
        having count(distinct sequence_number) <> count(*) or min(sequence_number) <> 1
            or max(sequence_number) <> count(*)
    """)
    assert bad == []
    # order follows time within every session
    disorder = rows(con, """
        select count(*) from (
            select event_at, lag(event_at) over (partition by session_id order by sequence_number) as prev
            from analytics.fct_enriched_events
        ) where prev > event_at
    """)
    assert disorder == [(0,)]


def test_labels_on_real_rows(con):
    found = rows(con, "select distinct semantic_label from analytics.fct_enriched_events")
    labels = {label for (label,) in found}
    for expected in [
        "Clicked 'Shop' navigation button",
        "Clicked 'About' navigation button",
        "Clicked 'Add to Cart' button in product card",
        "Clicked 'FPV Speedster' product card",
        "Clicked 'Checkout' button",
        "Viewed a page",
        "Left the page",
        "Item added to cart",
        "Product clicked",
    ]:
        assert expected in labels, expected
    assert any(label.startswith("Rage-clicked") for label in labels)
    longest = rows(con, "select max(length(semantic_label)) from analytics.fct_enriched_events")[0][0]
    assert longest <= 150


def test_elements_parsed_from_real_chains(con):
    shop = rows(con, """
        select element_tag, element_text, element_attributes, ancestor_tags
        from analytics.fct_enriched_events
        where event_name = '$autocapture' and element_text = 'Shop' limit 1
    """)[0]
    assert shop[0] == "button"
    assert json.loads(shop[2]) == {"data-ph-capture-attribute-nav": "home"}
    assert shop[3].split(",")[:2] == ["nav", "div"]
    product = rows(con, """
        select element_attributes from analytics.fct_enriched_events
        where element_tag = 'img' and element_text = 'FPV Speedster' limit 1
    """)[0][0]
    assert json.loads(product)["data-ph-capture-attribute-product-name"] == "FPV Speedster"


def test_sessions_follow_posthog_definition(con):
    sessions = rows(con, """
        select session_id, event_count, pageview_count, autocapture_count, duration_seconds, is_bounce
        from analytics.fct_sessions
    """)
    assert sum(s[1] for s in sessions) == 372
    for _, _, pageviews, autocaptures, duration, is_bounce in sessions:
        if pageviews == 0:
            assert is_bounce is None
        else:
            assert is_bounce == (not (pageviews > 1 or autocaptures > 0 or duration >= 10))
    assert rows(con, "select count(*) from analytics.fct_sessions where is_active") == [(1,)]
    biggest = rows(con, "select session_summary from analytics.fct_sessions order by event_count desc")
    assert biggest[0][0].startswith("Clicked '") and biggest[0][0].endswith(".")


def test_user_context_shape(con):
    for _person_id, distinct_ids, recent, patterns, cohorts, prompt, summary in rows(con, """
        select person_id, distinct_ids, recent_events, patterns, cohorts, prompt_text, last_session_summary
        from analytics.user_context
    """):
        ids = json.loads(distinct_ids)
        assert len(ids) == 1
        events = json.loads(recent)
        assert len(events) == 20
        stamps = [e["timestamp"] for e in events]
        assert stamps == sorted(stamps, reverse=True)
        assert set(events[0]) >= {"label", "event_type", "action_type", "event_name", "timestamp", "page",
                                  "session_id", "sequence_number", "uuid"}
        assert isinstance(json.loads(patterns), list) and isinstance(json.loads(cohorts), list)
        assert len(prompt) <= 2000
        for event in events:
            assert event["label"] in prompt
        assert summary in prompt
        assert len(prompt) * 4 <= len(recent) + len(patterns), "prompt should be far smaller than the JSON"


def test_activity_counts_add_up(con):
    assert rows(con, "select sum(event_count) from analytics.fct_event_activity_hourly") == [(372,)]
    assert rows(con, "select sum(event_count) from analytics.fct_event_activity_daily") == [(372,)]
    assert rows(con, """
        select max(unique_users) from analytics.fct_event_activity_daily where event_name = '$pageview'
    """) == [(2,)]


def test_not_null_columns_check_names_each_null_column(drone_shop_warehouse, tmp_path):
    """One `pc_not_null` test covers a model's required columns: it fails with a row per column that
    has nulls (name and count), and only for those."""
    import shutil

    from dbt_harness import dbt_env, run_dbt

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(drone_shop_warehouse.duckdb_path, copy)
    with duckdb.connect(str(copy)) as writer:
        writer.execute("""
            update analytics.fct_sessions set session_summary = null
            where session_id in (select session_id from analytics.fct_sessions order by session_id limit 2)
        """)
        writer.execute("""
            update analytics.fct_sessions set ended_at = null
            where session_id = (select max(session_id) from analytics.fct_sessions)
        """)
    env = dbt_env(tmp_path, {"WAREHOUSE": "duckdb", "DUCKDB_PATH": str(copy)})
    args = ["test", "--select", "not_null_columns_fct_sessions", "not_null_columns_dim_persons",
            "--store-failures"]
    result = run_dbt(args, env, check=False)
    assert result.returncode == 1
    tests = [r for r in result.results if r["unique_id"].startswith("test.")]
    status = {r["unique_id"].split(".")[2]: r["status"] for r in tests}
    assert status == {"not_null_columns_fct_sessions": "fail", "not_null_columns_dim_persons": "pass"}
    with duckdb.connect(str(copy), read_only=True) as reader:
        stored = reader.execute(
            "select column_name, null_rows from dbt_test__audit.not_null_columns_fct_sessions"
        ).fetchall()
    assert sorted(stored) == [("ended_at", 1), ("session_summary", 2)]
