"""The measured process: runs the pipeline through Dagster, in-process, and writes timings as JSON.

The harness starts this module as a subprocess with the environment pointing at a temp warehouse,
export folder and the demo API, and samples the memory of this process and its children (dbt).
`run` executes one job once; `loop` keeps the warehouse fresh as the sensor would, for a duration.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

# The project runs one job for both: on an empty warehouse its keyset load is the full build.
FULL_JOBS = ("posthog_incremental",)
INCREMENTAL_JOBS = ("posthog_incremental",)


def _instance():
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _definitions(attempts: int = 4):
    """Load the definitions, retrying while another process holds dagster-dbt's manifest lock."""
    from benchmarks.dagster_runs import load_definitions

    for attempt in range(attempts):
        try:
            return load_definitions()
        except Exception as exc:  # filelock.Timeout: someone else is re-parsing the dbt project
            if type(exc).__name__ != "Timeout" or attempt == attempts - 1:
                raise
            print(f"definitions: manifest lock busy, retry {attempt + 1}", file=sys.stderr)
            time.sleep(5)
    raise AssertionError("unreachable")


def _jobs(spec: str, default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in spec.split(",") if name) if spec else default


def cmd_run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.dagster_runs import execute

    started = time.perf_counter()
    defs = _definitions()
    loaded = time.perf_counter() - started
    default = INCREMENTAL_JOBS if args.incremental else FULL_JOBS
    result = execute(defs, _jobs(args.job, default), _instance())
    result["definitions_load_seconds"] = round(loaded, 3)
    return result


def _sensor_runs(defs, instance, sensor_name: str, cursor: str | None):
    """Evaluate the project's sensor once; return (job names to run, new cursor, skip reason)."""
    import dagster as dg

    sensor = defs.resolve_sensor_def(sensor_name)
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=dict(defs.resources or {}),
                                 definitions=defs) as context:
        data = sensor.evaluate_tick(context)
    jobs = [request.job_name or sensor.job_name for request in data.run_requests or []]
    # A tick that does not update the cursor keeps the old one, as the daemon does.
    return jobs, data.cursor if data.cursor is not None else cursor, data.skip_message


def cmd_loop(args: argparse.Namespace) -> dict[str, Any]:
    """Run incremental jobs until the duration is over: sensor-driven when a sensor is named."""
    from benchmarks.dagster_runs import execute

    defs = _definitions()
    instance = _instance()
    if args.interval < 0:  # as deployed: the sensor's own minimum interval (SENSOR_TICK_SECONDS)
        sensor_def = defs.resolve_sensor_def(args.sensor) if args.sensor else None
        args.interval = float(getattr(sensor_def, "minimum_interval_seconds", None) or 30)
    deadline = time.time() + args.seconds
    runs: list[dict[str, Any]] = []
    ticks = 0
    cursor: str | None = None
    while time.time() < deadline and not (args.stop_file and args.stop_file.exists()):
        tick_at = time.time()
        if args.sensor:
            ticks += 1
            jobs, cursor, _skip = _sensor_runs(defs, instance, args.sensor, cursor)
            for job in jobs:
                runs.append({"started_at": time.time(), **_slim(execute(defs, (job,), instance))})
                runs[-1]["ended_at"] = time.time()
            _pause(args, tick_at, deadline)
        else:
            started = time.time()
            outcome = execute(defs, _jobs(args.job, INCREMENTAL_JOBS), instance)
            runs.append({"started_at": started, "ended_at": time.time(), **_slim(outcome)})
            _pause(args, tick_at, deadline)
    return {"runs": runs, "sensor_ticks": ticks, "mode": "sensor" if args.sensor else "loop",
            "interval_seconds": args.interval}


def _pause(args: argparse.Namespace, tick_at: float, deadline: float) -> None:
    """Sleep until the next tick, waking early when the harness asks the loop to stop.

    Ticks keep to the interval's grid, as the Dagster daemon's do: a run that ends between two ticks
    waits for the next one (ticks that fell inside the run would have been skipped).
    """
    if args.interval > 0:
        elapsed = time.time() - tick_at
        until = min(tick_at + max(1, math.ceil(elapsed / args.interval)) * args.interval, deadline)
    else:
        until = min(tick_at, deadline)
    while time.time() < until and not (args.stop_file and args.stop_file.exists()):
        time.sleep(min(0.2, max(0.0, until - time.time())))


def _slim(outcome: dict[str, Any]) -> dict[str, Any]:
    return {key: outcome[key] for key in ("job", "success", "wall_seconds", "stages", "failures")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--job", default="", help="comma-separated job names to try, first found wins")
    run.add_argument("--incremental", action="store_true")
    loop = sub.add_parser("loop")
    loop.add_argument("--job", default="")
    loop.add_argument("--sensor", default="", help="sensor name; empty = back-to-back incremental runs")
    loop.add_argument("--seconds", type=float, default=180)
    loop.add_argument("--interval", type=float, default=0.0)
    loop.add_argument("--stop-file", type=Path, default=None,
                      help="stop after the current run once this file exists")
    for p in (run, loop):
        p.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    result = cmd_run(args) if args.command == "run" else cmd_loop(args)
    args.out.write_bytes(orjson.dumps(result, default=str, option=orjson.OPT_INDENT_2))
    ok = result.get("success", True) and all(r.get("success") for r in result.get("runs", []))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
