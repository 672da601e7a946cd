"""Spark (local session) against DuckDB on the same generated events: load and dbt wall time, peak memory.

    .venv/bin/python -m benchmarks.spark_vs_duckdb --sizes 1000000,2000000

For each size the harness generates N events with `DemoStore.generate_scaled` (plus the demo cohorts, as
`benchmarks.run` does), writes them as batch-export Parquet files and serves persons / cohorts from the
demo API inside this process. Then, for DuckDB and right after it for Spark (same data, back to back, so
the ratio is less exposed to other load on the machine):

1. load: a subprocess runs the project's batch-export files loader (`run_batch_files_load`, events from
   the Parquet files, no API paging) plus `run_posthog_load` for persons, distinct ids and cohorts only,
   and the default rules. DuckDB: into a fresh warehouse file; Spark: dlt writes the Parquet lake under a
   fresh SPARK_DATA_DIR.
2. dbt: `dbt build --exclude test_type:unit` (every model and data test, no unit tests) as a subprocess
   with WAREHOUSE / DBT_TARGET set to the engine; on Spark the `spark` target (session, SPARK_MASTER
   local[2], SPARK_DRIVER_MEMORY).

Each stage's wall time and the peak of the summed VmRSS of its whole process tree (dbt, and on Spark the
JVM it starts) are recorded (`benchmarks.memory`, 100 ms). Spark's data folder is deleted after each size.
Results: `benchmarks/results/spark_vs_duckdb.json` and `.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import demo
from benchmarks.memory import PROC, TreeMemorySampler, rss_bytes, tree_pids
from benchmarks.subprocesses import child_env
from ingestion.settings import WAREHOUSE_CHOICE_ENV

REPO = Path(__file__).resolve().parents[1]
PROJECT_DIR = REPO / "dbt_project"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
API_KEY = "phx_demo_key"
PROJECT_ID = 1
ENGINES = ("duckdb", "spark")
NON_EVENT_RESOURCES = ["persons", "person_distinct_ids", "cohorts", "cohort_filter_nodes"]
# Settings from the caller's shell that would send a measured stage elsewhere.
_DROP = (*WAREHOUSE_CHOICE_ENV, "DBT_TARGET_PATH", "DBT_LOG_PATH")


def log(message: str) -> None:
    print(f"[spark-vs-duckdb {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def engine_env(engine: str, base: Path, url: str, args: argparse.Namespace, end: datetime) -> dict[str, str]:
    """Environment of every stage of one engine: its own warehouse, dbt target folder and data dir."""
    values = {
        "WAREHOUSE": engine,
        "DBT_TARGET": engine,
        "POSTHOG_HOST": url,
        "POSTHOG_PERSONAL_API_KEY": API_KEY,
        "POSTHOG_PROJECT_ID": str(PROJECT_ID),
        "RULES_DIR": str(REPO / "rules"),
        "COHORT_REFERENCE_TIME": end.isoformat(),
        "DBT_TARGET_PATH": str(base / "dbt_target"),
        "DBT_LOG_PATH": str(base / "dbt_logs"),
        "DBT_USE_COLORS": "false",
        "DLT_PIPELINES_DIR": str(base / "dlt"),
    }
    if engine == "duckdb":
        values["DUCKDB_PATH"] = str(base / "warehouse.duckdb")
    else:
        values.update(
            {
                "SPARK_DATA_DIR": str(base / "spark"),
                "SPARK_MASTER": args.spark_master,
                "SPARK_DRIVER_MEMORY": args.driver_memory,
            }
        )
    env = {k: v for k, v in child_env(values).items() if k not in _DROP or k in values}
    if engine == "spark":
        env.pop("DUCKDB_PATH", None)
    return env


class ForkAwareSampler(TreeMemorySampler):
    """Peak summed RSS of a tree, leaving out children caught between fork and exec.

    The JVM runs shell commands (Hadoop's local file system does, for permissions); for an instant the
    child has the JVM's command line and reports the JVM's whole RSS although it shares those pages. A
    process with the same command line as its parent is counted once (the parent).
    """

    forks_skipped = 0

    def sample_once(self) -> int:
        pids = tree_pids(self.root)
        cmdlines, parents = {}, {}
        for pid in pids:
            try:
                cmdlines[pid] = Path(PROC, str(pid), "cmdline").read_bytes()
                stat = Path(PROC, str(pid), "stat").read_text()
                parents[pid] = int(stat[stat.rfind(")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                cmdlines[pid], parents[pid] = b"", 0
        kept = [pid for pid in pids if not (cmdlines[pid] and cmdlines.get(parents[pid]) == cmdlines[pid])]
        self.forks_skipped += len(pids) - len(kept)
        sizes = [(pid, rss_bytes(pid)) for pid in kept]
        total = sum(size for _, size in sizes)
        self.samples += 1
        if total > self.peak_bytes:
            self.peak_bytes = total
            self.peak_processes = len(kept)
            self.peak_breakdown = [
                (cmdlines[pid][:120].replace(b"\0", b" ").decode(errors="replace"), size)
                for pid, size in sizes
                if size > 20 * 2**20
            ]
        return total


def measured(command: list[str], env: dict[str, str], log_path: Path, timeout: float) -> dict[str, Any]:
    """Run a command with its process tree's summed RSS sampled; wall seconds, peak, exit code."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_path.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        with ForkAwareSampler(proc.pid) as sampler:
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
                log(f"timed out after {timeout:.0f} s: {' '.join(command[:4])}")
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": sampler.peak_mb,
        "peak_processes": sampler.peak_processes,
        "fork_samples_skipped": sampler.forks_skipped,
        "peak_rss_by_process": sampler.breakdown(),
        "exit_code": code,
        "log": str(log_path),
    }


