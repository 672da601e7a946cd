"""Run the dlt loads: PostHog API → `posthog_raw`, batch-export files → `posthog_raw.events`.

Pipelines live in `<folder of the DuckDB file>/.dlt_pipelines` (or `DLT_PIPELINES_DIR`), so every warehouse
file has its own state and temp-dir tests never share it. With no API key, the bundled demo API is
started in-process on 127.0.0.1 and read through the same HTTP code path as real PostHog.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from pydantic import BaseModel, Field

from ingestion.isolation import isolation_enabled, run_in_child
from ingestion.memory import release_memory
from ingestion.posthog.client import PostHogClient, PostHogError
from ingestion.posthog.source import CURSOR_STATE_KEY, RunStats, posthog
from ingestion.settings import PostHogSettings, SettingsError, WarehouseSettings
from ingestion.warehouse import WarehouseLockedError, connect_duckdb, dlt_destination, read_table

log = logging.getLogger(__name__)

PIPELINE_NAME = "posthog"
FILES_PIPELINE_NAME = "posthog_files"
DATASET = "posthog_raw"
RESOURCE_NAMES = (
    "events",
    "events_quarantine",
    "persons",
    "person_distinct_ids",
    "cohorts",
    "cohort_filter_nodes",
)


class LoadSummary(BaseModel):
    """What a load did, for logs, Dagster metadata and tests."""

    rows_by_table: dict[str, int] = Field(default_factory=dict)
    events_loaded: int = 0
    events_quarantined: int = 0
    quarantine_reasons: dict[str, int] = Field(default_factory=dict)
    newest_event_at: datetime | None = None
    http_requests: int = 0
    requests_by_kind: dict[str, int] = Field(default_factory=dict)
    retries: int = 0
    projects: list[int] = Field(default_factory=list)
    repaired_text: dict[str, int] = Field(default_factory=dict)
    exact_duplicates_dropped: int = 0
    files: int = 0
    source: str = "query_api"
    load_ids: list[str] = Field(default_factory=list)
    seconds: float = 0.0


class IngestionError(RuntimeError):
    """A load failed; the message says what and where (never a secret)."""


def make_pipeline(ws: WarehouseSettings, name: str = PIPELINE_NAME) -> dlt.Pipeline:
    pipelines_dir = ws.dlt_pipelines_dir
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt_destination(ws),
        dataset_name=DATASET,
        pipelines_dir=str(pipelines_dir),
        progress=None,
    )


def loader_file_format(ws: WarehouseSettings) -> str | None:
    """Parquet straight into DuckDB and into the Spark lake; PostgreSQL takes dlt's default."""
    return "parquet" if ws.kind in ("duckdb", "spark") else None


# dlt setting normalize.parquet_normalizer.add_dlt_load_id, as an environment variable.
_ADD_LOAD_ID_ENV = "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"


def _is_merge(disposition: Any) -> bool:
    if isinstance(disposition, dict):
        disposition = disposition.get("disposition")
    return disposition == "merge"


LAKE_SNAPSHOT_RESOURCES = frozenset({"persons", "person_distinct_ids", "cohorts"})


def for_warehouse(source: Any, ws: WarehouseSettings) -> Any:
    """Adapt a source's write dispositions to the warehouse.

    The Spark lake is plain Parquet files: dlt's filesystem destination cannot merge there (that needs
    delta/iceberg), so every merging event resource appends instead and dbt staging keeps the copy with
    the highest `_dlt_load_id` per key; full snapshots replace. Replace stays replace (dlt empties the
    table folder first).
    """
    if ws.kind != "spark":
        return source
    for name, resource in source.resources.items():
        if not _is_merge(resource.write_disposition):
            continue
        # Persons, distinct ids and cohorts are read in full every run: appending would add a whole
        # snapshot to the lake per run, so on the lake they replace (the newest snapshot is the table).
        snapshot = name in LAKE_SNAPSHOT_RESOURCES
        resource.apply_hints(write_disposition="replace" if snapshot else "append")
    return source


