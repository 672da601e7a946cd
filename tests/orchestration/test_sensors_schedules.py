"""Schedules, the new-events sensor against a real demo PostHog server, and the failure alert webhook."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from orchestration.config import OrchestrationSettings
from orchestration.defs import jobs, sensors
from orchestration.defs.dbt import DBT_OP_NAME
from orchestration.defs.resources import PostHogResource


def _events(n: int, after: datetime) -> list[dict]:
    return [
        {
            "event": "$pageview",
            "distinct_id": f"sensor-user-{i % 3}",
            "timestamp": (after + timedelta(seconds=i + 1)).isoformat(),
            "properties": {"$pathname": "/pricing", "$session_id": "sensor-session"},
        }
        for i in range(n)
    ]


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"posthog": PostHogResource()}
    )
    return sensor.evaluate_tick(context)


def _probe_due(raw: str | None) -> str:
    """The same cursor once SENSOR_INTERVAL_SECONDS passed since its probe and no run is pending."""
    cursor = sensors.SensorCursor.parse(raw)
    return replace(cursor, probed_at=cursor.probed_at - timedelta(hours=1), run_seen=False).dump()


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch):
    store = DemoStore.generate(seed=11, users=8, days=2, end=datetime.now(UTC) - timedelta(minutes=5))
    with DemoPostHog(store) as server:
        monkeypatch.setenv("POSTHOG_HOST", server.url)
        monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "phx_demo_key")
        yield store, server


def test_sensor_cursor_skip_and_run(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _server = demo
    monkeypatch.setenv("SENSOR_MIN_NEW_EVENTS", "5")
    monkeypatch.setenv("SENSOR_MAX_WAIT_MINUTES", "60")
    sensor = sensors.build_new_events_sensor(OrchestrationSettings.from_env())
    with dg.DagsterInstance.ephemeral() as instance:
        first = _tick(sensor, instance, None)
        assert len(first.run_requests) == 1  # nothing loaded yet: bring the warehouse up to date
        cursor1 = sensors.SensorCursor.parse(first.cursor)
        assert cursor1.since is not None and cursor1.requested_at is not None

        idle = _tick(sensor, instance, _probe_due(first.cursor))
        assert not idle.run_requests and "0 new events" in (idle.skip_message or "")
        assert sensors.SensorCursor.parse(idle.cursor).since == cursor1.since

        store.append_events(_events(3, cursor1.since))
        few = _tick(sensor, instance, _probe_due(first.cursor))
        assert not few.run_requests and "3 new events" in (few.skip_message or "")

        store.append_events(_events(3, cursor1.since + timedelta(seconds=10)))
        enough = _tick(sensor, instance, _probe_due(few.cursor))
        assert len(enough.run_requests) == 1
        assert enough.run_requests[0].tags["posthog_context/new_events"] == "6"
        cursor2 = sensors.SensorCursor.parse(enough.cursor)
        assert cursor2.since > cursor1.since  # the cursor advanced to the newest event seen

        after = _tick(sensor, instance, _probe_due(enough.cursor))
        assert not after.run_requests


def test_sensor_runs_after_max_wait_with_few_events(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _server = demo
    monkeypatch.setenv("SENSOR_MIN_NEW_EVENTS", "1000")
    monkeypatch.setenv("SENSOR_MAX_WAIT_MINUTES", "30")
    sensor = sensors.build_new_events_sensor(OrchestrationSettings.from_env())
    now = datetime.now(UTC)
    store.append_events(_events(2, now))
    old = sensors.SensorCursor(since=now, requested_at=now - timedelta(minutes=45)).dump()
    recent = sensors.SensorCursor(since=now, requested_at=now - timedelta(minutes=5)).dump()
    with dg.DagsterInstance.ephemeral() as instance:
        assert len(_tick(sensor, instance, old).run_requests) == 1
        assert not _tick(sensor, instance, recent).run_requests
        nothing_new = sensors.SensorCursor(
            since=now + timedelta(hours=1), requested_at=now - timedelta(hours=5)
        )
        assert not _tick(sensor, instance, nothing_new.dump()).run_requests


def test_sensor_probes_right_after_a_run_and_otherwise_on_its_interval(
    demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ticks are cheap (every SENSOR_TICK_SECONDS); PostHog is asked when a run just ended or
    SENSOR_INTERVAL_SECONDS passed, so events that arrived during a run do not wait for the interval."""
    store, server = demo
    monkeypatch.setenv("SENSOR_MIN_NEW_EVENTS", "5")
    monkeypatch.setenv("SENSOR_MAX_WAIT_MINUTES", "60")
    monkeypatch.setenv("SENSOR_INTERVAL_SECONDS", "600")
    settings = OrchestrationSettings.from_env()
    sensor = sensors.build_new_events_sensor(settings)
    assert sensor.minimum_interval_seconds == settings.sensor_tick_seconds == 5
    with dg.DagsterInstance.ephemeral() as instance:
        first = _tick(sensor, instance, _probe_due(sensors.SensorCursor(probed_at=datetime.now(UTC)).dump()))
        assert len(first.run_requests) == 1
        asked = server.request_count["query"]

        running = dg.DagsterRun(job_name=jobs.INCREMENTAL_JOB, status=dg.DagsterRunStatus.STARTED)
        instance.add_run(running)
        during = _tick(sensor, instance, first.cursor)
        assert not during.run_requests and "in progress" in (during.skip_message or "")
        assert sensors.SensorCursor.parse(during.cursor).run_seen
        store.append_events(_events(6, sensors.SensorCursor.parse(first.cursor).since))
        assert server.request_count["query"] == asked  # no PostHog request while the run is going

        instance.delete_run(running.run_id)
        after_run = _tick(sensor, instance, during.cursor)
        assert len(after_run.run_requests) == 1  # asked at once, 600 s interval or not
        assert server.request_count["query"] == asked + 1

        instance.add_run(dg.DagsterRun(job_name=jobs.INCREMENTAL_JOB, status=dg.DagsterRunStatus.SUCCESS))
        quiet = sensors.SensorCursor.parse(after_run.cursor)
        idle = _tick(sensor, instance, replace(quiet, run_seen=False).dump())
        assert not idle.run_requests and "next PostHog probe in" in (idle.skip_message or "")
        assert server.request_count["query"] == asked + 1


