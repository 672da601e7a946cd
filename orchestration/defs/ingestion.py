"""dlt assets: one asset per PostHog raw table (group `ingestion`), loaded by ingestion.pipeline.

The load itself (HTTP paging, quarantine, demo API start-up) lives in ingestion/; this module maps the
tables to asset keys and reports what the load did.
"""

import os

import dagster as dg

from orchestration.config import OrchestrationSettings
from orchestration.defs import steps
from orchestration.defs.resources import PostHogResource, WarehouseResource

OWNERS = ["team:data-platform"]
WAREHOUSE_POOL = "warehouse"
EVENTS_KEY = dg.AssetKey([steps.RAW_SCHEMA, "events"])
BATCH_KEY = dg.AssetKey([steps.RAW_SCHEMA, "batch_export_files"])


def raw_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([steps.RAW_SCHEMA, table])


def raw_specs(batch_enabled: bool) -> list[dg.AssetSpec]:
    """Asset specs of the raw tables, as a dlt translator would set them: key, group, owners, kinds."""
    specs = []
    for table, description in steps.RAW_TABLES.items():
        deps = [BATCH_KEY] if batch_enabled and table == "events" else []
        specs.append(
            dg.AssetSpec(
                key=raw_key(table),
                description=description,
                group_name="ingestion",
                owners=OWNERS,
                kinds={"dlt", "posthog"},
                deps=deps,
                metadata={"dagster/table_name": f"{steps.RAW_SCHEMA}.{table}"},
                tags={"layer": "raw"},
            )
        )
    return specs


def build_posthog_assets(settings: OrchestrationSettings, batch_enabled: bool) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="posthog_raw_load",
        specs=raw_specs(batch_enabled),
        check_specs=[
            dg.AssetCheckSpec(
                "quarantine_rate",
                asset=EVENTS_KEY,
                description="Share of quarantined events in the last load stays below QUARANTINE_MAX_RATE.",
            )
        ],
        pool=WAREHOUSE_POOL,
        op_tags={"kind": "dlt"},
    )
    def posthog_raw_load(
        context: dg.AssetExecutionContext, posthog: PostHogResource, warehouse: WarehouseResource
    ):
        """Incremental load of events (keyset + look-back), persons, distinct ids and cohorts."""
        ph, ws = posthog.settings(), warehouse.settings()
        context.log.info(
            "loading PostHog %s projects %s into %s",
            "demo API" if ph.uses_demo else ph.host,
            ph.project_ids,
            ws.describe(),
        )
        # With batch-export files the events come from the files (BATCH_EXPORT_URL); paging them
        # through the API again would double the load (POSTHOG_EVENTS_FROM_API=true to do both).
        with_events = steps.events_from_api()
        if not with_events:
            context.log.info("events come from BATCH_EXPORT_URL; the API load skips them")
        summary, per_table = steps.run_posthog(ph, ws, with_events=with_events)
        for table, metadata in per_table.items():
            yield dg.MaterializeResult(asset_key=raw_key(table), metadata=metadata)
        yield steps.quarantine_check(summary, settings.quarantine_max_rate)

    return posthog_raw_load


def build_batch_asset() -> dg.AssetsDefinition:
    @dg.asset(
        key=BATCH_KEY,
        group_name="ingestion",
        owners=OWNERS,
        kinds={"dlt", "parquet"},
        pool=WAREHOUSE_POOL,
        description="PostHog batch-export files (BATCH_EXPORT_URL) appended into posthog_raw.events.",
    )
    def batch_export_files(
        context: dg.AssetExecutionContext, posthog: PostHogResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        from ingestion.pipeline import run_batch_files_load

        url = os.environ["BATCH_EXPORT_URL"]
        fmt = os.environ.get("BATCH_EXPORT_FORMAT", "parquet")
        project_id = posthog.settings().project_ids[0]
        summary = run_batch_files_load(url, fmt, project_id, warehouse.settings())
        return dg.MaterializeResult(
            metadata={
                "events_loaded": dg.MetadataValue.int(int(summary.events_loaded)),
                "events_quarantined": dg.MetadataValue.int(int(summary.events_quarantined)),
                "newest_event_at": dg.MetadataValue.text(str(summary.newest_event_at)),
                "format": dg.MetadataValue.text(fmt),
            }
        )

    return batch_export_files


def raw_checks(settings: OrchestrationSettings) -> list[dg.AssetChecksDefinition]:
    """Checks on the raw events that read the warehouse after the load."""

    @dg.asset_check(
        asset=EVENTS_KEY,
        name="no_duplicate_uuids",
        blocking=True,
        description=(
            "Each (project_id, uuid) appears once in posthog_raw.events. On spark the lake is append-only "
            "(re-read events are new copies that staging resolves by _dlt_load_id): there, each uuid "
            "appears once per load and every row carries _dlt_load_id."
        ),
    )
    def no_duplicate_uuids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        ws = warehouse.settings()
        if ws.kind == "spark":
            return steps.lake_duplicates_check(ws)
        dupes = steps.scalar(
            ws,
            f"select count(*) from (select project_id, uuid from {steps.RAW_SCHEMA}.events "
            "group by 1, 2 having count(*) > 1) d",
        )
        return dg.AssetCheckResult(
            passed=not dupes, metadata={"duplicate_uuids": dg.MetadataValue.int(int(dupes or 0))}
        )

    @dg.asset_check(
        asset=EVENTS_KEY,
        name="newest_event_fresh",
        description="The newest event is at most FRESHNESS_MAX_HOURS old (warns otherwise).",
    )
    def newest_event_fresh(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        from datetime import UTC, datetime

        ws = warehouse.settings()
        newest = steps.scalar(ws, f"select max(timestamp) from {steps.RAW_SCHEMA}.events")
        if newest is None:
            return dg.AssetCheckResult(
                passed=False, severity=dg.AssetCheckSeverity.WARN, description="no events loaded yet"
            )
        if newest.tzinfo is None:
            newest = newest.replace(tzinfo=UTC)
        age_hours = (datetime.now(UTC) - newest).total_seconds() / 3600
        return dg.AssetCheckResult(
            passed=age_hours <= settings.freshness_max_hours,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "newest_event_at": dg.MetadataValue.text(newest.isoformat()),
                "age_hours": dg.MetadataValue.float(round(age_hours, 3)),
                "max_hours": dg.MetadataValue.float(settings.freshness_max_hours),
            },
        )

    return [no_duplicate_uuids, newest_event_fresh]


def defs(settings: OrchestrationSettings) -> dg.Definitions:
    batch_enabled = bool(os.environ.get("BATCH_EXPORT_URL", "").strip())
    assets: list[dg.AssetsDefinition] = [build_posthog_assets(settings, batch_enabled)]
    if batch_enabled:
        assets.append(build_batch_asset())
    return dg.Definitions(assets=assets, asset_checks=raw_checks(settings))
