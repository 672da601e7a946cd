"""The code location as `dagster dev` loads it: keys, groups, lineage, jobs, schedules, sensors."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.definitions import build_definitions

EXPECTED_GROUPS = {"ingestion", "rules", "staging", "intermediate", "marts", "exports"}


@pytest.fixture(scope="module")
def repo():
    return build_definitions().get_repository_def()


def test_groups_and_keys(repo) -> None:
    graph = repo.asset_graph
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == EXPECTED_GROUPS
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"posthog_raw/events", "posthog_rules/pattern_rules", "analytics/user_context"} <= keys
    assert "exports/user_context_export" in keys


def test_every_asset_has_owner_kind_and_description(repo) -> None:
    graph = repo.asset_graph
    for key in graph.get_all_asset_keys():
        spec = graph.get(key)
        assert spec.owners, key
        assert spec.kinds, key
        assert spec.description, key


def test_dbt_sources_are_the_loader_assets(repo) -> None:
    """No dangling source stubs: every upstream of a dbt model is materialized by dlt or the rules loader."""
    graph = repo.asset_graph
    materializable = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    assert materializable == set(graph.get_all_asset_keys())
    staging = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "staging"]
    parents = {p for k in staging for p in graph.get(k).parent_keys}
    assert {p.path[0] for p in parents} <= {"posthog_raw", "posthog_rules", "staging"}


def test_export_is_downstream_of_context_and_checks_exist(repo) -> None:
    graph = repo.asset_graph
    export = graph.get(dg.AssetKey(["exports", "user_context_export"]))
    assert dg.AssetKey(["analytics", "user_context"]) in export.parent_keys
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("posthog_raw/events", "quarantine_rate") in checks
    assert ("posthog_raw/events", "no_duplicate_uuids") in checks
    assert ("posthog_raw/events", "newest_event_fresh") in checks
    assert ("analytics/user_context", "every_person_has_events") in checks
    assert any(c[0].startswith("analytics/") and c[1].startswith(("unique", "not_null")) for c in checks)


def test_jobs_schedules_sensors(repo) -> None:
    assert {"posthog_incremental", "posthog_daily_full", "posthog_backfill"} <= {
        j.name for j in repo.get_all_jobs()
    }
    assert repo.get_job("posthog_backfill").partitions_def is not None
    schedules = {s.name: s for s in repo.schedule_defs}
    assert set(schedules) == {"posthog_incremental_every_15_minutes", "posthog_daily_full_rebuild"}
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules.values())
    sensors = {s.name: s for s in repo.sensor_defs}
    assert {"posthog_new_events_sensor", "pipeline_failure_alert"} <= set(sensors)
    assert sensors["posthog_new_events_sensor"].default_status == dg.DefaultSensorStatus.RUNNING


def test_writers_share_one_pool(repo) -> None:
    graph = repo.asset_graph
    for name in (
        "posthog_raw/events",
        "posthog_rules/pattern_rules",
        "analytics/user_context",
        "exports/user_context_export",
    ):
        assets_def = graph.get(dg.AssetKey.from_user_string(name)).assets_def
        assert assets_def.op.pool == "warehouse", name