def dbt_summary(target_dir: Path) -> dict[str, Any]:
    """Nodes run, failures and the slowest models from dbt's run_results.json."""
    path = target_dir / "run_results.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text()).get("results", [])
    kinds: dict[str, int] = {}
    for row in results:
        kind = row["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    failed = [r["unique_id"] for r in results if r.get("status") in ("error", "fail", "runtime error")]
    models = sorted(
        (r for r in results if r["unique_id"].startswith("model.")),
        key=lambda r: -float(r.get("execution_time") or 0),
    )
    return {
        "nodes": kinds,
        "failed": failed,
        "model_seconds_sum": round(sum(float(r.get("execution_time") or 0) for r in models), 1),
        "test_seconds_sum": round(
            sum(float(r.get("execution_time") or 0) for r in results if r["unique_id"].startswith("test.")), 1
        ),
        "slowest_models": {
            r["unique_id"].split(".")[-1]: round(float(r["execution_time"]), 1) for r in models[:5]
        },
    }


def rows_out(engine: str, env: dict[str, str]) -> int | None:
    """Rows in analytics.fct_enriched_events, read the project's way (DuckDB over the files on Spark)."""
    from ingestion.settings import WarehouseSettings
    from ingestion.warehouse import read_table

    try:
        ws = WarehouseSettings.from_env(env)
        table = read_table(ws, "select count(*) as n from analytics.fct_enriched_events")
        return int(table.column("n")[0].as_py())
    except Exception as exc:  # noqa: BLE001 - recorded, the timings still stand
        log(f"{engine}: could not count rows out: {exc}")
        return None


def run_engine(
    engine: str, size_dir: Path, files: Path, url: str, args: argparse.Namespace, end: datetime
) -> dict[str, Any]:
    base = size_dir / engine
    base.mkdir(parents=True, exist_ok=True)
    env = engine_env(engine, base, url, args, end)
    out: dict[str, Any] = {"engine": engine}
    if engine == "spark":
        out["spark_master"] = args.spark_master
        out["spark_driver_memory"] = args.driver_memory
    log(f"{engine}: load")
    load = measured(
        [
            sys.executable,
            "-m",
            "benchmarks.spark_vs_duckdb",
            "load",
            "--files",
            str(files),
            "--out",
            str(base / "load.json"),
        ],
        env,
        base / "load.log",
        args.timeout,
    )
    if (base / "load.json").exists():
        load["summary"] = json.loads((base / "load.json").read_text())
    out["load"] = load
    if load["exit_code"] != 0:
        out["error"] = f"load failed, see {load['log']}"
        return out
    log(f"{engine}: dbt build (models + data tests) after {load['seconds']} s of load")
    dbt = measured(
        [
            str(Path(sys.executable).parent / "dbt"),
            "build",
            "--exclude",
            "test_type:unit",
            "--profiles-dir",
            str(PROJECT_DIR),
            "--project-dir",
            str(PROJECT_DIR),
        ],
        env,
        base / "dbt.log",
        args.timeout,
    )
    dbt.update(dbt_summary(base / "dbt_target"))
    out["dbt"] = dbt
    if dbt["exit_code"] != 0:
        out["error"] = f"dbt build failed (exit {dbt['exit_code']}), see {dbt['log']}"
    out["rows_out_fct_enriched_events"] = rows_out(engine, env)
    out["total_seconds"] = round(load["seconds"] + dbt["seconds"], 2)
    out["peak_rss_mb"] = max(load["peak_rss_mb"], dbt["peak_rss_mb"])
    if engine == "spark":
        out["spark_data_dir_mb"] = round(_folder_bytes(base / "spark") / 2**20, 1)
    return out


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def bench_size(size: int, args: argparse.Namespace, root: Path, save) -> dict[str, Any]:
    size_dir = root / f"n{size}"
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    out: dict[str, Any] = {"events": size, "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    log(f"{size:,}: generating events")
    started = time.perf_counter()
    store = demo.make_store(size, args.seed, end)
    out["events_generated"] = demo.event_count(store)
    out["generate_seconds"] = round(time.perf_counter() - started, 2)
    files = size_dir / "batch_export"
    started = time.perf_counter()
    demo.write_parquet(store, files)
    out["batch_export_write_seconds"] = round(time.perf_counter() - started, 2)
    out["engines"] = {}
    with demo.serve(store) as server:
        url = demo.server_url(server)
        for engine in args.engines:
            try:
                out["engines"][engine] = run_engine(engine, size_dir, files, url, args, end)
            finally:
                if engine == "spark" and not args.keep:
                    shutil.rmtree(size_dir / engine / "spark", ignore_errors=True)
                save()
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    duck, spark = out["engines"].get("duckdb", {}), out["engines"].get("spark", {})
    out["spark_over_duckdb"] = {
        "load_seconds": _ratio(spark.get("load", {}).get("seconds"), duck.get("load", {}).get("seconds")),
        "dbt_seconds": _ratio(spark.get("dbt", {}).get("seconds"), duck.get("dbt", {}).get("seconds")),
        "total_seconds": _ratio(spark.get("total_seconds"), duck.get("total_seconds")),
        "peak_rss": _ratio(spark.get("peak_rss_mb"), duck.get("peak_rss_mb")),
    }
    if not args.keep:
        shutil.rmtree(size_dir, ignore_errors=True)
    return out


def growth(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """dbt µs per event at each pair of consecutive sizes, per engine, and its ratio larger / smaller."""
    rows = []

    def ok(size: dict[str, Any], engine: str) -> bool:
        run = size.get("engines", {}).get(engine, {})
        return bool(run.get("dbt")) and not run.get("error")

    for engine in ENGINES:
        done = [s for s in sizes if ok(s, engine)]
        for small, large in zip(done, done[1:], strict=False):
            row: dict[str, Any] = {"from": small["events"], "to": large["events"], "engine": engine}
            a = small["engines"][engine]["dbt"]["seconds"]
            b = large["engines"][engine]["dbt"]["seconds"]
            row.update(
                {
                    "dbt_us_per_event": [
                        round(a / small["events"] * 1e6, 1),
                        round(b / large["events"] * 1e6, 1),
                    ],
                    "us_per_event_ratio": round((b / large["events"]) / (a / small["events"]), 2),
                    # The slope between the sizes: extra seconds per extra event (fixed cost cancels out).
                    "marginal_us_per_event": round((b - a) / (large["events"] - small["events"]) * 1e6, 1),
                    "fixed_seconds_estimate": round(
                        a - (b - a) / (large["events"] - small["events"]) * small["events"], 1
                    ),
                }
            )
            rows.append(row)
    return rows


def markdown(result: dict[str, Any]) -> str:
    settings = result["settings"]
    lines = [
        "# Spark (local) vs DuckDB",
        "",
        f"Measured {result['started_at']} on {result['machine']['cpus']} cores / "
        f"{result['machine']['memory_gb']} GB (load average at start {result['machine']['load_average']}). "
        f"Spark: `{settings['spark_master']}`, driver memory {settings['driver_memory']}. "
        "Load = batch-export Parquet files (events) + demo API (persons, cohorts) + rules; "
        "dbt = `dbt build --exclude test_type:unit`. Peak = summed VmRSS of the stage's process tree "
        "(JVM included).",
        "",
        "| events | engine | load s | dbt s | total s | peak RSS MB (load / dbt) | dbt µs/event | rows out |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in result["sizes"]:
        for engine in ENGINES:
            run = size.get("engines", {}).get(engine)
            if not run:
                continue
            load, dbt = run.get("load", {}), run.get("dbt", {})
            per_event = round(dbt["seconds"] / size["events"] * 1e6, 1) if dbt else None
            status = f" ({run['error']})" if run.get("error") else ""
            lines.append(
                f"| {size['events']:,} | {engine}{status} | {load.get('seconds')} | {dbt.get('seconds')} | "
                f"{run.get('total_seconds')} | {load.get('peak_rss_mb')} / {dbt.get('peak_rss_mb')} | "
                f"{per_event} | {run.get('rows_out_fct_enriched_events')} |"
            )
    compared = [s for s in result["sizes"] if len(s.get("engines", {})) == len(ENGINES)]
    if compared:
        lines += ["", "| events | Spark ÷ DuckDB: load | dbt | total | peak RSS |", "|---|---|---|---|---|"]
    for size in compared:
        r = size.get("spark_over_duckdb", {})
        lines.append(
            f"| {size['events']:,} | {r.get('load_seconds')} | {r.get('dbt_seconds')} | "
            f"{r.get('total_seconds')} | {r.get('peak_rss')} |"
        )
    if result.get("growth"):
        lines += [
            "",
            "| sizes | engine | dbt µs/event | growth | marginal µs/event | fixed s (est.) |",
            "|---|---|---|---|---|---|",
        ]
        for g in result["growth"]:
            lines.append(
                f"| {g['from']:,} → {g['to']:,} | {g['engine']} | {g['dbt_us_per_event'][0]} → "
                f"{g['dbt_us_per_event'][1]} | ×{g['us_per_event_ratio']} | "
                f"{g['marginal_us_per_event']} | {g['fixed_seconds_estimate']} |"
            )
    return "\n".join(lines) + "\n"


def cmd_load(args: argparse.Namespace) -> int:
    """The measured load stage (run as a subprocess by the harness, settings from the environment)."""
    from ingestion.pipeline import run_batch_files_load, run_posthog_load
    from ingestion.settings import PostHogSettings, WarehouseSettings
    from rules.load import load_rules_to_warehouse
    from rules.loader import load_rules

    ws = WarehouseSettings.from_env()
    out: dict[str, Any] = {}
    started = time.perf_counter()
    files = run_batch_files_load(str(args.files), "parquet", PROJECT_ID, ws)
    out["events_seconds"] = round(time.perf_counter() - started, 2)
    out["events_loaded"] = files.events_loaded
    started = time.perf_counter()
    api = run_posthog_load(PostHogSettings.from_env(), ws, resources=NON_EVENT_RESOURCES)
    out["api_resources_seconds"] = round(time.perf_counter() - started, 2)
    out["api_rows"] = api.rows_by_table
    started = time.perf_counter()
    load_rules_to_warehouse(load_rules(Path(os.environ["RULES_DIR"])), ws)
    out["rules_seconds"] = round(time.perf_counter() - started, 2)
    args.out.write_text(json.dumps(out, default=str))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    args.engines = [e for e in args.engines.split(",") if e]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.spark_vs_duckdb " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(mem_kb / 2**20, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {
            "spark_master": args.spark_master,
            "driver_memory": args.driver_memory,
            "seed": args.seed,
            "load": "batch-export Parquet files + demo API (non-event) + rules",
            "dbt": "dbt build --exclude test_type:unit",
        },
        "sizes": [],
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.results_dir / f"{args.name}.json"

    def save() -> None:
        result["growth"] = growth(result["sizes"])
        json_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
        (args.results_dir / f"{args.name}.md").write_text(markdown(result))

    root = Path(tempfile.mkdtemp(prefix="spark_vs_duckdb_", dir=args.workdir))
    try:
        for size in sizes:
            entry: dict[str, Any] = {"events": size}
            result["sizes"].append(entry)
            entry.update(bench_size(size, args, root, save))
            save()
            log(f"{size:,}: {entry['spark_over_duckdb']}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    save()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    load = sub.add_parser("load", help="(internal) the measured load stage")
    load.add_argument("--files", type=Path, required=True)
    load.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", default="1000000,2000000", help="comma-separated event counts")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--spark-master", default=os.environ.get("SPARK_MASTER", "local[2]"))
    parser.add_argument("--driver-memory", default=os.environ.get("SPARK_DRIVER_MEMORY", "1g"))
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per stage")
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the temp run folder")
    parser.add_argument("--keep", action="store_true", help="keep warehouses, lake and logs")
    parser.add_argument("--name", default="spark_vs_duckdb")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    return cmd_load(args) if args.command == "load" else cmd_bench(args)


if __name__ == "__main__":
    sys.exit(main())