@contextlib.contextmanager
def lake_load_ids(ws: WarehouseSettings) -> Iterator[None]:
    """On spark, make dlt add `_dlt_load_id` to Arrow items too (it does for rows, not for Arrow by default).

    Staging de-duplicates the append-only lake on that column, so every Parquet row needs it. The switch
    is dlt configuration (normalize.parquet_normalizer.add_dlt_load_id), set for the length of the run
    only so DuckDB/PostgreSQL loads in the same process keep their schema.
    """
    if ws.kind != "spark":
        yield
        return
    previous = os.environ.get(_ADD_LOAD_ID_ENV)
    os.environ[_ADD_LOAD_ID_ENV] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_ADD_LOAD_ID_ENV, None)
        else:
            os.environ[_ADD_LOAD_ID_ENV] = previous


def run_pipeline(pipeline: dlt.Pipeline, data: Any, ws: WarehouseSettings) -> Any:
    """What `pipeline.run` does (state sync, extract, normalize, load), with the file format and write
    dispositions the warehouse needs, and memory handed back between normalize and load.

    Decoded pages are garbage once normalized, but the process keeps them (~300 MB at 1M events) while
    DuckDB merges; releasing them first took a 1M-event load's peak from 1.26 to 1.04 GB.
    """
    if hasattr(data, "resources"):
        data = for_warehouse(data, ws)
    with lake_load_ids(ws):
        if pipeline.config.restore_from_destination:
            pipeline.sync_destination()  # as `run` does: a lost pipeline folder gets its state back
        pipeline.extract(data, loader_file_format=loader_file_format(ws))
        pipeline.normalize()
        release_memory()
        return pipeline.load()


def lock_wait_seconds() -> float:
    raw = os.environ.get("WAREHOUSE_LOCK_WAIT_SECONDS", "").strip()
    try:
        return float(raw) if raw else 60.0
    except ValueError:
        raise SettingsError(f"WAREHOUSE_LOCK_WAIT_SECONDS={raw!r} is not a number") from None


def wait_for_warehouse(ws: WarehouseSettings, wait_seconds: float | None = None) -> None:
    """Before a load, wait (bounded) until no other process holds the DuckDB file, else fail clearly."""
    if ws.kind != "duckdb":
        return
    if wait_seconds is None:
        wait_seconds = lock_wait_seconds()
    connect_duckdb(ws.duckdb_path, wait_seconds=wait_seconds).close()


@contextlib.contextmanager
def exclusive_run(ws: WarehouseSettings, wait_seconds: float | None = None) -> Iterator[None]:
    """One load per warehouse pipelines folder at a time (bounded wait), across processes.

    Two loads started together would otherwise share dlt's working folder and fight over the DuckDB
    file mid-load (one of them, or both, failing half-way); the second one now waits for the first.
    """
    wait_seconds = lock_wait_seconds() if wait_seconds is None else wait_seconds
    with file_lock(ws.dlt_pipelines_dir / "loads.lock", f"another load into {ws.describe()}", wait_seconds):
        yield


