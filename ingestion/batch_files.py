"""PostHog batch-export files and SQL JSON exports → `posthog_raw.events`, through the same normalization.

Batch exports (Parquet or JSONL, PostHog's column set) are listed with dlt's filesystem source from a
local folder or a bucket URL (`BATCH_EXPORT_URL`), incrementally on the file modification time, and read
as Arrow record batches (Parquet with pyarrow, JSONL with DuckDB's JSON reader), never as Python dicts.
"""

from __future__ import annotations

import gzip
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.posthog.hogql import EVENT_COLUMN_NAMES
from ingestion.posthog.normalize import (
    NormalizedBatch,
    normalize_events,
)
from ingestion.posthog.source import RunStats, event_tables
from ingestion.settings import SettingsError, WarehouseSettings

BATCH_ROWS = 250_000
log = logging.getLogger(__name__)
FORMATS = ("parquet", "jsonl")
_JSONL_COLUMNS = {
    "uuid": "VARCHAR",
    "event": "VARCHAR",
    "distinct_id": "VARCHAR",
    "person_id": "VARCHAR",
    "properties": "JSON",
    "person_properties": "JSON",
    "elements_chain": "VARCHAR",
    "timestamp": "VARCHAR",
    "created_at": "VARCHAR",
    "team_id": "VARCHAR",
}


def _max_properties_bytes() -> int:
    raw = os.environ.get("MAX_PROPERTIES_BYTES", "").strip()
    try:
        return int(raw) if raw else 1_000_000
    except ValueError:
        raise SettingsError(f"MAX_PROPERTIES_BYTES={raw!r} is not an integer") from None


def _local_path(file_url: str) -> Path | None:
    if file_url.startswith("file://"):
        return Path(file_url[len("file://") :])
    if "://" not in file_url:
        return Path(file_url)
    return None


def _parquet_batches(file_item: Any) -> Iterator[pa.Table]:
    with file_item.open(mode="rb") as handle:
        parquet = pq.ParquetFile(handle)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            yield pa.Table.from_batches([batch])


def _jsonl_batches(file_item: Any, stats: RunStats | None = None) -> Iterator[pa.Table]:
    """JSONL through DuckDB: properties kept as JSON text (objects or JSON-encoded strings both work)."""
    local = _local_path(file_item["file_url"])
    tmps: list[Path] = []
    if local is None or not local.exists():
        fd, tmp = tempfile.mkstemp(suffix=".jsonl")
        with os.fdopen(fd, "wb") as out:
            out.write(file_item.read_bytes())
        local = Path(tmp)
        tmps.append(local)
    try:
        repaired, bad_lines = _utf8_repaired_copy(local)
        if repaired is not None:
            tmps.append(repaired)
            log.warning("%s: %d lines with invalid UTF-8 (bad bytes replaced by U+FFFD)", local, bad_lines)
            if stats is not None:
                stats.repaired["file:invalid_utf8_lines"] += bad_lines
            local = repaired
        yield from read_jsonl(local)
    finally:
        for tmp_path in tmps:
            tmp_path.unlink(missing_ok=True)


def _utf8_repaired_copy(path: Path) -> tuple[Path | None, int]:
    """(None, 0) for valid UTF-8; else a temp copy with bad bytes replaced and the count of such lines.

    DuckDB's JSON reader refuses a whole file for one bad byte; the policy elsewhere is to repair and keep.
    """
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        if all(_is_utf8(line) for line in handle):
            return None, 0
    bad = 0
    fd, tmp = tempfile.mkstemp(suffix=".jsonl")
    with opener(path, "rb") as handle, os.fdopen(fd, "wb") as out:
        for line in handle:
            if not _is_utf8(line):
                bad += 1
                line = line.decode("utf-8", errors="replace").encode()
            out.write(line)
    return Path(tmp), bad


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_jsonl(path: Path) -> Iterator[pa.Table]:
    """Read a JSONL file of events into Arrow batches with JSON columns as text."""
    con = duckdb.connect()
    try:
        cols = ", ".join(f"'{k}': '{v}'" for k, v in _JSONL_COLUMNS.items())

        def as_text(name: str) -> str:
            return (
                f"CASE WHEN json_type({name}) = 'VARCHAR' THEN {name} ->> '$'"
                f" ELSE CAST({name} AS VARCHAR) END AS {name}"
            )

        sql = f"""
            SELECT uuid, event, distinct_id, person_id, {as_text("properties")},
                   {as_text("person_properties")}, elements_chain, "timestamp", created_at, team_id
            FROM read_json({_sql_str(str(path))}, format = 'newline_delimited', columns = {{{cols}}})
        """
        reader = con.sql(sql).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            table = pa.Table.from_batches([batch])
            if table.column("team_id").null_count == table.num_rows:
                table = table.drop_columns(["team_id"])
            yield table
    finally:
        con.close()


