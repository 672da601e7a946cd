"""One command for every figure in issue 8.

    .venv/bin/python -m benchmarks.run --sizes 100000,1000000

For each size it generates the events, serves them from the demo PostHog API (in this process), writes
the same events as batch-export Parquet, measures the two floors, runs the real pipeline through Dagster
on the API path and the files path (each in a measured subprocess), adds 1% new and some late events and
runs the incremental path, and measures the exported context's size. At the largest size it then keeps
the demo API producing events and runs the sensor-driven loop to measure freshness. Results go to
`benchmarks/results/<name>.json`, `summary.md` and a PNG chart.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from benchmarks import demo, report
from benchmarks.context_size import measure_export
from benchmarks.freshness import ExportWatcher, lag_summary
from benchmarks.memory import tree_rss_bytes
from benchmarks.subprocesses import MeasuredProcess, child_env, run_json_module
from benchmarks.warehouse_counts import row_counts

RESULTS_DIR = Path(__file__).resolve().parent / "results"
API_KEY = "phx_demo_key"
PROJECT_ID = 1
PAGE_LIMIT = 50_000


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


class Bench:
    """State for one size: the store, the demo server and the temp folders of each path."""

    def __init__(self, args: argparse.Namespace, size: int, root: Path) -> None:
        self.args, self.size, self.root = args, size, root
        self.root.mkdir(parents=True, exist_ok=True)
        self.files_dir = root / "batch_export"
        self.logs = root / "logs"

    def env(self, path: str, server_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        base = self.root / path
        values = {
            "WAREHOUSE": "duckdb",
            "DUCKDB_PATH": str(base / "warehouse.duckdb"),
            "EXPORT_DIR": str(base / "export"),
            "DAGSTER_HOME": str(base / "dagster_home"),
            "POSTHOG_HOST": server_url,
            "POSTHOG_PERSONAL_API_KEY": API_KEY,
            "POSTHOG_PROJECT_ID": str(PROJECT_ID),
            "RULES_DIR": str(Path(__file__).resolve().parents[1] / "rules"),
        }
        values.update(extra or {})
        (base / "dagster_home").mkdir(parents=True, exist_ok=True)
        return child_env(values)

    def run_pipeline(self, label: str, env: dict[str, str], server: Any, incremental: bool = False,
                     job: str = "") -> dict[str, Any]:
        """One Dagster job in a measured subprocess; stage times from its event log."""
        out = self.logs / f"{label}.json"
        args = ["run", "--out", str(out)] + (["--incremental"] if incremental else [])
        if job:
            args += ["--job", job]
        before = demo.request_counts(server)
        profile = self.logs / f"{label}.pyspy.txt" if self.args.profile else None
        proc = MeasuredProcess("benchmarks.worker", args, env, self.logs / f"{label}.log",
                               profile_to=profile).start()
        code, _ = proc.wait(timeout=self.args.timeout)
        after = demo.request_counts(server)
        result: dict[str, Any] = orjson.loads(out.read_bytes()) if out.exists() else {}
        if code != 0 or not result.get("success"):
            raise RuntimeError(
                f"{label}: pipeline run failed (exit {code}); failures {result.get('failures')}; "
                f"log {proc.log_path}:\n{proc.log_tail()}"
            )
        requests = {key: after.get(key, 0) - before.get(key, 0) for key in after}
        e2e = result.get("run_seconds") or result["wall_seconds"]
        if profile is not None:
            from benchmarks.profiling import summarize

            result["profile"] = summarize(profile)
        return {
            "profile": result.get("profile"),
            "job": result.get("job"),
            "e2e_seconds": e2e,
            "process_seconds": round(proc.seconds, 3),
            "definitions_load_seconds": result.get("definitions_load_seconds"),
            "stages": result.get("stages", {}),
            "steps": result.get("steps", {}),
            "peak_rss_mb": proc.peak_rss_mb,
            "peak_rss_by_process": proc.sampler.breakdown() if proc.sampler else [],
            "http_requests": {k: v for k, v in requests.items() if v},
            "query_requests": demo.query_requests(requests),
            "asset_metadata": result.get("asset_metadata", {}),
        }


def per_event(path: dict[str, Any], events: int) -> None:
    seconds = path.get("e2e_seconds") or 0
    path["events_per_second"] = round(events / seconds, 1) if seconds else None
    path["us_per_event"] = round(seconds / events * 1e6, 2) if events else None


_PROGRESS: list[Any] = []  # a callable saving partial results after each part


@contextlib.contextmanager
def section(out: dict[str, Any], name: str) -> Iterator[None]:
    """Record a failing part under out["errors"] and carry on, so one failure keeps the other figures."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - reported in the result, never swallowed silently
        log(f"{name} failed: {str(exc)[:500]}")
        out.setdefault("errors", {})[name] = str(exc)[:4000]
    finally:
        for save in _PROGRESS:
            save(out)


