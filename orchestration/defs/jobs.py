"""Jobs and schedules: the unpartitioned incremental path and the daily full rebuild."""

from __future__ import annotations

from typing import Any

import dagster as dg

from orchestration.config import OrchestrationSettings
from orchestration.defs.dbt import DBT_OP_NAME

INCREMENTAL_JOB = "posthog_incremental"
DAILY_JOB = "posthog_daily_full"
# Runs of these jobs write the warehouse; dagster.yaml limits this tag to one run at a time.
WRITER_TAGS = {"posthog_context/writer": "warehouse"}


def build_jobs(has_dbt: bool) -> list[Any]:
    incremental = dg.define_asset_job(
        INCREMENTAL_JOB,
        selection=dg.AssetSelection.all(),
        description="Incremental load (keyset + look-back) → rules → dbt build → export.",
        tags=WRITER_TAGS,
    )
    daily_config = {"ops": {DBT_OP_NAME: {"config": {"full_refresh": True}}}} if has_dbt else None
    daily = dg.define_asset_job(
        DAILY_JOB,
        selection=dg.AssetSelection.all(),
        description="Daily: load, full-refresh dbt build (cohorts against now), all checks, export.",
        tags={**WRITER_TAGS, "posthog_context/kind": "daily_full"},
        config=daily_config,
    )
    return [incremental, daily]


def build_schedules(settings: OrchestrationSettings, jobs: list[Any]) -> list[dg.ScheduleDefinition]:
    incremental, daily = jobs
    return [
        dg.ScheduleDefinition(
            name="posthog_incremental_every_15_minutes",
            job=incremental,
            cron_schedule=settings.incremental_cron,
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"Incremental pipeline on cron '{settings.incremental_cron}' (INCREMENTAL_CRON).",
        ),
        dg.ScheduleDefinition(
            name="posthog_daily_full_rebuild",
            job=daily,
            cron_schedule=settings.daily_cron,
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"Daily full rebuild and cohorts on cron {settings.daily_cron!r} (DAILY_CRON).",
        ),
    ]


def defs(settings: OrchestrationSettings, has_dbt: bool) -> dg.Definitions:
    jobs = build_jobs(has_dbt)
    return dg.Definitions(jobs=jobs, schedules=build_schedules(settings, jobs))
