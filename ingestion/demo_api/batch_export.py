"""Write the store's events as PostHog batch-export files (Parquet or JSONL), one folder per UTC day.

Layout mimics a bucket prefix: `<folder>/<YYYY-MM-DD>/events-<NNNNN>.<parquet|jsonl>`. Columns are
PostHog's batch-export set; `properties` and `person_properties` are JSON strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from ingestion.demo_api.store import DemoStore

BATCH_EXPORT_COLUMNS = (
    "uuid",
    "event",
    "distinct_id",
    "person_id",
    "properties",
    "person_properties",
    "elements_chain",
    "timestamp",
    "created_at",
    "_inserted_at",
)


def write_batch_export(
    store: DemoStore,
    folder: Path,
    fmt: str = "parquet",
    rows_per_file: int = 100_000,
    project_id: int | None = None,
) -> list[Path]:
    """Write files and return their paths (sorted)."""
    if fmt not in ("parquet", "jsonl"):
        raise ValueError(f"fmt must be 'parquet' or 'jsonl', got {fmt!r}")
    if rows_per_file < 1:
        raise ValueError("rows_per_file must be >= 1")
    folder.mkdir(parents=True, exist_ok=True)
    where = "" if project_id is None else f"WHERE e.project_id = {int(project_id)}"
    cur = store.cursor()
    reader = cur.sql(f"""
        SELECT e.uuid, e.event, e.distinct_id, e.person_id, e.properties, p.properties AS person_properties,
               e.elements_chain, e."timestamp", e.created_at,
               coalesce(e.created_at, e."timestamp") + INTERVAL 2 SECOND AS _inserted_at,
               strftime(e."timestamp", '%Y-%m-%d') AS _day
        FROM events e LEFT JOIN persons p ON p.project_id = e.project_id AND p.id = e.person_id
        {where}
        ORDER BY e."timestamp", e.uuid""").to_arrow_reader(rows_per_file)
    written: list[Path] = []
    counters: dict[str, int] = {}
    buffer: list[pa.RecordBatch] = []

    def flush(day: str, batches: list[pa.RecordBatch]) -> None:
        table = pa.Table.from_batches(batches).drop_columns(["_day"])
        n = counters.get(day, 0)
        counters[day] = n + 1
        target = folder / day / f"events-{n:05d}.{fmt}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            pq.write_table(table, target, compression="zstd")
        else:
            _write_jsonl(table, target)
        written.append(target)

    current_day: str | None = None
    buffered_rows = 0
    for batch in reader:
        days = batch.column("_day")
        # split the batch at day boundaries (rows are sorted by timestamp)
        start = 0
        values = days.to_pylist()
        for i in range(1, len(values) + 1):
            if i == len(values) or values[i] != values[start]:
                piece = batch.slice(start, i - start)
                day = values[start]
                if current_day is not None and (
                    day != current_day or buffered_rows + piece.num_rows > rows_per_file
                ):
                    flush(current_day, buffer)
                    buffer, buffered_rows = [], 0
                current_day = day
                buffer.append(piece)
                buffered_rows += piece.num_rows
                start = i
    if buffer and current_day is not None:
        flush(current_day, buffer)
    return sorted(written)


def _write_jsonl(table: pa.Table, target: Path) -> None:
    columns = {name: table.column(name).to_pylist() for name in BATCH_EXPORT_COLUMNS}
    with target.open("wb") as fh:
        for i in range(table.num_rows):
            row = {}
            for name in BATCH_EXPORT_COLUMNS:
                value = columns[name][i]
                row[name] = value.isoformat() if hasattr(value, "isoformat") else value
            fh.write(orjson.dumps(row))
            fh.write(b"\n")
