"""Orchestration settings read from the environment (thresholds, cadence, alerting).

Every value has a default so `dagster dev -w workspace.yaml` works with nothing configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


class OrchestrationSettingsError(ValueError):
    """An orchestration setting is malformed; the message names the variable."""


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() or None if value is not None else None


def _number(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise OrchestrationSettingsError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise OrchestrationSettingsError(f"{name}={raw!r} must be >= {minimum}")
    return value


class OrchestrationSettings(BaseModel):
    """Knobs of the Dagster layer; see README for the table of variables."""

    model_config = ConfigDict(frozen=True)

    quarantine_max_rate: float = Field(default=0.01, ge=0, le=1)
    freshness_max_hours: float = Field(default=24.0, gt=0)
    sensor_min_new_events: int = Field(default=1000, ge=1)
    sensor_max_wait_minutes: float = Field(default=1.0, gt=0)
    sensor_interval_seconds: int = Field(default=30, ge=5)
    sensor_tick_seconds: int = Field(default=5, ge=1)
    incremental_cron: str = "*/15 * * * *"
    daily_cron: str = "0 4 * * *"
    backfill_start_date: date = date(2025, 1, 1)
    alert_webhook_url: str | None = None
    export_keep_versions: int = Field(default=3, ge=1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OrchestrationSettings:
        env = os.environ if env is None else env
        start_raw = _get(env, "BACKFILL_START_DATE") or (_get(env, "POSTHOG_START_DATE") or "")[:10] or None
        try:
            start = date.fromisoformat(start_raw) if start_raw else date(2025, 1, 1)
        except ValueError:
            raise OrchestrationSettingsError(
                f"BACKFILL_START_DATE={start_raw!r} is not an ISO date"
            ) from None
        return cls(
            quarantine_max_rate=_number(env, "QUARANTINE_MAX_RATE", 0.01),
            freshness_max_hours=_number(env, "FRESHNESS_MAX_HOURS", 24.0, minimum=0.001),
            sensor_min_new_events=int(_number(env, "SENSOR_MIN_NEW_EVENTS", 1000, minimum=1)),
            sensor_max_wait_minutes=_number(env, "SENSOR_MAX_WAIT_MINUTES", 1.0, minimum=0.001),
            sensor_interval_seconds=int(_number(env, "SENSOR_INTERVAL_SECONDS", 30, minimum=5)),
            sensor_tick_seconds=int(_number(env, "SENSOR_TICK_SECONDS", 5, minimum=1)),
            incremental_cron=_get(env, "INCREMENTAL_CRON") or "*/15 * * * *",
            daily_cron=_get(env, "DAILY_CRON") or "0 4 * * *",
            backfill_start_date=start,
            alert_webhook_url=_get(env, "ALERT_WEBHOOK_URL"),
            export_keep_versions=int(_number(env, "EXPORT_KEEP_VERSIONS", 3, minimum=1)),
        )
