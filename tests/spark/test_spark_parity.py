"""DuckDB and Spark must agree: the demo data through the whole pipeline on both engines.

Spark side, in one project folder (SPARK_DATA_DIR): demo API over HTTP → dlt → Parquet lake → `dbt build`
on a local Spark session; then new and late events arrive, dlt appends them (plus the look-back re-read,
so the lake holds duplicates) and the incremental `dbt build` runs through a Spark Thrift Server started
from the pyspark installation (`method: thrift`). DuckDB side: the final data loaded once and built from
scratch. Every published model must then match row for row (run-time columns aside), which proves the
engines agree and that Spark's incremental `insert_overwrite` run equals a full build.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from dbt_harness import RULES_DIR, DbtResult, dbt_env, run_dbt
from thrift_server import spark_thrift_server

# One fixture runs two Spark builds and a DuckDB build: allow it more than the suite's per-test limit.
pytestmark = [pytest.mark.spark, pytest.mark.timeout(2400)]

END = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
RANDOM_USERS = 8

# Published models and the columns that depend on when the build ran, not on the data.
PUBLISHED: dict[str, set[str]] = {
    "fct_enriched_events": {"refreshed_at"},
    "fct_sessions": {"refreshed_at"},
    "fct_event_activity_hourly": set(),
    "fct_event_activity_daily": set(),
    "dim_persons": set(),
    "fct_user_patterns": {"detected_at", "refreshed_at"},
    "fct_cohort_membership": set(),
    "fct_cohort_matches": set(),
    "user_context": {"context_as_of"},
}


@dataclass
class EngineRuns:
    spark_ws: Any
    duckdb_ws: Any
    first_build: DbtResult
    thrift_build: DbtResult
    duckdb_build: DbtResult
    late_added: int
    new_added: int
    grown_column: dict[str, int]


def _load(ws: Any, demo: Any) -> None:
    from ingestion.pipeline import run_posthog_load
    from ingestion.settings import PostHogSettings
    from rules.load import load_rules_to_warehouse
    from rules.loader import load_rules

    run_posthog_load(PostHogSettings(max_retries=2), ws, demo=demo)
    load_rules_to_warehouse(load_rules(RULES_DIR), ws)


GROWN_COLUMN = "added_by_upgrade"


@contextlib.contextmanager
def _events_gain_a_column() -> Iterator[None]:
    """A newer pipeline version that adds a raw events column: dlt evolves the lake table's schema, so
    the lake then holds Parquet files with and without the column (the case mergeSchema must handle)."""
    from ingestion.posthog import source

    original = source.normalize_events
    grown_schema = source.EVENTS_SCHEMA.append(pa.field(GROWN_COLUMN, pa.string()))

    def normalize_with_new_column(*args: Any, **kwargs: Any) -> Any:
        batch = original(*args, **kwargs)
        values = pa.array(["v2"] * batch.events.num_rows, pa.string())
        batch.events = batch.events.append_column(GROWN_COLUMN, values)
        return batch

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(source, "normalize_events", normalize_with_new_column)
        patch.setattr(source, "EVENTS_SCHEMA", grown_schema)
        yield


def _grown_column_counts(server: Any) -> dict[str, int]:
    """Through the Thrift Server: does Spark see the new column, with nulls for the older files?"""
    from pyhive import hive

    with contextlib.closing(hive.connect(host=server.host, port=server.port)) as conn:
        cursor = conn.cursor()
        cursor.execute(
            f"select count(*), count({GROWN_COLUMN}), count(distinct uuid) from posthog_raw.events"
        )
        rows, with_value, distinct = cursor.fetchone()
    return {"rows": rows, "with_value": with_value, "distinct_uuids": distinct}


def _more_events(store: Any) -> tuple[int, int]:
    """New events for an existing and a brand-new person, plus late arrivals behind the cursor."""
    known = (
        store.cursor()
        .execute(
            "select distinct_id from person_distinct_ids where project_id = 1 order by distinct_id limit 1"
        )
        .fetchall()[0][0]
    )
    base = END - timedelta(minutes=20)
    rows = []
    for i, who in enumerate([known, known, "spark-newcomer", "spark-newcomer", "spark-newcomer"]):
        rows.append(
            {
                "event": "$pageview" if i % 2 == 0 else "$autocapture",
                "distinct_id": who,
                "timestamp": base + timedelta(minutes=3 * i),
                "properties": {
                    "$current_url": "https://shop.example.com/pricing",
                    "$pathname": "/pricing",
                    "$session_id": f"spark-session-{who}",
                },
                "elements_chain": 'button.btn:text="Upgrade to Pro"nth-child="1"nth-of-type="1"'
                if i % 2
                else "",
            }
        )
    new = store.append_events(rows)
    late = store.add_backwards_events(1, 12, seconds_back=5 * 3600)
    return new, late


def _spark_env(work: Path, ws: Any, target: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dbt_env(
        work,
        {
            "WAREHOUSE": "spark",
            "DBT_TARGET": target,
            "COHORT_REFERENCE_TIME": END.isoformat(),
            **ws.spark_env(),
            **(extra or {}),
        },
    )
    env.pop("DUCKDB_PATH", None)
    return env


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> EngineRuns:
    from ingestion.demo_api.server import DemoPostHog
    from ingestion.demo_api.store import DemoStore
    from ingestion.settings import WarehouseSettings

    work = tmp_path_factory.mktemp("spark_parity")
    spark_ws = WarehouseSettings(
        kind="spark", spark_data_dir=work / "spark", pipelines_dir=work / "dlt_spark"
    )
    duckdb_ws = WarehouseSettings(
        kind="duckdb", duckdb_path=work / "warehouse.duckdb", pipelines_dir=work / "dlt_duckdb"
    )
    store = DemoStore.generate(seed=11, users=RANDOM_USERS, days=2, end=END)
    with DemoPostHog(store) as demo, pytest.MonkeyPatch.context() as patch:
        # A few hundred rows per model: one shuffle partition instead of four saves a task per stage.
        patch.setenv("SPARK_SHUFFLE_PARTITIONS", "1")
        _load(spark_ws, demo)
        # Models only: the data tests run once, in the thrift build below, on the final data.
        first = run_dbt(["run"], _spark_env(work / "dbt_spark_1", spark_ws, "spark"))

        new, late = _more_events(store)
        with _events_gain_a_column():
            _load(spark_ws, demo)
        with spark_thrift_server(spark_ws.spark_dir) as server:
            thrift_env = _spark_env(
                work / "dbt_spark_2",
                spark_ws,
                "spark_thrift",
                {"SPARK_THRIFT_HOST": server.host, "SPARK_THRIFT_PORT": str(server.port)},
            )
            # Every model and data test. dbt unit tests cost ~40 s each on Spark (a table per fixture):
            # they run on DuckDB and PostgreSQL in the main suite and here with SPARK_UNIT_TESTS=1.
            second = run_dbt(["build", "--exclude", "test_type:unit"], thrift_env)
            grown = _grown_column_counts(server)

        _load(duckdb_ws, demo)
    duck_env = dbt_env(
        work / "dbt_duckdb",
        {
            "WAREHOUSE": "duckdb",
            "DUCKDB_PATH": str(duckdb_ws.duckdb_path),
            "COHORT_REFERENCE_TIME": END.isoformat(),
        },
    )
    duck = run_dbt(["build", "--exclude", "test_type:unit"], duck_env)
    return EngineRuns(spark_ws, duckdb_ws, first, second, duck, late, new, grown)


def _canonical(value: Any) -> Any:
    """One spelling per value across engines: UTC instants, rounded floats, parsed JSON text."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return value