@contextlib.contextmanager
def file_lock(lock_path: Path, holder: str, wait_seconds: float) -> Iterator[None]:
    """An exclusive advisory lock on `lock_path` across processes, waiting at most `wait_seconds`.

    `holder` says who else may hold it, for the error message ("another load into ...").
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + max(wait_seconds, 0)
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseLockedError(
                        f"{holder} is still running (lock {lock_path}, waited {wait_seconds:g}s)"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _finish_pending(pipeline: dlt.Pipeline, ws: WarehouseSettings | None = None) -> None:
    """Load packages a previous run extracted but did not load (crash between extract and load)."""
    if pipeline.list_extracted_load_packages() or pipeline.list_normalized_load_packages():
        log.warning("pipeline %s: loading packages left over by an earlier run", pipeline.pipeline_name)
        if ws is None:
            pipeline.run()
            return
        with lake_load_ids(ws):
            pipeline.run()


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    current: BaseException | None = exc
    found: BaseException = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PostHogError | SettingsError | OSError):
            return current
        # A generator's StopIteration (or an empty message) in the chain says nothing: keep the one above.
        if str(current) and not isinstance(current, StopIteration | StopAsyncIteration | GeneratorExit):
            found = current
        current = current.__cause__ or current.__context__
    return found


@contextlib.contextmanager
def _client_for(settings: PostHogSettings, demo: Any) -> Iterator[PostHogClient]:
    backoff = float(os.environ.get("POSTHOG_RETRY_BACKOFF", "1.0"))
    if demo is not None:
        key = getattr(demo, "api_key", None) or getattr(demo, "_api_key", "phx_demo_key")
        host = settings.host if settings.api_key is not None and settings.host else demo.url
        if settings.api_key is not None:
            key = settings.api_key.get_secret_value()
        with PostHogClient(
            host, key, timeout=settings.timeout, max_retries=settings.max_retries, backoff=backoff
        ) as client:
            yield client
        return
    if settings.uses_demo:
        with start_demo(settings) as server:
            with PostHogClient(
                server.url,
                server_key(server),
                timeout=settings.timeout,
                max_retries=settings.max_retries,
                backoff=backoff,
            ) as client:
                yield client
        return
    assert settings.host is not None and settings.api_key is not None
    with PostHogClient(
        settings.host,
        settings.api_key.get_secret_value(),
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        backoff=backoff,
    ) as client:
        yield client


def server_key(server: Any) -> str:
    return getattr(server, "api_key", None) or getattr(server, "_api_key", None) or "phx_demo_key"


@contextlib.contextmanager
def start_demo(settings: PostHogSettings, end: datetime | None = None) -> Iterator[Any]:
    """The bundled demo PostHog API for `settings.project_ids`, sized by DEMO_SEED/DEMO_USERS/DEMO_DAYS."""
    from ingestion.demo_api.server import DemoPostHog
    from ingestion.demo_api.store import DemoStore

    def env_int(name: str, default: int) -> int:
        raw = os.environ.get(name, "").strip()
        try:
            return int(raw) if raw else default
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not an integer") from None

    store = DemoStore.generate(
        seed=env_int("DEMO_SEED", 7),
        users=env_int("DEMO_USERS", 200),
        days=env_int("DEMO_DAYS", 7),
        end=end or datetime.now(UTC),
        project_ids=tuple(settings.project_ids),
    )
    with DemoPostHog(store, project_ids=tuple(settings.project_ids)) as server:
        yield server


def _select(source: Any, resources: Sequence[str] | None) -> Any:
    if not resources:
        return source
    unknown = [r for r in resources if r not in RESOURCE_NAMES]
    if unknown:
        raise SettingsError(f"unknown PostHog resources {unknown}; choose from {list(RESOURCE_NAMES)}")
    return source.with_resources(*resources)


def _summarize(pipeline: dlt.Pipeline, stats: RunStats | None, started: float) -> LoadSummary:
    trace = pipeline.last_trace
    counts: dict[str, int] = {}
    if trace is not None and trace.last_normalize_info is not None:
        counts = {
            k: int(v) for k, v in trace.last_normalize_info.row_counts.items() if not k.startswith("_dlt")
        }
    load_ids: list[str] = []
    if trace is not None and trace.last_load_info is not None:
        load_ids = list(trace.last_load_info.loads_ids)
    summary = LoadSummary(rows_by_table=counts, load_ids=load_ids)
    summary.events_loaded = counts.get("events", 0)
    summary.events_quarantined = counts.get("events_quarantine", 0)
    if stats is not None:
        summary.quarantine_reasons = dict(stats.quarantine_reasons)
        summary.events_quarantined = sum(stats.quarantine_reasons.values())
        summary.newest_event_at = stats.newest_event_at
        summary.repaired_text = dict(stats.repaired)
        summary.exact_duplicates_dropped = stats.exact_duplicates
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def run_posthog_load(
    settings: PostHogSettings,
    ws: WarehouseSettings,
    *,
    resources: Sequence[str] | None = None,
    demo: Any = None,
    time_range: tuple[datetime, datetime] | None = None,
) -> LoadSummary:
    """Extract PostHog (or the demo API) and load `posthog_raw`; events merge on uuid.

    `time_range=(start, end)` re-reads exactly that range (start inclusive, end exclusive) without
    touching the incremental cursor (daily-partition backfills). `demo` is a running `DemoPostHog` to read
    instead of starting one.
    """
    if demo is None and isolation_enabled():  # an in-process demo server cannot cross processes
        return run_in_child(run_posthog_load, settings, ws, resources=resources, time_range=time_range)
    started = time.monotonic()
    if time_range is not None:
        start, end = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in time_range)
        if end <= start:
            raise SettingsError(f"time_range end {end.isoformat()} is not after start {start.isoformat()}")
        time_range = (start.astimezone(UTC), end.astimezone(UTC))
    try:
        with exclusive_run(ws):
            return _run_posthog_load(settings, ws, resources, demo, time_range, started)
    finally:
        release_memory()


def _run_posthog_load(
    settings: PostHogSettings,
    ws: WarehouseSettings,
    resources: Sequence[str] | None,
    demo: Any,
    time_range: tuple[datetime, datetime] | None,
    started: float,
) -> LoadSummary:
    wait_for_warehouse(ws)
    pipeline = make_pipeline(ws)
    stats = RunStats()
    run_started = datetime.now(UTC)
    with _client_for(settings, demo) as client:
        try:
            _finish_pending(pipeline, ws)
            source = posthog(settings, client, stats=stats, time_range=time_range, run_started=run_started)
            run_pipeline(pipeline, _select(source, resources), ws)
        except Exception as exc:  # dlt wraps resource errors; surface the one that says what happened
            root = _root_cause(exc)
            message = client.scrub(str(root) if root is not exc else str(exc))
            if isinstance(root, PostHogError):
                raise type(root)(message) from None
            raise IngestionError(f"PostHog load into {ws.describe()} failed: {message}") from None
        summary = _summarize(pipeline, stats, started)
        summary.http_requests = client.total_requests
        summary.requests_by_kind = dict(client.requests)
        summary.retries = sum(client.retries.values())
    summary.projects = list(settings.project_ids)
    summary.source = "query_api" if settings.events_api == "query" else "events_api"
    log.info(
        "PostHog load: %s events, %s quarantined, %s requests, %.1fs",
        summary.events_loaded,
        summary.events_quarantined,
        summary.http_requests,
        summary.seconds,
    )
    return summary


def run_batch_files_load(url: str, fmt: str, project_id: int, ws: WarehouseSettings) -> LoadSummary:
    """Load PostHog batch-export files (Parquet or JSONL) from a folder or bucket into the events table."""
    from ingestion.batch_files import batch_export_source

    if isolation_enabled():
        return run_in_child(run_batch_files_load, url, fmt, project_id, ws)
    started = time.monotonic()
    stats = RunStats()
    with exclusive_run(ws):
        wait_for_warehouse(ws)
        pipeline = make_pipeline(ws, FILES_PIPELINE_NAME)
        try:
            _finish_pending(pipeline, ws)
            source = batch_export_source(url, fmt, project_id, stats=stats)
            run_pipeline(pipeline, source, ws)
        except Exception as exc:
            root = _root_cause(exc)
            raise IngestionError(
                f"batch-export load from {url} into {ws.describe()} failed: {str(root) or exc}"
            ) from None
        finally:
            release_memory()
    summary = _summarize(pipeline, stats, started)
    summary.projects = [project_id]
    summary.source = "batch_export"
    summary.files = stats.pages.get("files", 0)
    return summary


def current_cursor(ws: WarehouseSettings) -> dict[int, datetime]:
    """The events cursor per project as committed by the last successful PostHog load (empty if none)."""
    pipeline = make_pipeline(ws)
    state = pipeline.state
    sources = state.get("sources", {}) if isinstance(state, dict) else {}
    if not sources.get(PIPELINE_NAME):
        # A fresh pipelines folder: the state travels with the data, so ask the warehouse.
        with contextlib.suppress(Exception):
            pipeline.sync_destination()
            sources = pipeline.state.get("sources", {})
    cursors = (sources.get(PIPELINE_NAME) or {}).get(CURSOR_STATE_KEY) or {}
    out: dict[int, datetime] = {}
    for key, entry in cursors.items():
        with contextlib.suppress(KeyError, ValueError, TypeError):
            out[int(key)] = datetime.fromisoformat(entry["timestamp"])
    return out


def event_count(ws: WarehouseSettings) -> int:
    """Rows in posthog_raw.events (0 when the table does not exist yet)."""
    try:
        table = read_table(ws, f"SELECT count(*) AS n FROM {DATASET}.events")
    except Exception:  # noqa: BLE001 - a missing table or file simply means nothing loaded yet
        return 0
    return int(table["n"][0].as_py())
