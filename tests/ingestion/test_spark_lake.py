"""WAREHOUSE=spark on the ingestion side: the demo API over HTTP → dlt → a Parquet lake, read back by DuckDB.

No JVM is needed: dlt writes the lake with its filesystem destination and `read_table` reads it with an
in-memory DuckDB. dbt on Spark is tested elsewhere (tests/spark).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingestion_helpers import store_uuids

from ingestion.batch_files import load_json_export
from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore
from ingestion.pipeline import LoadSummary, current_cursor, run_batch_files_load, run_posthog_load
from ingestion.settings import PostHogSettings, SettingsError, WarehouseSettings
from ingestion.warehouse import lake_relations, read_table
from orchestration.defs import steps
from rules.load import load_rules_to_warehouse
from rules.loader import load_rules
from tests.conftest import DRONE_SHOP_EXPORT

REPO_ROOT = Path(__file__).resolve().parents[2]
DRONE_SHOP = DRONE_SHOP_EXPORT
RAW_TABLES = (
    "events",
    "events_quarantine",
    "persons",
    "person_distinct_ids",
    "cohorts",
    "cohort_filter_nodes",
)
LOOKBACK_HOURS = 24


def spark_ws(root: Path, **env: str) -> WarehouseSettings:
    return WarehouseSettings.from_env({"WAREHOUSE": "spark", "SPARK_DATA_DIR": str(root / "spark"), **env})


@dataclass
class LakeRun:
    ws: WarehouseSettings
    store: DemoStore
    first: LoadSummary
    second: LoadSummary
    cursor_after_first: dict
    rules: dict[str, int]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeRun]:
    """Two incremental loads of the same demo data into a fresh lake, then the rules."""
    root = tmp_path_factory.mktemp("spark_lake")
    ws = spark_ws(root)
    store = DemoStore.generate(seed=11, users=20, days=2)
    settings = PostHogSettings(max_retries=4, lookback_hours=LOOKBACK_HOURS)
    with DemoPostHog(store) as demo:
        first = run_posthog_load(settings, ws, demo=demo)
        cursor = current_cursor(ws)
        second = run_posthog_load(settings, ws, demo=demo)
    rules = load_rules_to_warehouse(load_rules(REPO_ROOT / "rules"), ws)
    yield LakeRun(ws, store, first, second, cursor, rules)


def _files(ws: WarehouseSettings, dataset: str, table: str) -> list[Path]:
    return sorted((Path(ws.lake_url) / dataset / table).glob("*.parquet"))


def _rows(path: Path) -> int:
    return pq.read_metadata(path).num_rows


# -- settings ----------------------------------------------------------------------------------------
def test_spark_settings_defaults_and_paths(tmp_path: Path) -> None:
    ws = spark_ws(tmp_path)
    assert ws.kind == "spark" and ws.target == "spark"
    assert ws.spark_dir == (tmp_path / "spark").resolve()
    assert ws.lake_url == str(ws.spark_dir / "lake")
    assert ws.spark_warehouse_dir == ws.spark_dir / "warehouse"
    assert ws.dlt_pipelines_dir == ws.spark_dir / ".dlt_pipelines"
    assert ws.spark_master == "local[2]" and ws.spark_driver_memory == "1g"
    env = ws.spark_env()
    assert env["SPARK_DATA_DIR"] == str(ws.spark_dir) and env["SPARK_LAKE_URL"] == ws.lake_url
    thrift = spark_ws(tmp_path, DBT_TARGET="spark_thrift", SPARK_THRIFT_PORT="10001")
    assert thrift.target == "spark_thrift" and "thrift 127.0.0.1:10001" in thrift.describe()
    bucket = spark_ws(tmp_path, SPARK_LAKE_URL="s3://key:secret@bucket/lake/")
    assert bucket.lake_url == "s3://key:secret@bucket/lake" and not bucket.lake_is_local
    assert "secret" not in bucket.describe() and "bucket/lake" in bucket.describe()
    relative = spark_ws(tmp_path, SPARK_LAKE_URL="file://" + str(tmp_path / "elsewhere"))
    assert relative.lake_url == str((tmp_path / "elsewhere").resolve())


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WAREHOUSE": "sparkk"}, "WAREHOUSE='sparkk' must be one of duckdb, postgres, spark"),
        ({"WAREHOUSE": "spark", "SPARK_MASTER": "local[two]"}, "SPARK_MASTER='local[two]'"),
        ({"WAREHOUSE": "spark", "SPARK_DRIVER_MEMORY": "lots"}, "SPARK_DRIVER_MEMORY='lots'"),
        ({"WAREHOUSE": "spark", "DBT_TARGET": "bigquery"}, "DBT_TARGET='bigquery' must be one of"),
        ({"WAREHOUSE": "duckdb", "DBT_TARGET": "spark"}, "does not match WAREHOUSE='duckdb'"),
        ({"WAREHOUSE": "spark", "SPARK_LAKE_URL": "s3://"}, "SPARK_LAKE_URL='s3://' names no bucket"),
        ({"WAREHOUSE": "spark", "SPARK_THRIFT_PORT": "x"}, "SPARK_THRIFT_PORT='x' is not an integer"),
    ],
)
def test_spark_settings_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        WarehouseSettings.from_env(env)


# -- the lake ----------------------------------------------------------------------------------------
def test_first_load_writes_one_folder_per_table(lake: LakeRun) -> None:
    ws, first = lake.ws, lake.first
    assert first.events_loaded == lake.store.event_count() and first.events_quarantined == 0
    for table in RAW_TABLES:
        files = _files(ws, "posthog_raw", table)
        assert files, f"no Parquet files for posthog_raw.{table}"
        # dlt's layout {table_name}/{load_id}.{file_id}.{ext}
        assert all(f.name.split(".")[0].isdigit() and f.suffix == ".parquet" for f in files)
    first_id = first.load_ids[0]
    rows = {
        t: sum(_rows(f) for f in _files(ws, "posthog_raw", t) if f.name.startswith(first_id + "."))
        for t in RAW_TABLES
    }
    assert rows["events"] == first.rows_by_table["events"] > 0
    # Full snapshots replace on the lake: what is left is the second run's complete snapshot.
    second_id = lake.second.load_ids[0]
    for table in ("persons", "person_distinct_ids", "cohorts"):
        files = _files(ws, "posthog_raw", table)
        assert files and all(f.name.startswith(second_id + ".") for f in files)
        assert (
            sum(_rows(f) for f in files) == lake.second.rows_by_table[table] == first.rows_by_table[table] > 0
        )


def test_every_row_carries_its_load_id_and_utc_micros(lake: LakeRun) -> None:
    ws = lake.ws
    load_ids = set(lake.first.load_ids + lake.second.load_ids)
    for table in ("events", "events_quarantine", "persons", "person_distinct_ids", "cohorts"):
        for path in _files(ws, "posthog_raw", table):
            data = pq.read_table(path)
            assert "_dlt_load_id" in data.column_names, f"{path} has no _dlt_load_id"
            values = set(data.column("_dlt_load_id").to_pylist())
            file_load_id = path.name.rsplit(".", 2)[0]
            assert file_load_id in load_ids
            assert values <= {file_load_id}
    schema = pq.ParquetFile(_files(ws, "posthog_raw", "events")[0]).schema
    for name in ("timestamp", "created_at", "_loaded_at"):
        logical = str(schema.column(schema.names.index(name)).logical_type)
        assert "isAdjustedToUTC=true" in logical and "microseconds" in logical, (name, logical)


def test_second_run_appends_only_the_lookback(lake: LakeRun) -> None:
    ws, first, second = lake.ws, lake.first, lake.second
    (cursor,) = lake.cursor_after_first.values()
    lower = cursor - timedelta(hours=LOOKBACK_HOURS)
    first_id, second_id = first.load_ids[0], second.load_ids[0]
    assert second_id > first_id  # later loads sort higher, as staging expects
    expected = read_table(
        ws,
        f"select count(*) as n from posthog_raw.events where _dlt_load_id = '{first_id}'"
        f" and timestamp >= timestamptz '{lower.isoformat()}'",
    )["n"][0].as_py()
    assert 0 < expected < first.events_loaded
    assert second.events_loaded == expected
    stats = read_table(
        ws,
        "select count(*) as n, count(distinct uuid) as u,"
        f" count(*) filter (where _dlt_load_id = '{second_id}') as second_rows,"
        f" count(distinct uuid) filter (where _dlt_load_id = '{second_id}') as second_uuids"
        " from posthog_raw.events",
    ).to_pylist()[0]
    assert stats["n"] == first.events_loaded + expected  # appended, not merged
    assert stats["u"] == first.events_loaded == len(store_uuids(lake.store))  # nothing new, only copies
    assert stats["second_rows"] == stats["second_uuids"] == expected  # unique within a load
    # Events append; full snapshots (persons, distinct ids, cohorts) keep only the newest files.
    assert len(_files(ws, "posthog_raw", "persons")) == 1
    assert len(_files(ws, "posthog_raw", "cohort_filter_nodes")) == 1
    nodes = read_table(ws, "select distinct _dlt_load_id as l from posthog_raw.cohort_filter_nodes")
    assert nodes["l"].to_pylist() == [second_id]


def test_duplicate_check_accepts_lookback_copies(lake: LakeRun) -> None:
    result = steps.lake_duplicates_check(lake.ws)
    assert result.passed, result.metadata
    assert result.metadata["superseded_copies"].value == lake.second.events_loaded
    assert result.metadata["distinct_events"].value == lake.first.events_loaded


def test_rules_tables_in_the_lake(lake: LakeRun) -> None:
    for table, count in lake.rules.items():
        files = _files(lake.ws, "posthog_rules", table)
        assert len(files) == 1, table
        assert _rows(files[0]) == count
        n = read_table(lake.ws, f"select count(*) as n from posthog_rules.{table}")["n"][0].as_py()
        assert n == count
    assert lake.rules["privacy_redactions"] > 0


def test_read_table_sees_lake_and_warehouse_folders(lake: LakeRun) -> None:
    relations = lake_relations(lake.ws)
    assert {("posthog_raw", t) for t in RAW_TABLES} <= set(relations)
    assert not any(name.startswith("_dlt") for _, name in relations)
    # A dbt-built table as Spark writes it: partition folders, _SUCCESS, an unfinished _temporary part.
    folder = lake.ws.spark_warehouse_dir / "analytics.db" / "fct_probe"
    (folder / "event_date=2026-11-20").mkdir(parents=True)
    (folder / "_temporary" / "0").mkdir(parents=True)
    pq.write_table(pa.table({"n": [1, 2]}), folder / "event_date=2026-11-20" / "part-00000.parquet")
    pq.write_table(pa.table({"n": [99]}), folder / "_temporary" / "0" / "part-00000.parquet")
    (folder / "_SUCCESS").write_text("")
    got = read_table(
        lake.ws, "select n, cast(event_date as varchar) as d from analytics.fct_probe order by n"
    )
    assert got.to_pylist() == [{"n": 1, "d": "2026-11-20"}, {"n": 2, "d": "2026-11-20"}]
    newest = read_table(lake.ws, "select max(timestamp) as t from posthog_raw.events")["t"][0].as_py()
    assert newest.utcoffset() == timedelta(0)


# -- files into the lake -----------------------------------------------------------------------------
def test_batch_export_files_append_to_the_lake(tmp_path: Path) -> None:
    ws = spark_ws(tmp_path)
    store = DemoStore.generate(seed=4, users=10, days=2)
    folder = tmp_path / "bucket"
    files = store.write_batch_export(folder, "parquet", rows_per_file=200)
    summary = run_batch_files_load(str(folder), "parquet", 1, ws)
    assert summary.files == len(files) and summary.events_loaded == store.event_count()
    got = read_table(
        ws,
        "select count(*) as n, count(distinct uuid) as u, count(_dlt_load_id) as l, min(source) as s"
        " from posthog_raw.events",
    ).to_pylist()[0]
    assert got == {
        "n": store.event_count(),
        "u": store.event_count(),
        "l": store.event_count(),
        "s": "batch_export",
    }


def test_json_export_loads_into_the_lake(tmp_path: Path) -> None:
    ws = spark_ws(tmp_path)
    first = load_json_export(DRONE_SHOP, 1, ws)
    assert first.events_loaded == 372
    got = read_table(
        ws, "select count(*) as n, count(distinct _dlt_load_id) as loads from posthog_raw.events"
    ).to_pylist()[0]
    assert got == {"n": 372, "loads": 1}


# -- orchestration on spark (no JVM: checks read the lake through DuckDB) -----------------------------
def test_raw_checks_on_spark(lake: LakeRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from orchestration.config import OrchestrationSettings
    from orchestration.defs.ingestion import raw_checks
    from orchestration.defs.resources import WarehouseResource

    monkeypatch.setenv("FRESHNESS_MAX_HOURS", "48")
    duplicates, freshness = raw_checks(OrchestrationSettings.from_env())
    resource = WarehouseResource(kind="spark", spark_data_dir=str(lake.ws.spark_dir))
    assert resource.settings().lake_url == lake.ws.lake_url
    assert duplicates(warehouse=resource).passed
    assert freshness(warehouse=resource).passed

    # The same uuid twice within one load is ambiguous for staging: the check fails.
    copy = tmp_path / "spark"
    shutil.copytree(lake.ws.spark_dir / "lake", copy / "lake")
    events = sorted((copy / "lake" / "posthog_raw" / "events").glob("*.parquet"))[0]
    shutil.copy(events, events.with_name(events.name.replace(".parquet", "x.parquet")))
    bad = duplicates(warehouse=WarehouseResource(kind="spark", spark_data_dir=str(copy)))
    assert not bad.passed and bad.metadata["duplicate_uuids"].value == lake.first.events_loaded


def test_dbt_gets_the_spark_settings_and_one_session_per_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from ingestion.warehouse import WarehouseLockedError
    from orchestration.defs.dbt import dbt_session, pin_warehouse_env
    from orchestration.defs.resources import WarehouseResource

    # pin_warehouse_env writes these into os.environ (for the dbt subprocess): restore them afterwards.
    pinned = (
        "WAREHOUSE",
        "DBT_TARGET",
        "DUCKDB_PATH",
        "SPARK_LOG4J_CONFIG",
        *WarehouseSettings().spark_env(),
    )
    for name in pinned:
        monkeypatch.setenv(name, "")  # records the old state, so teardown also removes what the code sets
        monkeypatch.delenv(name)
    monkeypatch.setenv("WAREHOUSE_LOCK_WAIT_SECONDS", "0.2")
    monkeypatch.chdir(tmp_path)
    ws = pin_warehouse_env(WarehouseResource(kind="spark", spark_data_dir="relative/spark"))
    assert os.environ["WAREHOUSE"] == "spark" and "DBT_TARGET" not in os.environ
    assert os.environ["SPARK_DATA_DIR"] == str(tmp_path / "relative" / "spark")  # absolute for dbt's cwd
    assert os.environ["SPARK_LAKE_URL"] == str(tmp_path / "relative" / "spark" / "lake")
    assert (ws.spark_dir / "tmp").is_dir()
    with dbt_session(ws):
        with pytest.raises(WarehouseLockedError, match="another dbt build on Spark"):
            with dbt_session(ws):
                pass
    with dbt_session(ws):  # released after the first one ended
        pass
