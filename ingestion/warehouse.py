"""Warehouse access shared by ingestion, orchestration and tests: dlt destination, DuckDB, reads."""

from __future__ import annotations

import os
import re
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
        # 500MB keeps the loader well inside the 1.5 GB whole-pipeline budget; benchmarks/ reports the peak.
        limit = os.environ.get("DUCKDB_MEMORY_LIMIT", "").strip() or "500MB"
        credentials = DuckDbCredentials(
            str(path), global_config={"memory_limit": limit, "preserve_insertion_order": False}
        )
        from ingestion.duckdb_merge import NarrowDedupDuckDb

        return NarrowDedupDuckDb(credentials=credentials, destination_name="duckdb")
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
    """Run a read-only SQL statement against the warehouse and return the result as Arrow.

    On spark the statement runs in an in-memory DuckDB over the Parquet folders (see `lake_connection`),
    so readers never start a JVM and never wait for Spark's metastore.
    """
    if ws.kind == "spark":
        con = lake_connection(ws)
        try:
            return con.sql(sql).to_arrow_table()
        finally:
            con.close()
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


# -- reading the Spark lake -------------------------------------------------------------------------
_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _hidden(part: str) -> bool:
    """Spark and dlt bookkeeping (`_SUCCESS`, `_temporary`, `.crc`, `_dlt_loads`) is never table data."""
    return part.startswith(("_", "."))


def _lake_filesystem(ws: WarehouseSettings) -> Any:
    """The fsspec filesystem of a remote lake, with the credentials dlt's filesystem destination uses."""
    from dlt.common.configuration import resolve_configuration
    from dlt.common.storages.configuration import FilesystemConfiguration
    from dlt.common.storages.fsspec_filesystem import fsspec_from_config

    config = resolve_configuration(
        FilesystemConfiguration(bucket_url=ws.lake_url), sections=("destination", "filesystem")
    )
    fs, _ = fsspec_from_config(config)
    return fs


def _table_files(root: str, fs: Any = None) -> dict[str, list[str]]:
    """Parquet files per table folder directly under `root` (hidden folders and files skipped).

    Files may sit in partition folders (`event_date=2026-11-23/part-….parquet`, as Spark writes them).
    """
    out: dict[str, list[str]] = {}
    if fs is None:
        base = Path(root)
        if not base.is_dir():
            return out
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            if _hidden(folder.name) or not _SAFE_NAME.match(folder.name):
                continue
            files = [
                str(f)
                for f in sorted(folder.rglob("*.parquet"))
                if not any(_hidden(part) for part in f.relative_to(folder).parts)
            ]
            if files:
                out[folder.name] = files
        return out
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    root = root.rstrip("/")
    if not fs.exists(root):
        return out
    for entry in sorted(fs.ls(root, detail=False)):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if _hidden(name) or not _SAFE_NAME.match(name) or not fs.isdir(entry):
            continue
        files = []
        for path in sorted(fs.find(entry)):
            rel = path[len(entry.rstrip("/")) :].strip("/").split("/")
            if path.endswith(".parquet") and not any(_hidden(part) for part in rel):
                files.append(path if "://" in path else f"{protocol}://{path}")
        if files:
            out[name] = files
    return out


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _partitioned(files: list[str], folder: str) -> bool:
    """True when files sit in `key=value` folders below the table folder (Hive-style partitions)."""
    prefix = folder.rstrip("/") + "/"
    return any("=" in part for f in files for part in f[len(prefix) :].split("/")[:-1])


def _create_view(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, files: list[str], hive: bool
) -> None:
    file_list = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    con.execute(f"create schema if not exists {_quote_ident(schema)}")
    con.execute(
        f"create or replace view {_quote_ident(schema)}.{_quote_ident(table)} as select * from "
        f"read_parquet({file_list}, union_by_name = true, hive_partitioning = {str(hive).lower()})"
    )


def lake_relations(ws: WarehouseSettings) -> dict[tuple[str, str], tuple[list[str], bool]]:
    """Every readable relation of a spark warehouse: (schema, table) → (its Parquet files, partitioned).

    Lake tables (`posthog_raw.*`, `posthog_rules.*` under SPARK_LAKE_URL) and dbt-built tables under
    `<SPARK_DATA_DIR>/warehouse/<schema>.db/<table>/` (dbt views have no files and are not listed).
    """
    remote = not ws.lake_is_local
    fs = _lake_filesystem(ws) if remote else None
    relations: dict[tuple[str, str], tuple[list[str], bool]] = {}
    for dataset in LAKE_DATASETS:
        root = f"{ws.lake_url.rstrip('/')}/{dataset}" if remote else str(Path(ws.lake_url) / dataset)
        for table, files in _table_files(root, fs).items():
            relations[(dataset, table)] = (files, False)
    warehouse = ws.spark_warehouse_dir
    if warehouse.is_dir():
        for folder in sorted(warehouse.iterdir()):
            if not (folder.is_dir() and folder.name.endswith(".db")):
                continue
            schema = folder.name[: -len(".db")]
            if not _SAFE_NAME.match(schema) or schema in LAKE_DATASETS:
                continue
            for table, files in _table_files(str(folder)).items():
                relations[(schema, table)] = (files, _partitioned(files, str(folder / table)))
    return relations


def lake_connection(ws: WarehouseSettings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per lake / warehouse table of a spark warehouse (UTC session)."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        if not ws.lake_is_local:
            con.register_filesystem(_lake_filesystem(ws))
        for (schema, table), (files, hive) in lake_relations(ws).items():
            _create_view(con, schema, table, files, hive)
    except Exception:
        con.close()
        raise
    return con
