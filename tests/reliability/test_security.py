"""Secrets never leak (logs, Dagster event log, exceptions, exports); the read API refuses hostile ids;
hostile property and rule values stay plain text after a real dbt build; privacy keys never get out."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest
from fastapi.testclient import TestClient
from hostile_data import HOSTILE_TEXT, REDACT_CANARY
from reliability_helpers import scalar

from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from ingestion.warehouse import read_table
from serving.api import create_app
from serving.store import ExportStore

REPO_ROOT = Path(__file__).resolve().parents[2]
CANARY_KEY = "phx_SECRET_canary_5b1e9c77d2a84f0f"
WRONG_CANARY_KEY = "phx_SECRET_canary_WRONG_0e4f11aa"
SERVING_KEY = "serving-key-for-reliability"


def _files_text(folder: Path) -> str:
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(parts)


def _event_log_text(instance: dg.DagsterInstance, run_id: str) -> str:
    from dagster._serdes import serialize_value

    records = instance.all_logs(run_id)
    run = instance.get_run_by_id(run_id)
    return "\n".join([serialize_value(r) for r in records] + [serialize_value(run)])


@pytest.fixture
def canary_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = DemoStore.generate(seed=43, users=6, days=2)
    with DemoPostHog(store, api_key=CANARY_KEY) as demo:
        monkeypatch.setenv("POSTHOG_HOST", demo.url)
        monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", CANARY_KEY)
        monkeypatch.setenv("POSTHOG_RETRY_BACKOFF", "0.01")
        monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
        monkeypatch.setenv("EXPORT_DIR", str(tmp_path / "export"))
        monkeypatch.setenv("RULES_DIR", str(REPO_ROOT / "rules"))
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        yield tmp_path


def _run_job(job_name: str):
    from orchestration.definitions import build_definitions

    job = build_definitions().resolve_job_def(job_name)
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    return instance, result


def test_api_key_never_in_logs_event_log_or_exports(canary_env: Path, capfd, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    instance, result = _run_job("posthog_incremental")
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    out, err = capfd.readouterr()
    texts = {
        "stdout": out,
        "stderr": err,
        "python logs": "\n".join(r.getMessage() for r in caplog.records),
        "dagster event log": _event_log_text(instance, result.run_id),
        "export files": _files_text(canary_env / "export"),
        "pipeline folder": _files_text(canary_env / ".dlt_pipelines"),
    }
    assert texts["export files"] and texts["dagster event log"]
    for where, text in texts.items():
        assert CANARY_KEY not in text, f"API key leaked into {where}"
    # The warehouse itself (dlt state, raw tables) holds no key either.
    assert CANARY_KEY.encode() not in (canary_env / "warehouse.duckdb").read_bytes()


def test_wrong_key_fails_without_echoing_it(canary_env: Path, monkeypatch, capfd, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", WRONG_CANARY_KEY)
    instance, result = _run_job("posthog_incremental")
    assert not result.success
    failures = [e.message or "" for e in result.all_events if e.is_failure]
    failure_text = "\n".join(
        failures + [str(e.event_specific_data) for e in result.all_events if e.is_failure]
    )
    assert "401" in failure_text  # the failure is clear about what went wrong
    out, err = capfd.readouterr()
    for where, text in {
        "failure messages": failure_text,
        "dagster event log": _event_log_text(instance, result.run_id),
        "stdout": out,
        "stderr": err,
        "python logs": "\n".join(r.getMessage() for r in caplog.records),
    }.items():
        assert WRONG_CANARY_KEY not in text, f"wrong API key leaked into {where}"
        assert CANARY_KEY not in text


# -- read API ------------------------------------------------------------------------------------------
@pytest.fixture
def api(hostile_build) -> TestClient:
    return TestClient(create_app(hostile_build.export_dir, api_key=SERVING_KEY))


def _a_person(hostile_build) -> str:
    return read_table(hostile_build.ws, "SELECT person_id FROM analytics.user_context LIMIT 1")["person_id"][
        0
    ].as_py()


def test_read_api_needs_the_key(api, hostile_build) -> None:
    person = _a_person(hostile_build)
    assert api.get(f"/context/{person}").status_code == 401
    assert api.get(f"/context/{person}", headers={"X-API-Key": SERVING_KEY + "x"}).status_code == 401
    assert api.get(f"/context/{person}", headers={"Authorization": "Bearer "}).status_code == 401
    assert (
        api.get(f"/context/{person}", headers={"Authorization": f"Bearer {SERVING_KEY}"}).status_code == 200
    )


@pytest.mark.parametrize(
    "user_id",
    [
        "../manifest.json",
        "..%2Fmanifest.json",
        "%2e%2e%2f%2e%2e%2fcurrent%2fmanifest.json",
        "versions/../../etc/passwd",
        "current",
        "manifest.json",
        "/etc/passwd",
        "x' OR '1'='1",
        "'; drop table analytics.user_context; --",
        "{{ config(materialized='table') }}",
        "a" * 20_000,
        "%00",
    ],
)
def test_hostile_ids_get_4xx_and_never_a_file(api, hostile_build, user_id: str) -> None:
    response = api.get(f"/context/{user_id}", headers={"X-API-Key": SERVING_KEY})
    assert 400 <= response.status_code < 500, (user_id[:80], response.status_code, response.text[:300])
    assert "schema_version" not in response.text and "root:" not in response.text
    # The warehouse was only read, never changed by any of these ids.
    assert scalar(hostile_build.ws, "SELECT count(*) FROM analytics.user_context") > 0


# -- hostile values through a real dbt build --------------------------------------------------------------
def test_property_values_reach_labels_as_plain_text(hostile_build) -> None:
    labels = read_table(
        hostile_build.ws,
        "SELECT semantic_label FROM analytics.fct_enriched_events WHERE event_name = 'product_viewed'",
    )["semantic_label"].to_pylist()
    assert f"Viewed product: {HOSTILE_TEXT}" in labels


def test_rule_values_reach_labels_as_plain_text(hostile_build) -> None:
    from reliability_helpers import HOSTILE_PAGE_NAME

    ws = hostile_build.ws
    template = read_table(
        ws, "SELECT semantic_label FROM analytics.fct_enriched_events WHERE event_name = 'hostile_event'"
    )["semantic_label"][0].as_py()
    # Template text and the property value both arrive verbatim (capped at LABEL_MAX_LENGTH with "…").
    assert template.startswith(f"Said {HOSTILE_TEXT} '; drop table x; -- {{{{ config(")
    page = read_table(
        ws, "SELECT semantic_label FROM analytics.fct_enriched_events WHERE page_path LIKE '/o''brien%'"
    )["semantic_label"].to_pylist()
    assert page == [f"Viewed {HOSTILE_PAGE_NAME}"]


def test_tables_are_intact_after_hostile_values(hostile_build) -> None:
    ws = hostile_build.ws
    for table in ("user_context", "fct_sessions", "fct_enriched_events", "dim_persons"):
        assert scalar(ws, f"SELECT count(*) FROM analytics.{table}") > 0, table
    assert scalar(ws, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'x'") == 0
    # The hostile text also reaches the export and the prompt as text.
    exported = _files_text(hostile_build.export_dir / "current")
    assert "drop table analytics.user_context" in exported


def test_privacy_keys_never_reach_exports_or_prompts(hostile_build) -> None:
    ws = hostile_build.ws
    assert REDACT_CANARY in scalar(
        ws, "SELECT properties FROM posthog_raw.events WHERE distinct_id = 'hostile-user-redact'"
    )  # the canary really was in the input
    text = _files_text(hostile_build.export_dir)
    assert text and REDACT_CANARY not in text
    prompts = read_table(ws, "SELECT prompt_text, recent_events FROM analytics.user_context").to_pylist()
    assert not any(REDACT_CANARY in (r["prompt_text"] or "") + (r["recent_events"] or "") for r in prompts)
    # And what the serving store hands out for that person has no trace of it either.
    person = scalar(
        ws,
        "SELECT person_id FROM analytics.fct_enriched_events"
        " WHERE distinct_id = 'hostile-user-redact' LIMIT 1",
    )
    row = ExportStore(hostile_build.export_dir).snapshot().get(person)
    assert row is not None and REDACT_CANARY not in str(row)
