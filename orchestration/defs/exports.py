"""Export asset (group `exports`): analytics.user_context published atomically to EXPORT_DIR."""

import dagster as dg

from orchestration.config import OrchestrationSettings
from orchestration.defs import steps
from orchestration.defs.ingestion import WAREHOUSE_POOL
from orchestration.defs.resources import ContextPathsResource, WarehouseResource

USER_CONTEXT_KEY = dg.AssetKey(["analytics", "user_context"])
ENRICHED_EVENTS_KEY = dg.AssetKey(["analytics", "fct_enriched_events"])
EXPORT_KEY = dg.AssetKey(["exports", "user_context_export"])
PRIVACY_KEY = dg.AssetKey([steps.RULES_SCHEMA, "privacy_redactions"])


def build_export_asset(settings: OrchestrationSettings) -> dg.AssetsDefinition:
    @dg.asset(
        key=EXPORT_KEY,
        deps=[USER_CONTEXT_KEY, PRIVACY_KEY],
        group_name="exports",
        owners=["team:data-platform"],
        kinds={"parquet", "json"},
        pool=WAREHOUSE_POOL,
        automation_condition=dg.AutomationCondition.eager(),
        description=(
            "user_context as Parquet, JSONL and one JSON per person under EXPORT_DIR/current, "
            "swapped atomically; read by the API and the MCP server, never the warehouse file."
        ),
    )
    def user_context_export(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, paths: ContextPathsResource
    ) -> dg.MaterializeResult:
        export_dir = paths.export_path()
        result = steps.export_context(warehouse.settings(), export_dir, settings.export_keep_versions)
        context.log.info(
            "published export %s (%s people) at %s",
            result["manifest"]["version"],
            result["manifest"]["row_count"],
            export_dir,
        )
        return dg.MaterializeResult(metadata=steps.export_metadata(result, export_dir))

    return user_context_export


def context_checks() -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=USER_CONTEXT_KEY,
        name="every_person_has_events",
        blocking=True,
        description="Every person in user_context has at least one enriched event.",
    )
    def every_person_has_events(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        ws = warehouse.settings()
        missing = steps.scalar(
            ws,
            f"select count(*) from {steps.USER_CONTEXT_TABLE} u where not exists ("
            "select 1 from analytics.fct_enriched_events e "
            "where e.person_id = u.person_id and e.project_id = u.project_id)",
        )
        people = steps.table_count(ws, "analytics", "user_context") or 0
        return dg.AssetCheckResult(
            passed=(missing or 0) == 0,
            metadata={
                "persons": dg.MetadataValue.int(people),
                "persons_without_events": dg.MetadataValue.int(int(missing or 0)),
            },
        )

    return [every_person_has_events]


def defs(settings: OrchestrationSettings) -> dg.Definitions:
    return dg.Definitions(assets=[build_export_asset(settings)], asset_checks=context_checks())