@dlt.source(name="posthog_files", max_table_nesting=0, root_key=False)
def batch_export_source(url: str, fmt: str, project_id: int, stats: RunStats | None = None) -> Any:
    """Batch-export files under `url` (folder or bucket), new or changed since the last run."""
    from dlt.sources.filesystem import filesystem

    if fmt not in FORMATS:
        raise SettingsError(f"BATCH_EXPORT_FORMAT={fmt!r} must be one of {FORMATS}")
    stats = stats if stats is not None else RunStats()
    pattern = "**/*.parquet" if fmt == "parquet" else "**/*.jsonl*"
    max_bytes = _max_properties_bytes()
    files = filesystem(bucket_url=url, file_glob=pattern)
    files.apply_hints(incremental=dlt.sources.incremental("modification_date"))
    files.selected = False

    @dlt.transformer(data_from=files, name="batch_pages", selected=False)
    def batch_pages(items: list[Any]) -> Iterator[NormalizedBatch]:
        now = datetime.now(UTC)
        for item in items:
            stats.pages["files"] += 1
            reader = _parquet_batches(item) if fmt == "parquet" else _jsonl_batches(item, stats)
            for raw in reader:
                batch = normalize_events(
                    raw,
                    source="batch_export",
                    project_id=project_id,
                    allowed_projects={project_id},
                    max_properties_bytes=max_bytes,
                    now=now,
                )
                stats.add(batch)
                yield batch

    return event_tables(batch_pages)


def json_export_table(path: Path) -> tuple[pa.Table, list[str]]:
    """A PostHog SQL export (JSON array of event objects) as an Arrow table of text columns."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise SettingsError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]
    if not isinstance(data, list):
        raise SettingsError(f"{path}: expected a JSON array of events")
    names = EVENT_COLUMN_NAMES
    columns: dict[str, list[Any]] = {name: [] for name in names}
    payloads: list[str] = []
    for row in data:
        row = row if isinstance(row, dict) else {"_value": row}
        payloads.append(orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str).decode())
        for name in names:
            value = row.get(name)
            if name == "uuid" and value is None:
                value = row.get("id")
            if isinstance(value, dict | list):
                value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
            elif value is not None and not isinstance(value, str):
                value = str(value) if name != "properties" else orjson.dumps(value).decode()
            columns[name].append(value)
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}), payloads


@dlt.source(name="posthog_files", max_table_nesting=0, root_key=False)
def json_export_source(path: Path, project_id: int, stats: RunStats) -> Any:
    @dlt.resource(name="json_export_pages", selected=False)
    def pages() -> Iterator[NormalizedBatch]:
        table, payloads = json_export_table(path)
        stats.pages["files"] += 1
        batch = normalize_events(
            table,
            source="json_export",
            project_id=project_id,
            allowed_projects={project_id},
            max_properties_bytes=_max_properties_bytes(),
            raw_payloads=payloads,
        )
        stats.add(batch)
        yield batch

    return event_tables(pages)


def load_json_export(path: str | Path, project_id: int, ws: WarehouseSettings) -> Any:
    """Load a PostHog SQL export (like the drone-shop JSON) into the events table (source='json_export')."""
    from ingestion.pipeline import (
        FILES_PIPELINE_NAME,
        IngestionError,
        _finish_pending,
        _summarize,
        make_pipeline,
        run_pipeline,
        wait_for_warehouse,
    )

    started = time.monotonic()
    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"JSON export {path} does not exist")
    stats = RunStats()
    wait_for_warehouse(ws)
    pipeline = make_pipeline(ws, FILES_PIPELINE_NAME)
    try:
        _finish_pending(pipeline, ws)
        run_pipeline(pipeline, json_export_source(path, project_id, stats), ws)
    except SettingsError:
        raise
    except Exception as exc:
        raise IngestionError(f"loading JSON export {path} into {ws.describe()} failed: {exc}") from None
    summary = _summarize(pipeline, stats, started)
    summary.projects = [project_id]
    summary.source = "json_export"
    summary.files = 1
    return summary
