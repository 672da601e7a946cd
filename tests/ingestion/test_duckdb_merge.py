"""The DuckDB merge keeps one row per key when one load stages the same key more than once."""

from __future__ import annotations

from pathlib import Path

import dlt
import duckdb
import pyarrow.parquet as pq
from ingestion_helpers import store_uuids, warehouse_uuids

from ingestion.demo_api.store import DemoStore
from ingestion.duckdb_merge import NarrowDedupDuckDb
from ingestion.pipeline import run_batch_files_load
from ingestion.warehouse import read_table


def test_two_files_with_the_same_events_load_each_event_once(tmp_path: Path, ws) -> None:
    store = DemoStore.generate(seed=21, users=8, days=2)
    folder = tmp_path / "export"
    files = store.write_batch_export(folder, "parquet")
    # A retried export hour: another file repeats 40 events of the biggest file, in the same load.
    biggest = max((pq.read_table(f) for f in files), key=lambda t: t.num_rows)
    assert biggest.num_rows >= 40
    repeat = folder / "retry" / "events-00001.parquet"
    repeat.parent.mkdir()
    pq.write_table(biggest.slice(0, 40), repeat)

    summary = run_batch_files_load(str(folder), "parquet", 1, ws)
    loaded = warehouse_uuids(ws)
    assert summary.files == len(files) + 1
    assert len(loaded) == len(set(loaded)) == store.event_count()
    assert set(loaded) == store_uuids(store)
    staged = read_table(ws, "SELECT count(*) AS n FROM posthog_raw_staging.events")["n"][0].as_py()
    assert staged == store.event_count() + 40  # the duplicates really were in staging


def test_dedup_sort_picks_the_highest_row_per_key(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="narrow_dedup",
        destination=NarrowDedupDuckDb(credentials=str(path), destination_name="duckdb"),
        dataset_name="raw",
        pipelines_dir=str(tmp_path / "pipelines"),
    )

    @dlt.resource(primary_key="id", write_disposition="merge", columns={"version": {"dedup_sort": "desc"}})
    def rows(batch: list[dict]):
        yield batch

    pipeline.run(rows([{"id": 1, "version": 1}, {"id": 2, "version": 5}]))
    pipeline.run(rows([{"id": 1, "version": 2}, {"id": 1, "version": 4}, {"id": 1, "version": 3},
                       {"id": 3, "version": 1}]))
    with duckdb.connect(str(path), read_only=True) as con:
        got = con.execute("SELECT id, version FROM raw.rows ORDER BY id").fetchall()
    assert got == [(1, 4), (2, 5), (3, 1)]
