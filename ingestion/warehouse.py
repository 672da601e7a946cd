"""Warehouse access shared by ingestion, orchestration and tests: dlt destination, DuckDB, reads."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingestion.settings import WarehouseSettings

LAKE_LAYOUT = "{table_name}/{load_id}.{file_id}.{ext}"
LAKE_DATASETS = ("posthog_raw", "posthog_rules")
_LOCK_MARKERS = ("lock", "conflicting", "different configuration", "already open")


class WarehouseLockedError(RuntimeError):
    """The DuckDB file stayed locked by another process for longer than we were willing to wait."""


def dlt_destination(ws: WarehouseSettings) -> Any:
    """The dlt destination for the configured warehouse: a DuckDB file, a PostgreSQL database, or for
    spark the Parquet lake (dlt's filesystem destination, one folder per table)."""
    import dlt

    if ws.kind == "spark":
        if ws.lake_is_local:
            Path(ws.lake_url).mkdir(parents=True, exist_ok=True)
        return dlt.destinations.filesystem(bucket_url=ws.lake_url, layout=LAKE_LAYOUT)
    if ws.kind == "duckdb":
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        path = ws.duckdb_path.expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        # A bounded memory limit makes DuckDB spill the merge of big loads to disk instead of growing.
        limit = os.environ.get("DUCKDB_MEMORY_LIMIT", "").strip() or "1GB"
        credentials = DuckDbCredentials(
            str(path), global_config={"memory_limit": limit, "preserve_insertion_order": False}
        )
        return dlt.destinations.duckdb(credentials=credentials)
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials

    credentials = PostgresCredentials(ws.postgres_dsn())
    if credentials.password is None:
        # Trust/peer-authenticated servers need no password, but dlt insists the field is set.
        credentials.password = ""
    return dlt.destinations.postgres(credentials=credentials)


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _LOCK_MARKERS)


def connect_duckdb(
    path: str | Path, read_only: bool = False, wait_seconds: float = 30
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, retrying while another process holds its lock, then fail naming the file."""
    target = Path(path).expanduser().resolve()
    if read_only and not target.exists():
        raise FileNotFoundError(f"DuckDB warehouse file {target} does not exist (run the pipeline first)")
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + max(wait_seconds, 0)
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(target), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_error(exc):
                raise
            if read_only and "different configuration" in str(exc):
                # This process already holds a read-write handle: share it instead of waiting on ourselves.
                return duckdb.connect(str(target))
            if time.monotonic() >= deadline:
                raise WarehouseLockedError(
                    f"DuckDB file {target} is locked by another process (waited {wait_seconds:g}s): {exc}"
                ) from exc
            time.sleep(min(delay, max(deadline - time.monotonic(), 0.01)))
            delay = min(delay * 2, 1.0)


def read_table(ws: WarehouseSettings, sql: str, wait_seconds: float = 30) -> pa.Table:
    """Run a read-only SQL statement against the warehouse and return the result as Arrow."""
    if ws.kind == "duckdb":
        con = connect_duckdb(ws.duckdb_path, read_only=True, wait_seconds=wait_seconds)
        try:
            return con.sql(sql).to_arrow_table()
        finally:
            con.close()
    import psycopg2

    conn = psycopg2.connect(ws.postgres_dsn())
    try:
        conn.set_session(readonly=True, autocommit=True)
        with conn.cursor() as cur:
            cur.execute(sql)
            names = [col.name for col in cur.description or []]
            rows = cur.fetchall()
    finally:
        conn.close()
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    return pa.table({name: pa.array(list(values)) for name, values in zip(names, columns, strict=True)})
