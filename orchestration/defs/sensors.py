"""Sensors: a cheap 'new events?' probe against PostHog, and an alert on failed runs."""

import json
import logging
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import dagster as dg

from ingestion.settings import PostHogSettings
from orchestration.config import OrchestrationSettings
from orchestration.defs.jobs import INCREMENTAL_JOB
from orchestration.defs.resources import PostHogResource

log = logging.getLogger("posthog_context.alerts")
SECRET_ENV = ("POSTHOG_PERSONAL_API_KEY", "SERVING_API_KEY", "PGPASSWORD")
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclass(frozen=True)
class SensorCursor:
    """`since`: events newer than this are counted; `requested_at`: when the last run was asked for;
    `probed_at`: when PostHog was last asked; `run_seen`: a run was in progress at the last tick."""

    since: datetime | None = None
    requested_at: datetime | None = None
    probed_at: datetime | None = None
    run_seen: bool = False

    @classmethod
    def parse(cls, raw: str | None) -> "SensorCursor":
        if not raw:
            return cls()
        data = json.loads(raw)

        def when(key: str) -> datetime | None:
            return datetime.fromisoformat(data[key]) if data.get(key) else None

        return cls(
            since=when("since"),
            requested_at=when("requested_at"),
            probed_at=when("probed_at"),
            run_seen=bool(data.get("run_seen")),
        )

    def dump(self) -> str:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return json.dumps(
            {
                "since": iso(self.since),
                "requested_at": iso(self.requested_at),
                "probed_at": iso(self.probed_at),
                "run_seen": self.run_seen,
            }
        )


def probe_due(cursor: SensorCursor, now: datetime, settings: OrchestrationSettings) -> tuple[bool, str]:
    """Ask PostHog right after a run ended (events piled up while it ran), else every
    SENSOR_INTERVAL_SECONDS: the sensor ticks every SENSOR_TICK_SECONDS without spending requests."""
    if cursor.probed_at is None or cursor.run_seen:
        return True, ""
    next_probe = cursor.probed_at + timedelta(seconds=settings.sensor_interval_seconds)
    if now >= next_probe:
        return True, ""
    wait = (next_probe - now).total_seconds()
    interval = settings.sensor_interval_seconds
    return False, f"next PostHog probe in {wait:.0f} s (SENSOR_INTERVAL_SECONDS={interval})"


def should_run(
    cursor: SensorCursor, new_events: int, now: datetime, settings: OrchestrationSettings
) -> tuple[bool, str]:
    """Run when enough events arrived, or some arrived and the last run is older than the max wait."""
    if cursor.requested_at is None:
        return True, "first evaluation: bring the warehouse up to date"
    if new_events >= settings.sensor_min_new_events:
        return True, f"{new_events} new events (>= SENSOR_MIN_NEW_EVENTS={settings.sensor_min_new_events})"
    waited = now - cursor.requested_at
    if new_events > 0 and waited >= timedelta(minutes=settings.sensor_max_wait_minutes):
        return True, f"{new_events} new events and {waited} since the last run (>= SENSOR_MAX_WAIT_MINUTES)"
    return False, (
        f"{new_events} new events since {cursor.since.isoformat() if cursor.since else 'start'}; waiting for "
        f"{settings.sensor_min_new_events} or {settings.sensor_max_wait_minutes} minutes"
    )


def probe(ph: PostHogSettings, since: datetime | None) -> tuple[int, datetime | None]:
    """One cheap count query per project; in demo mode there is no server to ask between runs."""
    from ingestion.posthog.probe import count_new_events

    if ph.uses_demo:
        return 0, None
    count, newest = count_new_events(ph, since)
    return int(count), newest


def build_new_events_sensor(settings: OrchestrationSettings) -> dg.SensorDefinition:
    @dg.sensor(
        name="posthog_new_events_sensor",
        job_name=INCREMENTAL_JOB,
        minimum_interval_seconds=settings.sensor_tick_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Counts PostHog events newer than the cursor with one cheap query (right after a run ends, else "
            "every SENSOR_INTERVAL_SECONDS) and requests the incremental run when SENSOR_MIN_NEW_EVENTS "
            "arrived or SENSOR_MAX_WAIT_MINUTES passed."
        ),
    )
    def posthog_new_events_sensor(context: dg.SensorEvaluationContext, posthog: PostHogResource):
        cursor = SensorCursor.parse(context.cursor)
        active = context.instance.get_runs_count(
            dg.RunsFilter(job_name=INCREMENTAL_JOB, statuses=ACTIVE_STATUSES)
        )
        if active:
            if not cursor.run_seen:
                context.update_cursor(replace(cursor, run_seen=True).dump())
            return dg.SkipReason(f"{active} incremental run(s) queued or in progress")
        now = datetime.now(UTC)
        ph = posthog.settings()
        if ph.uses_demo and cursor.requested_at is not None:
            return dg.SkipReason(
                "demo mode (no POSTHOG_PERSONAL_API_KEY): nothing to probe; the schedules run it"
            )
        due, wait_reason = probe_due(cursor, now, settings)
        if not due:
            return dg.SkipReason(wait_reason)
        new_events, newest = probe(ph, cursor.since)
        probed = replace(cursor, probed_at=now, run_seen=False)
        run, reason = should_run(probed, new_events, now, settings)
        if not run:
            context.update_cursor(probed.dump())
            return dg.SkipReason(reason)
        # run_seen: probe again as soon as no run is active, even if the run ends before the next tick.
        requested = replace(probed, since=newest or cursor.since or now, requested_at=now, run_seen=True)
        context.update_cursor(requested.dump())
        context.log.info("requesting the incremental run: %s", reason)
        return dg.RunRequest(
            run_key=f"new-events-{now.isoformat()}",
            tags={
                "posthog_context/trigger": "new_events_sensor",
                "posthog_context/new_events": str(new_events),
            },
        )

    return posthog_new_events_sensor


def scrub_secrets(text: str) -> str:
    """Remove the values of secret settings from text that leaves the process."""
    for name in SECRET_ENV:
        value = os.environ.get(name, "").strip()
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


def alert_payload(job_name: str, run_id: str, message: str) -> dict[str, str]:
    return {
        "text": scrub_secrets(f"posthog-context run failed: job {job_name}, run {run_id}: {message}")[:4000],
        "job": job_name,
        "run_id": run_id,
        "failed_at": datetime.now(UTC).isoformat(),
    }


def build_failure_sensor(settings: OrchestrationSettings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="pipeline_failure_alert",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Logs every failed run and, when ALERT_WEBHOOK_URL is set, POSTs a JSON alert to it.",
    )
    def pipeline_failure_alert(context: dg.RunFailureSensorContext) -> None:
        message = context.failure_event.message or "unknown error"
        payload = alert_payload(context.dagster_run.job_name, context.dagster_run.run_id, message)
        log.error(payload["text"])
        url = settings.alert_webhook_url or os.environ.get("ALERT_WEBHOOK_URL")
        if not url:
            return
        import requests

        try:
            response = requests.post(url, json=payload, timeout=10)
            response.raise_for_status()
        except requests.RequestException as error:
            # The URL may carry a token: report only the failure class.
            log.error("alert webhook failed: %s", type(error).__name__)

    return pipeline_failure_alert


def defs(settings: OrchestrationSettings) -> dg.Definitions:
    return dg.Definitions(sensors=[build_new_events_sensor(settings), build_failure_sensor(settings)])