def _rows(ws: Any, model: str, skip: set[str]) -> list[tuple]:
    from ingestion.warehouse import read_table

    table = read_table(ws, f"select * from analytics.{model}")
    columns = sorted(c for c in table.column_names if c not in skip)
    data = table.select(columns).to_pylist()
    return sorted(
        (tuple((c, _canonical(row[c])) for c in columns) for row in data),
        key=lambda r: json.dumps(r, default=str),
    )


def test_both_spark_builds_and_the_duckdb_build_pass(engines: EngineRuns) -> None:
    for build in (engines.first_build, engines.thrift_build, engines.duckdb_build):
        assert build.returncode == 0
        assert not build.failures()
    first_kinds = {r["unique_id"].split(".")[0] for r in engines.first_build.results}
    assert "model" in first_kinds and "test" not in first_kinds
    kinds = {r["unique_id"].split(".")[0] for r in engines.thrift_build.results}
    assert {"model", "test"} <= kinds
    models = [r for r in engines.thrift_build.results if r["unique_id"].startswith("model.")]
    assert len(models) == len([r for r in engines.first_build.results if r["unique_id"].startswith("model.")])
    assert engines.new_added == 5 and engines.late_added == 12


@pytest.mark.parametrize("model", sorted(PUBLISHED))
def test_published_model_identical_on_duckdb_and_spark(engines: EngineRuns, model: str) -> None:
    spark_rows = _rows(engines.spark_ws, model, PUBLISHED[model])
    duck_rows = _rows(engines.duckdb_ws, model, PUBLISHED[model])
    assert spark_rows, f"{model} is empty on spark"
    assert len(spark_rows) == len(duck_rows), (
        f"{model}: {len(spark_rows)} rows on spark, {len(duck_rows)} on duckdb"
    )
    missing = [r for r in duck_rows if r not in set(spark_rows)][:3]
    extra = [r for r in spark_rows if r not in set(duck_rows)][:3]
    assert not missing and not extra, f"{model} differs:\nonly duckdb: {missing}\nonly spark: {extra}"


