"""The Dagster code location: small per-integration modules merged into one Definitions object.

Loaded by `dagster dev -w workspace.yaml` and by the `posthog-context run` CLI.
"""

from __future__ import annotations

import dagster as dg

from orchestration.config import OrchestrationSettings
from orchestration.defs import backfill, dbt, exports, ingestion, jobs, resources, rules, sensors


def build_definitions() -> dg.Definitions:
    """Assemble everything from the current environment (tests call this after setting env vars)."""
    settings = OrchestrationSettings.from_env()
    project = dbt.dbt_project()
    return dg.Definitions.merge(
        resources.defs(),
        ingestion.defs(settings),
        rules.defs(),
        dbt.defs(project),
        exports.defs(settings),
        jobs.defs(settings, has_dbt=project is not None),
        backfill.defs(settings, project),
        sensors.defs(settings),
        # Steps run one after another in the run's process: one DuckDB writer at a time.
        dg.Definitions(executor=dg.in_process_executor),
    )


defs = build_definitions()
