"""Rules assets (group `rules`): the YAML rule files validated and loaded as posthog_rules tables."""

import dagster as dg

from orchestration.defs import steps
from orchestration.defs.ingestion import WAREHOUSE_POOL
from orchestration.defs.resources import ContextPathsResource, WarehouseResource

OWNERS = ["team:analytics-engineering"]


def rules_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([steps.RULES_SCHEMA, table])


def build_rules_assets() -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            key=rules_key(table),
            description=description,
            group_name="rules",
            owners=OWNERS,
            kinds={"yaml", "dlt"},
            metadata={"dagster/table_name": f"{steps.RULES_SCHEMA}.{table}"},
        )
        for table, description in steps.RULES_TABLES.items()
    ]

    @dg.multi_asset(name="posthog_rules_load", specs=specs, pool=WAREHOUSE_POOL)
    def posthog_rules_load(
        context: dg.AssetExecutionContext, paths: ContextPathsResource, warehouse: WarehouseResource
    ):
        """Editing a rule file changes the next run's output: the tables are replaced every run."""
        rules_dir = paths.rules_path()
        counts = steps.run_rules(rules_dir, warehouse.settings())
        context.log.info("loaded rules from %s: %s", rules_dir, counts)
        for table in steps.RULES_TABLES:
            yield dg.MaterializeResult(
                asset_key=rules_key(table),
                metadata={
                    "row_count": dg.MetadataValue.int(int(counts.get(table, 0))),
                    "rules_dir": dg.MetadataValue.path(str(rules_dir)),
                },
            )

    return posthog_rules_load


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_rules_assets()])