def test_append_only_lake_still_gives_one_row_per_event(engines: EngineRuns) -> None:
    from ingestion.warehouse import read_table

    raw = read_table(
        engines.spark_ws, "select count(*) as n, count(distinct uuid) as d from posthog_raw.events"
    )
    raw_rows, raw_distinct = raw.column("n")[0].as_py(), raw.column("d")[0].as_py()
    assert raw_rows > raw_distinct, "the look-back re-read should have appended duplicates to the lake"
    published = read_table(
        engines.spark_ws,
        "select count(*) as n, count(distinct event_uuid) as d from analytics.fct_enriched_events",
    )
    assert published.column("n")[0].as_py() == published.column("d")[0].as_py() == raw_distinct


def test_a_column_added_to_the_lake_is_merged_not_a_crash(engines: EngineRuns) -> None:
    """The second load wrote events with one more column than the first load's files (schema growth).

    The thrift build on that lake passed (see above); Spark's registered table has the column, null in
    the older files and set in every row of the newer load.
    """
    from ingestion.warehouse import read_table

    grown = engines.grown_column
    second_load = read_table(
        engines.spark_ws,
        "select count(*) as n from posthog_raw.events where _dlt_load_id ="
        " (select max(_dlt_load_id) from posthog_raw.events)",
    )
    assert grown["rows"] > grown["with_value"] > 0
    assert grown["with_value"] == second_load.column("n")[0].as_py()
    lake = read_table(
        engines.spark_ws,
        f"select count(*) as rows, count({GROWN_COLUMN}) as with_value,"
        " count(distinct uuid) as distinct_uuids from posthog_raw.events",
    ).to_pylist()[0]
    assert grown == lake  # Spark's table and a plain read of the Parquet files agree


def test_new_and_late_events_reached_the_spark_context(engines: EngineRuns) -> None:
    from ingestion.warehouse import read_table

    late = read_table(
        engines.spark_ws,
        "select count(*) as n from analytics.fct_enriched_events e join (select distinct uuid from"
        " posthog_raw.events where properties like '%late_arrival%') r on e.event_uuid = r.uuid",
    )
    assert late.column("n")[0].as_py() == engines.late_added
    newcomer = read_table(
        engines.spark_ws,
        "select count(*) as n from analytics.fct_enriched_events where distinct_id = 'spark-newcomer'",
    )
    assert newcomer.column("n")[0].as_py() == 3
    context = read_table(
        engines.spark_ws,
        "select count(*) as n from analytics.user_context where person_id in (select person_id from"
        " analytics.fct_enriched_events where distinct_id = 'spark-newcomer')",
    )
    assert context.column("n")[0].as_py() == 1


def test_spark_files_stay_in_the_project_data_dir(engines: EngineRuns) -> None:
    data_dir: Path = engines.spark_ws.spark_dir
    assert (data_dir / "metastore_db").is_dir()
    assert (data_dir / "warehouse" / "analytics.db" / "user_context").is_dir()
    assert not (Path.cwd() / "metastore_db").exists()
    assert not (Path.cwd() / "spark-warehouse").exists()


@pytest.mark.skipif(
    os.environ.get("SPARK_UNIT_TESTS") != "1", reason="dbt unit tests on Spark: set SPARK_UNIT_TESTS=1"
)
def test_dbt_unit_tests_pass_on_spark(engines: EngineRuns, tmp_path: Path) -> None:
    env = _spark_env(tmp_path, engines.spark_ws, "spark")
    result = run_dbt(["test", "--select", "test_type:unit"], env)
    assert result.results and not result.failures()


def _exported(ws: object, export_dir: Path) -> tuple[dict, list[dict]]:
    from orchestration.defs.steps import export_context

    manifest = export_context(ws, export_dir, 1)["manifest"]
    lines = (export_dir / "current" / "user_context.jsonl").read_text().splitlines()
    people = [{k: v for k, v in json.loads(line).items() if k != "context_as_of"} for line in lines]
    return manifest, sorted(people, key=lambda p: p["person_id"])


def test_export_from_spark_matches_the_duckdb_export(engines: EngineRuns, tmp_path: Path) -> None:
    spark_manifest, spark_people = _exported(engines.spark_ws, tmp_path / "spark_export")
    duck_manifest, duck_people = _exported(engines.duckdb_ws, tmp_path / "duckdb_export")
    assert spark_manifest["source"]["warehouse"] == "spark"
    assert spark_manifest["columns"] == duck_manifest["columns"]
    assert spark_manifest["row_count"] == duck_manifest["row_count"] == len(spark_people) > 0
    assert spark_people == duck_people