def test_schedules_request_their_jobs() -> None:
    settings = OrchestrationSettings.from_env({})
    built = jobs.build_jobs(has_dbt=True)
    incremental, daily = jobs.build_schedules(settings, built)
    assert incremental.cron_schedule == "*/15 * * * *" and daily.cron_schedule == "0 4 * * *"
    for schedule in (incremental, daily):
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    tick_time = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick_time)
        assert len(incremental.evaluate_tick(context).run_requests) == 1
        daily_request = daily.evaluate_tick(context).run_requests[0]
    assert incremental.job_name == jobs.INCREMENTAL_JOB and daily.job_name == jobs.DAILY_JOB
    daily_job = built[1]
    assert daily_job.config["ops"][DBT_OP_NAME]["config"]["full_refresh"] is True
    assert daily_request is not None


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def test_failure_alert_posts_webhook_without_secrets(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    secret = "phx_super_secret_value"
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", secret)
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    _Hook.received.clear()

    @dg.op
    def explode() -> None:
        raise RuntimeError(f"request with key {secret} was refused")

    @dg.job
    def fragile() -> None:
        explode()

    try:
        with dg.DagsterInstance.ephemeral() as instance:
            result = fragile.execute_in_process(instance=instance, raise_on_error=False)
            assert not result.success
            failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
            context = dg.build_run_status_sensor_context(
                sensor_name="pipeline_failure_alert",
                dagster_event=failure,
                dagster_instance=instance,
                dagster_run=result.dagster_run,
            ).for_run_failure()
            sensor = sensors.build_failure_sensor(OrchestrationSettings.from_env())
            with caplog.at_level("ERROR", logger="posthog_context.alerts"):
                sensor(context)
    finally:
        server.shutdown()
    assert len(_Hook.received) == 1
    payload = _Hook.received[0]
    assert payload["job"] == "fragile" and payload["run_id"] == result.run_id
    assert secret not in json.dumps(payload)
    assert any("run failed" in r.getMessage() and secret not in r.getMessage() for r in caplog.records)


def test_instance_yaml_examples_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((Path(sensors.__file__).parents[1] / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 1
        assert config.pool_config.default_pool_limit == 1
        # ~17k skipped sensor ticks a day at SENSOR_TICK_SECONDS=5: kept one day, not Dagster's seven
        retention = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        assert retention[TickStatus.SKIPPED] == 1 and retention[TickStatus.FAILURE] == 30
