"""The same persona run on a real PostgreSQL server (dlt → PostgreSQL, `dbt build --target postgres`):
the pattern and cohort SQL must give exactly the same answers as on DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dbt_harness import dbt_env, run_dbt
from test_personas import END, _load_demo

from ingestion.demo_api.personas import PERSONAS

DATABASE = "personas"

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_personas(pg_server, tmp_path_factory: pytest.TempPathFactory):
    """A database of its own on the session's server, loaded with the demo and built by dbt."""
    import psycopg2
    from pydantic import SecretStr

    from ingestion.settings import WarehouseSettings

    pg_env = {**pg_server.env(), "PGDATABASE": DATABASE}
    admin = psycopg2.connect(
        host=pg_env["PGHOST"],
        port=int(pg_env["PGPORT"]),
        user=pg_env["PGUSER"],
        password=pg_env["PGPASSWORD"],
        dbname=pg_server.database,
    )
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"drop database if exists {DATABASE}")
        cur.execute(f"create database {DATABASE}")
    admin.close()

    work = tmp_path_factory.mktemp("personas_pg")
    ws = WarehouseSettings(
        kind="postgres",
        duckdb_path=work / "unused.duckdb",
        pg_host=pg_env["PGHOST"],
        pg_port=int(pg_env["PGPORT"]),
        pg_user=pg_env["PGUSER"],
        pg_password=SecretStr(pg_env["PGPASSWORD"]),
        pg_database=DATABASE,
        pipelines_dir=work / ".dlt_pipelines",
    )
    _load_demo(ws)
    env = dbt_env(work, {"WAREHOUSE": "postgres", "COHORT_REFERENCE_TIME": END.isoformat(), **pg_env})
    env.pop("DUCKDB_PATH", None)
    build = run_dbt(["build"], env)
    connection = psycopg2.connect(
        host=pg_env["PGHOST"],
        port=int(pg_env["PGPORT"]),
        user=pg_env["PGUSER"],
        password=pg_env["PGPASSWORD"],
        dbname=DATABASE,
    )
    yield build, connection
    connection.close()


def _rows(connection, sql: str, params: tuple = ()) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_build_on_postgres_has_no_failures(pg_personas) -> None:
    build, _ = pg_personas
    assert not build.failures()
    kinds = {r["unique_id"].split(".")[0] for r in build.results}
    assert {"model", "test", "unit_test"} <= kinds


@pytest.mark.parametrize("key", sorted(PERSONAS))
def test_persona_patterns_and_cohorts_on_postgres(pg_personas, key: str) -> None:
    _, connection = pg_personas
    persona = PERSONAS[key]
    patterns = _rows(
        connection,
        "select pattern_code from analytics.fct_user_patterns where person_id = %s",
        (persona.person_id,),
    )
    cohorts = _rows(
        connection,
        "select cohort_name from analytics.fct_cohort_membership where person_id = %s and status = 'member'",
        (persona.person_id,),
    )
    assert {p for (p,) in patterns} == persona.expected_patterns
    assert {c for (c,) in cohorts} == persona.expected_cohorts


def test_status_rows_and_reference_time_on_postgres(pg_personas) -> None:
    _, connection = pg_personas
    statuses = dict(
        _rows(
            connection,
            "select cohort_name, status from analytics.fct_cohort_membership where status <> 'member'",
        )
    )
    assert statuses == {"Beta testers (static)": "static_not_evaluated", "Purchasers (action)": "unsupported"}
    reference = _rows(connection, "select distinct reference_time from analytics.fct_cohort_membership")
    assert [r.astimezone(UTC) for (r,) in reference] == [END.astimezone(UTC)]
    assert isinstance(reference[0][0], datetime)
