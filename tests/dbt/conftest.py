"""Fixtures for the dbt tests: warehouses built once per session with a real `dbt build`."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dbt_harness import DbtResult, dbt_env, load_raw, run_dbt


@dataclass
class BuiltWarehouse:
    """A warehouse after `dbt build`: where it is, how dbt was run, what the build did."""

    work_dir: Path
    env: dict[str, str]
    build: DbtResult
    load_seconds: float

    @property
    def duckdb_path(self) -> Path:
        return Path(self.env["DUCKDB_PATH"])


def _duckdb_settings(db_path: Path):
    from ingestion.settings import WarehouseSettings

    return WarehouseSettings(kind="duckdb", duckdb_path=db_path)


@pytest.fixture(scope="session")
def drone_shop_warehouse(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    """The drone-shop export loaded by the project's loaders and built by `dbt build` on DuckDB."""
    work = tmp_path_factory.mktemp("drone_shop")
    db_path = work / "warehouse.duckdb"
    started = time.monotonic()
    load_raw(_duckdb_settings(db_path))
    load_seconds = time.monotonic() - started
    env = dbt_env(work, {"WAREHOUSE": "duckdb", "DUCKDB_PATH": str(db_path)})
    build = run_dbt(["build"], env)
    return BuiltWarehouse(work, env, build, load_seconds)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """A real PostgreSQL server for the session (skipped when PostgreSQL is not installed)."""
    from pg_server import find_bin_dir, postgres_server

    if find_bin_dir() is None:
        pytest.skip("PostgreSQL binaries not installed (.ci/setup installs them)")
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def drone_shop_postgres(pg_server, tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    """The drone shop loaded into PostgreSQL through dlt and built by `dbt build` (target postgres)."""
    from pydantic import SecretStr

    from ingestion.settings import WarehouseSettings

    work = tmp_path_factory.mktemp("drone_shop_pg")
    pg_env = pg_server.env()
    ws = WarehouseSettings(
        kind="postgres",
        duckdb_path=work / "unused.duckdb",
        pg_host=pg_env["PGHOST"],
        pg_port=int(pg_env["PGPORT"]),
        pg_user=pg_env["PGUSER"],
        pg_password=SecretStr(pg_env["PGPASSWORD"]),
        pg_database=pg_env["PGDATABASE"],
        pipelines_dir=work / ".dlt_pipelines",
    )
    started = time.monotonic()
    load_raw(ws)
    load_seconds = time.monotonic() - started
    env = dbt_env(work, {"WAREHOUSE": "postgres", **pg_env})
    env.pop("DUCKDB_PATH", None)
    build = run_dbt(["build"], env)
    return BuiltWarehouse(work, env, build, load_seconds)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the PostgreSQL fixtures carry the `postgres` marker."""
    for item in items:
        if {"pg_server", "drone_shop_postgres"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
