"""Dagster resources: thin handles on the settings objects the ingestion/serving code already uses.

Fields left unset fall back to the environment at run time (the same variables as everywhere else),
so the UI shows what is configured while the code keeps a single source of truth.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from ingestion.settings import PostHogSettings, WarehouseSettings
from orchestration.config import REPO_ROOT


def env_or_none(name: str) -> dg.EnvVar | None:
    """Bind an optional variable as EnvVar only when it is set, so unset means 'use the default'."""
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else None


class PostHogResource(dg.ConfigurableResource):
    """Where PostHog is. No key (the default) means the bundled demo API, started in-process."""

    host: str | None = None
    project_id: str | None = None
    personal_api_key: str | None = None

    def settings(self) -> PostHogSettings:
        env = dict(os.environ)
        for name, value in (
            ("POSTHOG_HOST", self.host),
            ("POSTHOG_PROJECT_ID", self.project_id),
            ("POSTHOG_PERSONAL_API_KEY", self.personal_api_key),
        ):
            if value:
                env[name] = value
        return PostHogSettings.from_env(env)


class WarehouseResource(dg.ConfigurableResource):
    """Which warehouse (duckdb, postgres or spark) and where; PG* and the other SPARK_* settings come from
    the environment."""

    kind: str | None = None
    duckdb_path: str | None = None
    spark_data_dir: str | None = None
    spark_lake_url: str | None = None
    dbt_target: str | None = None

    def settings(self) -> WarehouseSettings:
        env = dict(os.environ)
        for name, value in (
            ("WAREHOUSE", self.kind),
            ("DUCKDB_PATH", self.duckdb_path),
            ("SPARK_DATA_DIR", self.spark_data_dir),
            ("SPARK_LAKE_URL", self.spark_lake_url),
            ("DBT_TARGET", self.dbt_target),
        ):
            if value:
                env[name] = value
        return WarehouseSettings.from_env(env)


class ContextPathsResource(dg.ConfigurableResource):
    """Folders outside the warehouse: the rule files and the chatbot export."""

    rules_dir: str | None = None
    export_dir: str | None = None

    def rules_path(self) -> Path:
        configured = self.rules_dir or os.environ.get("RULES_DIR")
        if configured:
            return Path(configured)
        # ./rules by default; from another working directory, the rules shipped with the project.
        return Path("./rules") if Path("./rules").is_dir() else REPO_ROOT / "rules"

    def export_path(self) -> Path:
        return Path(self.export_dir or os.environ.get("EXPORT_DIR") or "./data/export")


def build_resources() -> dict[str, object]:
    return {
        "posthog": PostHogResource(
            host=env_or_none("POSTHOG_HOST"),
            project_id=env_or_none("POSTHOG_PROJECT_ID"),
            personal_api_key=env_or_none("POSTHOG_PERSONAL_API_KEY"),
        ),
        "warehouse": WarehouseResource(
            kind=env_or_none("WAREHOUSE"),
            duckdb_path=env_or_none("DUCKDB_PATH"),
            spark_data_dir=env_or_none("SPARK_DATA_DIR"),
            spark_lake_url=env_or_none("SPARK_LAKE_URL"),
            dbt_target=env_or_none("DBT_TARGET"),
        ),
        "paths": ContextPathsResource(
            rules_dir=env_or_none("RULES_DIR"), export_dir=env_or_none("EXPORT_DIR")
        ),
    }


def defs() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