def _ratio(numerator: float | None, denominator: float | None, digits: int = 2) -> float | None:
    return round(numerator / denominator, digits) if numerator and denominator else None


def bench_size(args: argparse.Namespace, size: int, root: Path) -> dict[str, Any]:
    bench = Bench(args, size, root)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=args.end_offset_minutes)
    out: dict[str, Any] = {}

    log(f"{size:,}: generating events")
    started = time.perf_counter()
    store = demo.make_store(size, args.seed, end)
    out["generate_seconds"] = round(time.perf_counter() - started, 2)
    out["events_generated"] = demo.event_count(store)
    out["query_request_limit"] = math.ceil(out["events_generated"] / PAGE_LIMIT) + 2

    started = time.perf_counter()
    demo.write_parquet(store, bench.files_dir)
    out["batch_export_write_seconds"] = round(time.perf_counter() - started, 2)
    files_glob = str(bench.files_dir / "**" / "*.parquet")
    ratios: dict[str, Any] = {}
    out["ratios"] = ratios
    floors: dict[str, Any] = {}
    out["floors"] = floors

    with demo.serve(store) as server:
        url = demo.server_url(server)
        log(f"{size:,}: floors")
        with section(out, "floor_api"):
            floors["api"] = run_json_module(
                "benchmarks.floor_api",
                ["--url", url, "--api-key", API_KEY, "--project-id", str(PROJECT_ID)],
                child_env({}), bench.logs / "floor_api.log")
        with section(out, "floor_sql"):
            floors["sql"] = run_json_module("benchmarks.floor_sql", ["--files", files_glob],
                                            child_env({}), bench.logs / "floor_sql.log")
        api_floor = (floors.get("api") or {}).get("seconds")
        sql_floor = (floors.get("sql") or {}).get("seconds")

        if "api" in args.paths:
            log(f"{size:,}: API path, full build")
            with section(out, "api_path"):
                api = bench.run_pipeline("api_full", bench.env("api", url), server)
                api["rows_out"] = row_counts(bench.root / "api" / "warehouse.duckdb")
                per_event(api, out["events_generated"])
                out["api_path"] = api
                ratios["api_vs_floor"] = _ratio(api["e2e_seconds"], (api_floor or 0) + (sql_floor or 0))
                ratios["api_vs_api_floor_only"] = _ratio(api["e2e_seconds"], api_floor)
            with section(out, "context_size"):
                out["context_size"] = measure_export(bench.root / "api" / "export")

        if "files" in args.paths:
            log(f"{size:,}: files path, full build")
            with section(out, "files_path"):
                files_env = bench.env("files", url, {"BATCH_EXPORT_URL": str(bench.files_dir),
                                                     "BATCH_EXPORT_FORMAT": "parquet"})
                files = bench.run_pipeline("files_full", files_env, server)
                files["rows_out"] = row_counts(bench.root / "files" / "warehouse.duckdb")
                per_event(files, out["events_generated"])
                out["files_path"] = files
                ratios["files_vs_sql_floor"] = _ratio(files["e2e_seconds"], sql_floor)
            if "context_size" not in out:
                with section(out, "context_size"):
                    out["context_size"] = measure_export(bench.root / "files" / "export")

        if "api_path" in out and not args.skip_incremental:
            new, late = max(1, size // 100), max(1, size // 1000)
            log(f"{size:,}: incremental, +{new:,} new and {late:,} late events")
            with section(out, "incremental"):
                added = demo.append_increment(store, new, late, args.seed + 1)
                inc = bench.run_pipeline("api_incremental", bench.env("api", url), server, incremental=True)
                inc["events_added"] = added
                inc["rows_out"] = row_counts(bench.root / "api" / "warehouse.duckdb")
                base = out["api_path"]["rows_out"].get("raw_distinct_uuids") or 0
                inc["raw_events_gained"] = (inc["rows_out"].get("raw_distinct_uuids") or 0) - base
                out["incremental"] = inc
                ratios["incremental_vs_full"] = _ratio(inc["e2e_seconds"], out["api_path"]["e2e_seconds"], 3)

        if args.freshness_seconds and size == max(args.sizes) and "api_path" in out:
            with section(out, "freshness"):
                out["freshness"] = freshness(args, bench, store, server)
    out["harness_rss_mb_at_end"] = round(tree_rss_bytes(os.getpid()) / 2**20, 1)
    return out


def freshness(args: argparse.Namespace, bench: Bench, store: Any, server: Any) -> dict[str, Any]:
    """Live traffic on top of the warehouse; the sensor loop keeps the export fresh; measure lag."""
    url = demo.server_url(server)
    env = bench.env("api", url)
    export_dir = bench.root / "api" / "export"
    watcher = ExportWatcher(export_dir).start()
    stop_file = bench.root / "freshness.stop"
    out_file = bench.logs / "freshness.json"
    budget = args.freshness_seconds + args.drain_seconds
    loop_args = ["loop", "--out", str(out_file), "--seconds", str(budget),
                 "--interval", str(args.sensor_interval), "--stop-file", str(stop_file)]
    if args.sensor:
        loop_args += ["--sensor", args.sensor]
    mode = f"sensor {args.sensor}" if args.sensor else "loop"
    log(f"freshness: {args.live_rate}/s for {args.freshness_seconds}s ({mode})")
    live_started = time.time()
    proc = MeasuredProcess("benchmarks.worker", loop_args, env, bench.logs / "freshness.log").start()
    live = demo.start_live(store, args.live_rate, args.seed + 2)
    time.sleep(args.freshness_seconds)
    demo.stop_live(live)
    live_events = demo.live_events(store, live_started)
    deadline = time.time() + args.drain_seconds
    while time.time() < deadline:
        summary = lag_summary(watcher, live_events)
        if summary["events_unseen"] == 0:
            break
        time.sleep(1)
    stop_file.touch()
    code, _ = proc.wait(timeout=args.timeout)
    watcher.stop()
    loop = orjson.loads(out_file.read_bytes()) if out_file.exists() else {}
    runs = loop.get("runs", [])
    summary = lag_summary(watcher, live_events)
    summary.update({
        "seconds": args.freshness_seconds,
        "rate_per_second": args.live_rate,
        "mode": loop.get("mode"),
        "runs": len(runs),
        "failed_runs": sum(1 for r in runs if not r.get("success")),
        "mean_run_seconds": round(sum(r["wall_seconds"] for r in runs) / len(runs), 2) if runs else None,
        "sensor_ticks": loop.get("sensor_ticks"),
        "interval_seconds": loop.get("interval_seconds"),
        "peak_rss_mb": proc.peak_rss_mb,
        "exit_code": code,
        "warehouse_events": bench.size,
    })
    return summary


def evaluate_targets(result: dict[str, Any]) -> dict[str, Any]:
    """Issue 8 targets, judged at the largest size."""
    sizes = result["sizes"]
    if not sizes:
        return {}
    largest_key = max(sizes, key=int)
    data = sizes[largest_key]
    n = int(largest_key)
    targets: dict[str, Any] = {}
    files = data.get("files_path") or {}
    if files:
        eps = files.get("events_per_second") or 0
        targets["files path ≥ 100,000 events/s"] = {"measured": f"{eps:,.0f} events/s at {n:,}",
                                                   "met": eps >= 100_000}
    ratios = data.get("ratios") or {}
    if ratios.get("api_vs_floor") is not None:
        targets["API path ≤ 2× floor"] = {"measured": f"{ratios['api_vs_floor']}× at {n:,}",
                                          "met": ratios["api_vs_floor"] <= 2}
    api = data.get("api_path") or {}
    if api:
        q = api.get("query_requests")
        targets["query requests ≤ ceil(N/50k)+2"] = {
            "measured": f"{q} (limit {data['query_request_limit']})",
            "met": q is not None and q <= data["query_request_limit"],
        }
    if ratios.get("incremental_vs_full") is not None:
        targets["incremental (1%) ≤ 10% of full"] = {"measured": f"{ratios['incremental_vs_full']:.1%}",
                                                     "met": ratios["incremental_vs_full"] <= 0.10}
    peaks = [p.get("peak_rss_mb") or 0 for p in (api, files, data.get("incremental") or {}) if p]
    if peaks:
        targets["peak memory ≤ 1.5 GB (tree)"] = {"measured": f"{max(peaks):,.0f} MB",
                                                  "met": max(peaks) <= 1536}
    fresh = result.get("freshness") or {}
    if fresh.get("lag_p50_s") is not None:
        targets["freshness p50 ≤ 60 s, p95 ≤ 120 s"] = {
            "measured": f"p50 {fresh['lag_p50_s']} s, p95 {fresh['lag_p95_s']} s",
            "met": fresh["lag_p50_s"] <= 60 and fresh["lag_p95_s"] <= 120 and not fresh["events_unseen"],
        }
    ctx = data.get("context_size") or {}
    if ctx.get("persons"):
        worst = ctx["bytes_ratio"]["max"]
        targets["prompt_text ≤ 1/4 of JSON, nothing left out"] = {
            "measured": f"max ratio {worst:.3f}, {ctx['persons_with_omissions']} persons with omissions",
            "met": worst <= 0.25 and ctx["persons_with_omissions"] == 0,
        }
    return targets


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated event counts")
    parser.add_argument("--name", default="", help="result name (default: sizes + UTC time)")
    parser.add_argument("--paths", default="api,files", help="api, files or both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="smoke run: short freshness, low live rate")
    parser.add_argument("--freshness-seconds", type=float, default=None, help="live traffic duration (180)")
    parser.add_argument("--drain-seconds", type=float, default=None,
                        help="after traffic stops, wait this long for the last events to be published (120)")
    parser.add_argument("--live-rate", type=float, default=None, help="live events per second (200)")
    parser.add_argument("--sensor", default="", help="sensor to evaluate in the freshness loop "
                        "(default: the project's new-events sensor if found; 'none' = back-to-back runs)")
    parser.add_argument("--sensor-interval", type=float, default=None,
                        help="seconds between sensor ticks / loop runs (default: the sensor's own "
                        "minimum interval, SENSOR_TICK_SECONDS; 0 without a sensor)")
    parser.add_argument("--skip-incremental", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="sample pipeline runs with py-spy (10 Hz, non-blocking); summary in the JSON")
    parser.add_argument("--end-offset-minutes", type=int, default=30,
                        help="generated history ends this long before now; new events fill the gap")
    parser.add_argument("--workdir", type=Path, default=None, help="keep run folders here (default: temp)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per pipeline run")
    args = parser.parse_args(argv)
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    args.paths = {p.strip() for p in args.paths.split(",") if p.strip()}
    quick = args.quick
    if args.freshness_seconds is None:
        args.freshness_seconds = 20.0 if quick else 180.0
    if args.drain_seconds is None:
        args.drain_seconds = 60.0 if quick else 180.0
    if args.live_rate is None:
        args.live_rate = 50.0 if quick else 200.0
    if args.sensor == "none":
        args.sensor = ""
    elif not args.sensor and args.freshness_seconds:
        args.sensor = demo.default_sensor()
    if args.sensor_interval is None:
        args.sensor_interval = -1.0 if args.sensor else 0.0  # -1: the sensor's own interval
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    started_at = datetime.now(UTC)
    label = "-".join(f"{s // 1000}k" if s >= 1000 else str(s) for s in args.sizes)
    name = args.name or f"bench-{label}-{started_at:%Y%m%dT%H%M%SZ}"
    result: dict[str, Any] = {"name": name, "command": command, "started_at": started_at.isoformat(),
                              "machine": machine(), "config": {k: (sorted(v) if isinstance(v, set) else v)
                                                               for k, v in vars(args).items()},
                              "sizes": {}, "notes": []}
    temp = None
    workdir = args.workdir
    if workdir is None:
        temp = tempfile.mkdtemp(prefix="posthog-bench-")
        workdir = Path(temp)
    try:
        for size in args.sizes:
            def save(partial: dict[str, Any], size: int = size) -> None:
                result["sizes"][str(size)] = {k: v for k, v in partial.items() if k != "freshness"}
                if partial.get("freshness"):
                    result["freshness"] = partial["freshness"]
                result["targets"] = evaluate_targets(result)
                write_outputs(result, args.results_dir)

            _PROGRESS[:] = [save]
            data = bench_size(args, size, workdir / f"n{size}")
            fresh = data.pop("freshness", None)
            if fresh:
                result["freshness"] = fresh
            result["sizes"][str(size)] = data
            write_outputs(result, args.results_dir)  # partial results survive a later failure
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    result["finished_at"] = datetime.now(UTC).isoformat()
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = evaluate_targets(result)
    paths = write_outputs(result, args.results_dir)
    log("wrote " + ", ".join(str(p) for p in paths))
    print(report.markdown(result))
    return 0


def write_outputs(result: dict[str, Any], results_dir: Path) -> list[Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"{result['name']}.json"
    json_path.write_bytes(orjson.dumps(result, default=str, option=orjson.OPT_INDENT_2))
    summary = results_dir / "summary.md"
    summary.write_text(report.markdown(result))
    chart_path = report.chart(result, results_dir / "stage_times.png")
    return [p for p in (json_path, summary, chart_path) if p]


if __name__ == "__main__":
    raise SystemExit(main())
