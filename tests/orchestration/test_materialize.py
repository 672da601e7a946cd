"""The whole asset graph materialized in-process on the demo API into a temp DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest

from ingestion.settings import WarehouseSettings
from ingestion.warehouse import read_table
from orchestration.definitions import build_definitions
from orchestration.defs.exports import EXPORT_KEY, USER_CONTEXT_KEY
from orchestration.defs.ingestion import EVENTS_KEY
from serving.store import ExportStore

REPO_ROOT = Path(__file__).resolve().parents[2]
OWN_CHECKS = {
    (EVENTS_KEY, "quarantine_rate"),
    (EVENTS_KEY, "no_duplicate_uuids"),
    (EVENTS_KEY, "newest_event_fresh"),
    (USER_CONTEXT_KEY, "every_person_has_events"),
}


@pytest.fixture(scope="module")
def run(module_env: Path):
    defs = build_definitions()
    job = defs.resolve_job_def("posthog_incremental")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        yield SimpleNamespace(result=result, root=module_env, defs=defs, instance=instance)


def _scalar(sql: str):
    return read_table(WarehouseSettings.from_env(), sql).column(0)[0].as_py()


def test_run_succeeds(run) -> None:
    failures = [e.message for e in run.result.all_events if e.is_failure]
    assert run.result.success, failures


def test_every_group_materialized(run) -> None:
    keys = {
        e.event_specific_data.materialization.asset_key for e in run.result.get_asset_materialization_events()
    }
    groups = {run.defs.resolve_assets_def(k).group_names_by_key[k] for k in keys}
    assert {"ingestion", "rules", "staging", "intermediate", "marts", "exports"} <= groups


def test_user_context_has_a_row_per_person(run) -> None:
    people = _scalar(
        "select count(distinct person_id) from analytics.fct_enriched_events where person_id is not null"
    )
    rows = _scalar("select count(*) from analytics.user_context")
    distinct = _scalar("select count(distinct person_id) from analytics.user_context")
    assert people > 0 and rows == people == distinct


def test_checks_pass(run) -> None:
    evaluations = run.result.get_asset_check_evaluations()
    seen = {(e.asset_key, e.check_name) for e in evaluations}
    assert OWN_CHECKS <= seen
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed]
    assert not failed
    assert len(evaluations) > len(OWN_CHECKS)  # dbt tests ran as asset checks too


def test_metadata_users_look_at(run) -> None:
    by_key = {
        e.event_specific_data.materialization.asset_key: e.event_specific_data.materialization.metadata
        for e in run.result.get_asset_materialization_events()
    }
    events = by_key[EVENTS_KEY]
    assert events["rows_loaded"].value > 0 and events["rows_inserted"].value == events["row_count"].value
    assert events["newest_event_at"].value != "none"
    assert "| hour (UTC) | events |" in events["events_per_hour"].value
    export = by_key[EXPORT_KEY]
    assert export["row_count"].value == _scalar("select count(*) from analytics.user_context")
    assert "person_id" in export["preview"].value


def test_export_written_and_readable(run) -> None:
    export_dir = Path(os.environ["EXPORT_DIR"])
    snap = ExportStore(export_dir).snapshot()
    assert snap.row_count == _scalar("select count(*) from analytics.user_context")
    person = _scalar("select person_id from analytics.user_context order by event_count desc limit 1")
    row = snap.get(person)
    assert row is not None and row["recent_events"] and row["prompt_text"]
    redacted = read_table(
        WarehouseSettings.from_env(), "select property_key from posthog_rules.privacy_redactions"
    )
    keys = {k.lower() for k in redacted.column(0).to_pylist()}
    assert keys and set(snap.manifest["redacted_keys"]) == keys


def test_cli_context_reads_the_export(run) -> None:
    person = _scalar("select person_id from analytics.user_context order by event_count desc limit 1")
    cli = [sys.executable, "-m", "orchestration.cli", "context"]
    prompt = subprocess.run(
        [*cli, person, "--format", "prompt"], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert prompt.returncode == 0 and prompt.stdout.strip()
    as_json = subprocess.run([*cli, person], capture_output=True, text=True, cwd=REPO_ROOT)
    assert as_json.returncode == 0 and f'"person_id": "{person}"' in as_json.stdout
    unknown = subprocess.run([*cli, "no-such-user"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert unknown.returncode == 1 and "unknown user" in unknown.stderr
    # serving commands never import dagster
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, orchestration.cli as c; c.main(['context', 'x']); "
            "print('dagster loaded:', 'dagster' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert "dagster loaded: False" in probe.stdout, probe.stderr


@pytest.mark.slow
def test_backfill_range_reloads_and_rebuilds(run) -> None:
    newest = _scalar("select max(timestamp) from posthog_raw.events")
    before = _scalar("select count(*) from posthog_raw.events")
    day = newest.date().isoformat()
    job = run.defs.resolve_job_def("posthog_backfill")
    config = {"ops": {"backfill_load": {"config": {"start": day, "end": day}}}}
    result = job.execute_in_process(instance=run.instance, run_config=config, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert _scalar("select count(*) from posthog_raw.events") >= before  # merge: nothing duplicated
    assert _scalar("select count(*) - count(distinct uuid) from posthog_raw.events") == 0
    keys = {
        e.event_specific_data.materialization.asset_key for e in result.get_asset_materialization_events()
    }
    assert {EVENTS_KEY, USER_CONTEXT_KEY, EXPORT_KEY} <= keys
    load = next(
        e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
        if e.event_specific_data.materialization.asset_key == EVENTS_KEY
    )
    assert load.metadata["time_range"].value.startswith(f"{day}T00:00:00")


def test_invalid_rules_fail_with_the_loader_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from orchestration.defs.resources import ContextPathsResource, WarehouseResource
    from orchestration.defs.rules import build_rules_assets

    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    text = (rules / "patterns.yaml").read_text()
    (rules / "patterns.yaml").write_text(text.replace("severity: HIGH", "severity: EXTREME", 1))
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    result = dg.materialize(
        [build_rules_assets()],
        resources={"paths": ContextPathsResource(rules_dir=str(rules)), "warehouse": WarehouseResource()},
        raise_on_error=False,
    )
    assert not result.success
    messages = " ".join(
        str(e.event_specific_data.error.message)
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    )
    assert "patterns.yaml" in messages and "severity" in messages
