"""Write the rule tables into the warehouse dataset ``posthog_rules`` with dlt, replacing the old rows.

The rules reach SQL only as rows in these tables (loaded from Parquet files), never as text pasted into
a statement, so a rule value cannot change what a query does.
"""

from __future__ import annotations

from typing import Any

import dlt
import pyarrow as pa

from ingestion.settings import WarehouseSettings
from ingestion.warehouse import dlt_destination
from rules.models import RuleSet
from rules.tables import SCHEMAS, rule_tables

PIPELINE_NAME = "posthog_rules"
DATASET_NAME = "posthog_rules"

_ARROW_TO_DLT: dict[pa.DataType, dict[str, Any]] = {
    pa.string(): {"data_type": "text"},
    pa.int32(): {"data_type": "bigint", "precision": 32},
    pa.int64(): {"data_type": "bigint"},
    pa.bool_(): {"data_type": "bool"},
}


def _column_hints(schema: pa.Schema) -> dict[str, dict[str, Any]]:
    """dlt column hints taken from the Arrow schema, so every table has the same typed columns."""
    return {field.name: {**_ARROW_TO_DLT[field.type], "nullable": True} for field in schema}


def _resources(tables: dict[str, pa.Table]) -> list[Any]:
    """One replace-resource per table.

    Rows go through dlt's row normalizer (they are a few hundred at most), with the columns fixed by hints:
    that way an empty table is created with the same columns as a filled one and a rules folder that
    empties a table (e.g. no cohorts) later or earlier never changes the table's shape.
    """
    resources = []
    for name, table in tables.items():
        rows = table.to_pylist()
        resources.append(
            dlt.resource(
                rows or [dlt.mark.materialize_table_schema()],
                name=name,
                table_name=name,
                write_disposition="replace",
                columns=_column_hints(SCHEMAS[name]),
            )
        )
    return resources


def load_rules_to_warehouse(ruleset: RuleSet, ws: WarehouseSettings) -> dict[str, int]:
    """Replace every ``posthog_rules`` table with the given rules; returns rows written per table."""
    tables = rule_tables(ruleset)
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt_destination(ws),
        dataset_name=DATASET_NAME,
        pipelines_dir=str(ws.dlt_pipelines_dir),
    )
    # DuckDB loads Parquet files natively and the Spark lake is Parquet; PostgreSQL gets dlt's default
    # format (no Parquet loader there). Rules are always replaced, so the lake needs no merge either.
    file_format = "parquet" if ws.kind in ("duckdb", "spark") else None
    pipeline.run(_resources(tables), loader_file_format=file_format)
    return {name: table.num_rows for name, table in tables.items()}
