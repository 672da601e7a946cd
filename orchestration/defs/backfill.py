"""Historical backfill: a job partitioned by day that reloads a time range and rebuilds downstream.

The regular path stays unpartitioned (assets + incremental job). This op job reports materializations
for the same asset keys, so the asset graph shows the backfill as the latest update. A run for one
partition loads that day; a run with `start`/`end` config (the CLI's `backfill`) loads the whole range
in one run.
"""

from datetime import UTC, datetime, time, timedelta

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

from orchestration.config import OrchestrationSettings
from orchestration.defs import steps
from orchestration.defs.dbt import (
    TRANSLATOR,
    DbtBuildConfig,
    dbt_args,
    dbt_session,
    pin_warehouse_env,
)
from orchestration.defs.exports import EXPORT_KEY
from orchestration.defs.ingestion import WAREHOUSE_POOL, raw_key
from orchestration.defs.jobs import WRITER_TAGS
from orchestration.defs.resources import ContextPathsResource, PostHogResource, WarehouseResource
from orchestration.defs.rules import rules_key

BACKFILL_JOB = "posthog_backfill"


class BackfillRange(dg.Config):
    """ISO dates or date-times (UTC). Unset: the run's daily partition."""

    start: str | None = None
    end: str | None = None


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if len(value) <= 10:
        parsed = datetime.combine(parsed.date(), time.min)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def resolve_range(
    context: dg.OpExecutionContext, config: BackfillRange, partitions: dg.DailyPartitionsDefinition
) -> tuple[datetime, datetime]:
    if config.start and config.end:
        start, end = _parse(config.start), _parse(config.end)
        if len(config.end) <= 10:
            end += timedelta(days=1)  # an end date includes that whole day
    elif context.has_partition_key:
        window = partitions.time_window_for_partition_key(context.partition_key)
        start, end = window.start, window.end
    else:
        raise dg.Failure(description="backfill needs a partition or both 'start' and 'end' in its config")
    if end <= start:
        raise dg.Failure(
            description=f"backfill range is empty: start {start.isoformat()} >= end {end.isoformat()}"
        )
    return start.astimezone(UTC), end.astimezone(UTC)


def build_backfill_job(settings: OrchestrationSettings, project: DbtProject | None) -> dg.JobDefinition:
    partitions = dg.DailyPartitionsDefinition(
        start_date=settings.backfill_start_date.isoformat(), timezone="UTC", end_offset=1
    )

    @dg.op(pool=WAREHOUSE_POOL, out=dg.Out(dict))
    def backfill_load(
        context: dg.OpExecutionContext,
        config: BackfillRange,
        posthog: PostHogResource,
        warehouse: WarehouseResource,
    ):
        """Re-read PostHog events in the range (merge on uuid: nothing is duplicated)."""
        start, end = resolve_range(context, config, partitions)
        context.log.info("backfilling events from %s to %s", start.isoformat(), end.isoformat())
        summary, per_table = steps.run_posthog(
            posthog.settings(), warehouse.settings(), time_range=(start, end)
        )
        for table, metadata in per_table.items():
            yield dg.AssetMaterialization(asset_key=raw_key(table), metadata=metadata)
        yield steps.quarantine_check_evaluation(summary, settings.quarantine_max_rate)
        yield dg.Output({"start": start.isoformat(), "end": end.isoformat()})

    @dg.op(pool=WAREHOUSE_POOL, out=dg.Out(dict))
    def backfill_rules(
        context: dg.OpExecutionContext,
        window: dict,
        paths: ContextPathsResource,
        warehouse: WarehouseResource,
    ):
        counts = steps.run_rules(paths.rules_path(), warehouse.settings())
        for table in steps.RULES_TABLES:
            yield dg.AssetMaterialization(
                asset_key=rules_key(table),
                metadata={"row_count": dg.MetadataValue.int(int(counts.get(table, 0)))},
            )
        yield dg.Output(window)

    @dg.op(pool=WAREHOUSE_POOL, out=dg.Out(dict))
    def backfill_dbt(
        context: dg.OpExecutionContext, window: dict, dbt: DbtCliResource, warehouse: WarehouseResource
    ):
        """dbt build with the range as vars; tests still run and fail the job when an error test fails."""
        if project is None:
            yield dg.Output(window)
            return
        ws = pin_warehouse_env(warehouse)
        args = dbt_args(DbtBuildConfig(backfill_start=window["start"], backfill_end=window["end"]))
        with dbt_session(ws):
            yield from dbt.cli(
                args, manifest=project.manifest_path, dagster_dbt_translator=TRANSLATOR, context=context
            ).stream()
        yield dg.Output(window)

    @dg.op(pool=WAREHOUSE_POOL)
    def backfill_export(
        context: dg.OpExecutionContext,
        window: dict,
        warehouse: WarehouseResource,
        paths: ContextPathsResource,
    ):
        export_dir = paths.export_path()
        result = steps.export_context(warehouse.settings(), export_dir, settings.export_keep_versions)
        yield dg.AssetMaterialization(
            asset_key=EXPORT_KEY, metadata=steps.export_metadata(result, export_dir)
        )
        yield dg.Output(None)

    @dg.job(
        name=BACKFILL_JOB,
        partitions_def=partitions,
        tags={**WRITER_TAGS, "posthog_context/kind": "backfill"},
        description="Reload a date range from PostHog (daily partitions or start/end config) and rebuild.",
    )
    def posthog_backfill():
        backfill_export(backfill_dbt(backfill_rules(backfill_load())))

    return posthog_backfill


def defs(settings: OrchestrationSettings, project: DbtProject | None) -> dg.Definitions:
    return dg.Definitions(jobs=[build_backfill_job(settings, project)])
