"""Turn a benchmark result into a markdown table and a PNG chart of stage times by size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STAGE_ORDER = ("extract_load", "rules", "dbt_build", "export", "checks")


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _path_rows(label: str, key: str, sizes: dict[str, Any]) -> list[str]:
    rows = []
    for size, data in sizes.items():
        path = data.get(key) or {}
        if not path:
            continue
        stages = path.get("stages") or {}
        rows.append(
            f"| {label} | {int(size):,} | {_fmt(path.get('e2e_seconds'))} | "
            f"{_fmt(path.get('events_per_second'), 0)} | {_fmt(path.get('us_per_event'), 1)} | "
            + " | ".join(_fmt(stages.get(stage)) for stage in STAGE_ORDER)
            + f" | {_fmt(path.get('peak_rss_mb'), 0)} | {_fmt(path.get('query_requests'))} | "
            f"{_fmt((path.get('rows_out') or {}).get('fct_enriched_events'))} |"
        )
    return rows


def markdown(result: dict[str, Any]) -> str:
    """The summary table the README quotes."""
    sizes: dict[str, Any] = result.get("sizes", {})
    machine = result.get("machine") or {}
    load = "" if result.get("runs") else (
        f"; load average at start {machine.get('load_average_at_start')}, "
        f"at end {machine.get('load_average_at_end')}"
    )
    lines = [
        f"# Benchmark `{result.get('name')}`",
        "",
        f"Command: `{result.get('command')}`  ",
        f"Machine: {machine.get('cpus')} CPUs, {machine.get('memory_gb')} GB RAM; "
        f"started {result.get('started_at')}{load}",
    ]
    for run in result.get("runs") or []:
        machine = run.get("machine") or {}
        lines.append(f"- run `{run.get('command')}` started {run.get('started_at')}, load average "
                     f"{machine.get('load_average_at_start')} → {machine.get('load_average_at_end')}")
    lines += [
        "",
        "## Full builds (through Dagster)",
        "",
        "| path | events | end to end s | events/s | µs/event | "
        + " | ".join(f"{stage} s" for stage in STAGE_ORDER)
        + " | peak RSS MB (tree) | query requests | rows out |",
        "|---" * (9 + len(STAGE_ORDER)) + "|",
    ]
    lines += _path_rows("API", "api_path", sizes)
    lines += _path_rows("files", "files_path", sizes)
    lines += [
        "",
        "## Floors and ratios",
        "",
        "| events | API floor (a) s | SQL floor (b) s | API path / (a+b) | files path / (b) | "
        "incremental s | incremental / full | query requests (limit) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, data in sizes.items():
        floors = data.get("floors") or {}
        ratios = data.get("ratios") or {}
        inc = data.get("incremental") or {}
        lines.append(
            f"| {int(size):,} | {_fmt((floors.get('api') or {}).get('seconds'))} | "
            f"{_fmt((floors.get('sql') or {}).get('seconds'))} | {_fmt(ratios.get('api_vs_floor'))} | "
            f"{_fmt(ratios.get('files_vs_sql_floor'))} | {_fmt(inc.get('e2e_seconds'))} | "
            f"{_fmt(ratios.get('incremental_vs_full'), 3)} | "
            f"{_fmt((data.get('api_path') or {}).get('query_requests'))} "
            f"({_fmt(data.get('query_request_limit'))}) |"
        )
    fresh = result.get("freshness") or {}
    if fresh:
        lines += [
            "",
            "## Freshness under continuous traffic",
            "",
            f"{_fmt(fresh.get('warehouse_events'))}-event warehouse, {_fmt(fresh.get('rate_per_second'))} "
            f"events/s for {_fmt(fresh.get('seconds'))} s, mode `{fresh.get('mode')}`: "
            f"{_fmt(fresh.get('events_seen'))} of {_fmt(fresh.get('events_generated'))} live events "
            f"reached the export; lag p50 **{_fmt(fresh.get('lag_p50_s'))} s**, "
            f"p95 **{_fmt(fresh.get('lag_p95_s'))} s**, max {_fmt(fresh.get('lag_max_s'))} s "
            f"({_fmt(fresh.get('runs'))} runs, mean run {_fmt(fresh.get('mean_run_seconds'))} s, "
            f"sensor interval {_fmt(fresh.get('interval_seconds'))} s).",
        ]
    lines += ["", "## Context size (prompt_text vs full JSON context, per person)", ""]
    lines += [
        "| events | persons | prompt bytes p50 | JSON bytes p50 | bytes ratio p50 / p95 / max | "
        "tokens ratio p50 | share ≤ 1/4 | persons with omissions | persons with shortened labels |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, data in sizes.items():
        ctx = data.get("context_size") or {}
        if not ctx.get("persons"):
            continue
        br, tr = ctx.get("bytes_ratio", {}), ctx.get("tokens_ratio", {})
        lines.append(
            f"| {int(size):,} | {_fmt(ctx.get('persons'))} | {_fmt(ctx['prompt_bytes'].get('p50'), 0)} | "
            f"{_fmt(ctx['json_bytes'].get('p50'), 0)} | {_fmt(br.get('p50'), 3)} / "
            f"{_fmt(br.get('p95'), 3)} / {_fmt(br.get('max'), 3)} | {_fmt(tr.get('p50'), 3)} | "
            f"{_fmt(ctx.get('share_within_quarter'), 3)} | {_fmt(ctx.get('persons_with_omissions'))} | "
            f"{_fmt(ctx.get('persons_with_truncated_labels'))} |"
        )
    targets = result.get("targets") or {}
    if targets:
        lines += ["", "## Targets (issue 8)", "", "| target | measured | met |", "|---|---|---|"]
        for name, target in targets.items():
            lines.append(f"| {name} | {target.get('measured')} | {_fmt(target.get('met'))} |")
    notes = list(result.get("notes") or [])
    for size, data in sizes.items():
        for part, error in (data.get("errors") or {}).items():
            notes.append(f"{int(size):,} events, {part} failed: {error.splitlines()[0][:300]}")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def chart(result: dict[str, Any], path: Path) -> Path | None:
    """Stacked bars of stage seconds for each path and size (log-free, one bar per path×size)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars: list[tuple[str, dict[str, float]]] = []
    for size, data in result.get("sizes", {}).items():
        for key, label in (("api_path", "API"), ("files_path", "files"), ("incremental", "incr.")):
            stages = (data.get(key) or {}).get("stages")
            if stages:
                bars.append((f"{label}\n{int(size):,}", stages))
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(bars)), 4.5))
    bottoms = [0.0] * len(bars)
    for stage in STAGE_ORDER:
        heights = [stages.get(stage, 0.0) for _, stages in bars]
        if not any(heights):
            continue
        ax.bar(range(len(bars)), heights, bottom=bottoms, label=stage)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_xticks(range(len(bars)), [label for label, _ in bars], fontsize=8)
    ax.set_ylabel("seconds")
    ax.set_title("Stage wall time by path and size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def merge(results: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """Combine runs of different sizes (e.g. 100k earlier, 1M later) into one result, newest wins."""
    merged: dict[str, Any] = {"name": name, "sizes": {}, "notes": [], "runs": []}
    for result in sorted(results, key=lambda r: r.get("started_at", "")):
        merged["runs"].append({k: result.get(k) for k in ("name", "command", "started_at", "finished_at",
                                                          "machine")})
        merged["sizes"].update(result.get("sizes", {}))
        if result.get("freshness"):
            merged["freshness"] = result["freshness"]
        merged["notes"] += result.get("notes") or []
        merged.setdefault("machine", result.get("machine"))
    merged["sizes"] = dict(sorted(merged["sizes"].items(), key=lambda kv: int(kv[0])))
    merged["command"] = " ; ".join(run["command"] or "" for run in merged["runs"])
    merged["started_at"] = merged["runs"][0]["started_at"] if merged["runs"] else None
    return merged


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.report merge --name N a.json b.json`: one JSON, summary and chart."""
    import argparse

    import orjson

    from benchmarks.run import RESULTS_DIR, evaluate_targets, write_outputs

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("action", choices=["merge"])
    parser.add_argument("--name", required=True)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("inputs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    result = merge([orjson.loads(p.read_bytes()) for p in args.inputs], args.name)
    result["targets"] = evaluate_targets(result)
    for path in write_outputs(result, args.results_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
