"""Settings from the environment and DuckDB access under a lock held by another process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.settings import PostHogSettings, SettingsError, WarehouseSettings
from ingestion.warehouse import WarehouseLockedError, connect_duckdb, dlt_destination, read_table


def test_defaults_mean_demo_and_duckdb() -> None:
    settings = PostHogSettings.from_env({})
    assert settings.uses_demo and settings.project_ids == [1]
    assert settings.page_size == 50_000 and settings.lookback_hours == 24 and settings.max_retries == 6
    ws = WarehouseSettings.from_env({})
    assert ws.kind == "duckdb" and ws.duckdb_path == Path("./data/warehouse.duckdb")


def test_env_values_are_parsed() -> None:
    env = {
        "POSTHOG_HOST": "https://eu.posthog.com/",
        "POSTHOG_PERSONAL_API_KEY": "phx_secret_value",
        "POSTHOG_PROJECT_ID": "12, 34",
        "POSTHOG_EVENTS_API": "legacy",
        "POSTHOG_PAGE_SIZE": "20000",
        "POSTHOG_LOOKBACK_HOURS": "48",
        "POSTHOG_START_DATE": "2025-01-01",
        "POSTHOG_REQUEST_TIMEOUT": "5",
        "POSTHOG_MAX_RETRIES": "2",
    }
    settings = PostHogSettings.from_env(env)
    assert settings.host == "https://eu.posthog.com" and settings.project_ids == [12, 34]
    assert not settings.uses_demo and settings.events_api == "legacy" and settings.legacy_page_size == 1000
    assert settings.start_date is not None and settings.start_date.isoformat() == "2025-01-01T00:00:00+00:00"
    assert "phx_secret_value" not in repr(settings) and "phx_secret_value" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"POSTHOG_PROJECT_ID": "abc"}, "POSTHOG_PROJECT_ID"),
        ({"POSTHOG_PAGE_SIZE": "60000"}, "POSTHOG_PAGE_SIZE"),
        ({"POSTHOG_PAGE_SIZE": "ten"}, "POSTHOG_PAGE_SIZE"),
        ({"POSTHOG_EVENTS_API": "graphql"}, "POSTHOG_EVENTS_API"),
        ({"POSTHOG_LOOKBACK_HOURS": "-1"}, "POSTHOG_LOOKBACK_HOURS"),
        ({"POSTHOG_START_DATE": "yesterday"}, "POSTHOG_START_DATE"),
        ({"POSTHOG_HOST": "us.posthog.com"}, "POSTHOG_HOST"),
        ({"POSTHOG_PERSONAL_API_KEY": "phx_x"}, "POSTHOG_HOST"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        PostHogSettings.from_env(env)


def test_bad_warehouse_settings_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="WAREHOUSE"):
        WarehouseSettings.from_env({"WAREHOUSE": "oracle"})
    with pytest.raises(SettingsError, match="PGPORT"):
        WarehouseSettings.from_env({"WAREHOUSE": "postgres", "PGPORT": "x"})


def test_pipelines_dir_sits_next_to_the_duckdb_file(tmp_path: Path) -> None:
    ws = WarehouseSettings(duckdb_path=tmp_path / "sub" / "w.duckdb")
    assert ws.dlt_pipelines_dir == (tmp_path / "sub" / ".dlt_pipelines").resolve()
    custom = WarehouseSettings.from_env({"DLT_PIPELINES_DIR": str(tmp_path / "p")})
    assert custom.dlt_pipelines_dir == tmp_path / "p"
    pg = WarehouseSettings.from_env({"WAREHOUSE": "postgres", "PGPASSWORD": "pw", "PGDATABASE": "db"})
    assert "pw" not in pg.describe()
    assert dlt_destination(pg).destination_type.endswith("postgres")


def test_locked_duckdb_file_waits_then_fails_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); c.execute('create table t(a int)');"
            " print('ready', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseLockedError, match="locked.duckdb"):
            connect_duckdb(path, wait_seconds=0.5)
    finally:
        holder.kill()
        holder.wait()
    # Once the other process is gone, the same call succeeds.
    con = connect_duckdb(path, wait_seconds=10)
    assert con.execute("select count(*) from t").fetchone() == (0,)
    con.close()
    ws = WarehouseSettings(duckdb_path=path)
    assert read_table(ws, "select 42 as x")["x"].to_pylist() == [42]
