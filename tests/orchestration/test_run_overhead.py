"""Per-run overhead settings: saved dbt parse state per warehouse, files-only event loads."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from orchestration.defs import steps
from orchestration.defs.dbt import (
    PARTIAL_PARSE_FILE,
    invocation_target_path,
    parse_state_key,
    save_partial_parse,
)

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


def test_files_only_runs_skip_api_events() -> None:
    assert steps.events_from_api({}) is True
    assert steps.events_from_api({"BATCH_EXPORT_URL": "  "}) is True
    assert steps.events_from_api({"BATCH_EXPORT_URL": "/data/exports"}) is False
    both = {"BATCH_EXPORT_URL": "/data/exports", "POSTHOG_EVENTS_FROM_API": "true"}
    assert steps.events_from_api(both) is True


def test_parse_state_key_follows_profile_settings_not_secrets() -> None:
    base = {"WAREHOUSE": "duckdb", "DUCKDB_PATH": "/w/a.duckdb"}
    assert parse_state_key(PROJECT, base) == parse_state_key(PROJECT, dict(base))
    assert parse_state_key(PROJECT, base) != parse_state_key(PROJECT, {**base, "DUCKDB_PATH": "/w/b.duckdb"})
    assert parse_state_key(PROJECT, base) == parse_state_key(PROJECT, {**base, "PGPASSWORD": "s3cret"})


def test_saved_state_seeds_the_next_invocation(tmp_path: Path, monkeypatch) -> None:
    project_dir = tmp_path / "proj"
    project_dir.mkdir()
    (project_dir / "profiles.yml").write_text("path: \"{{ env_var('DUCKDB_PATH') }}\"\n")
    project = SimpleNamespace(project_dir=project_dir, target_path=Path("target") / "dagster")
    monkeypatch.setenv("DUCKDB_PATH", "/w/a.duckdb")

    first = invocation_target_path(project, "run-one-0000")
    assert not (first / PARTIAL_PARSE_FILE).exists()
    (first / PARTIAL_PARSE_FILE).write_bytes(b"state-a")
    save_partial_parse(project, first)

    second = invocation_target_path(project, "run-two-0000")
    assert (second / PARTIAL_PARSE_FILE).read_bytes() == b"state-a"

    monkeypatch.setenv("DUCKDB_PATH", "/w/b.duckdb")
    other = invocation_target_path(project, "run-three-00")
    assert not (other / PARTIAL_PARSE_FILE).exists()
