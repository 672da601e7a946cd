"""Run the project's Dagster definitions in-process and read stage timings from the event log.

Used by the worker subprocess; kept apart so the timing logic does not depend on any one job name.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable
from typing import Any

import dagster as dg

# Candidate modules holding the project's `Definitions`, in order of preference.
_DEFINITION_MODULES = ("orchestration.definitions", "orchestration")

# Stage of a step, chosen by the first keyword found in its step key (lower case).
# Anything else is an asset-check step (the project's own checks run as separate steps).
_STAGE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("extract_load", ("raw_load", "batch_export_files", "dlt")),
    ("export", ("export",)),
    ("rules", ("rules_load", "rules")),
    ("dbt_build", ("dbt",)),
)


def load_definitions() -> dg.Definitions:
    """Find the project's `Definitions` object (module attribute `defs`, or any Definitions)."""
    errors = []
    for name in _DEFINITION_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            errors.append(f"{name}: {exc}")
            continue
        defs = getattr(module, "defs", None)
        if isinstance(defs, dg.Definitions):
            return defs
        for value in vars(module).values():
            if isinstance(value, dg.Definitions):
                return value
    raise RuntimeError("no dagster Definitions found in " + "; ".join(errors or _DEFINITION_MODULES))


def stage_of(step_key: str) -> str:
    key = step_key.lower()
    for stage, words in _STAGE_KEYWORDS:
        if any(word in key for word in words):
            return stage
    return "checks"


def resolve_job(defs: dg.Definitions, names: Iterable[str]) -> dg.JobDefinition:
    """The first job among `names` that exists; else the implicit all-assets job."""
    known = {job.name: job for job in defs.resolve_all_job_defs()}
    for name in names:
        if name in known:
            return known[name]
    return defs.resolve_implicit_global_asset_job_def()


def step_timings(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    """Per-step wall seconds and per-stage sums from STEP_START / STEP_SUCCESS|FAILURE records."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    status: dict[str, str] = {}
    run_start = run_end = None
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        if kind == "PIPELINE_START" or kind == "RUN_START":
            run_start = record.timestamp
        elif kind in ("PIPELINE_SUCCESS", "PIPELINE_FAILURE", "RUN_SUCCESS", "RUN_FAILURE"):
            run_end = record.timestamp
        step = event.step_key
        if not step:
            continue
        if kind == "STEP_START":
            starts[step] = record.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            ends[step] = record.timestamp
            status[step] = "success" if kind == "STEP_SUCCESS" else "failure"
    steps = {
        step: {
            "seconds": round(ends[step] - starts[step], 3),
            "stage": stage_of(step),
            "status": status[step],
        }
        for step in starts
        if step in ends
    }
    stages: dict[str, float] = {}
    for info in steps.values():
        stages[info["stage"]] = round(stages.get(info["stage"], 0.0) + info["seconds"], 3)
    run_seconds = round(run_end - run_start, 3) if run_start and run_end else None
    return {"steps": steps, "stages": stages, "run_seconds": run_seconds}


def execute(defs: dg.Definitions, job_names: Iterable[str], instance: dg.DagsterInstance) -> dict[str, Any]:
    """Execute one job in-process; return success, timings and asset materialization metadata."""
    job = resolve_job(defs, job_names)
    started = time.perf_counter()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    wall = time.perf_counter() - started
    timings = step_timings(instance, result.run_id)
    failures = [
        {"step": ev.step_key, "error": str(ev.event_specific_data.error.message)[:2000]}
        for ev in result.get_step_failure_events()
    ]
    metadata: dict[str, dict[str, Any]] = {}
    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        metadata[mat.asset_key.to_user_string()] = {
            key: _plain(value) for key, value in (mat.metadata or {}).items()
        }
    return {
        "job": job.name,
        "success": result.success,
        "wall_seconds": round(wall, 3),
        **timings,
        "failures": failures,
        "asset_metadata": metadata,
    }


def _plain(value: Any) -> Any:
    """Metadata values as JSON-friendly scalars (markdown/plots shortened)."""
    inner = getattr(value, "value", value)
    if isinstance(inner, int | float | bool) or inner is None:
        return inner
    text = str(inner)
    return text if len(text) <= 200 else text[:200] + "…"
