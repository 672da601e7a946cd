"""Optional sampling profile of a measured run with py-spy (raw collapsed stacks), and a short summary.

py-spy samples from outside the process without pausing it (`--nonblocking`), at a low rate, so the
run's timings move by a percent or so. The summary names the functions holding the most samples, per
process command (the worker, dbt), which is what the report quotes when a target is missed.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

RATE = 10


def py_spy() -> str | None:
    """The py-spy binary next to this interpreter or on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def wrap(command: list[str], out: Path) -> list[str]:
    """`command` run under py-spy when available; unchanged otherwise."""
    binary = py_spy()
    if not binary:
        return command
    return [binary, "record", "--nonblocking", "--subprocesses", "--rate", str(RATE), "--format", "raw",
            "-o", str(out), "--", *command]


# Area of a sample: the first frame, walking from the leaf to the root, that matches one of these.
_AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dagster event log (sqlite)", ("sqlalchemy/", "sqlite")),
    ("dbt: SQL running in DuckDB", ("DuckDBCursorWrapper.execute", "dbt/adapters/duckdb/connections")),
    ("python imports", ("<frozen importlib",)),
    ("ingestion (project code)", ("ingestion/",)),
    ("dlt", ("dlt/",)),
    ("export writer", ("serving/",)),
    ("rules loader", ("rules/",)),
    ("dbt framework (parse, jinja, graph)", ("dbt/", "jinja2/", "mashumaro/", "dbt_common/")),
    ("dagster / dagster-dbt", ("dagster",)),
    ("benchmark worker", ("benchmarks/",)),
)


def _area(funcs: list[str]) -> str:
    for frame in reversed(funcs):
        for area, needles in _AREAS:
            if any(needle in frame for needle in needles):
                return area
    return "other"


def _process_label(frame: str) -> str:
    text = frame.split(":", 1)[1] if ":" in frame else frame
    text = text.strip('"').replace(sys.executable, "python")
    if " -m benchmarks.worker" in text:
        return "pipeline worker"
    if "dbt" in text:
        return "dbt"
    return text[:60]


def summarize(raw: Path, top: int = 15) -> dict[str, Any]:
    """Samples per process and the top functions by inclusive and by self samples."""
    if not raw.exists():
        return {}
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    per_process: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        # py-spy nests a child's stacks under a "process <pid>:<cmd>" frame: the last one owns the sample.
        owners = [f for f in frames if f.startswith("process ")]
        per_process[_process_label(owners[-1]) if owners else "?"] += count
        funcs = [f for f in frames if not f.startswith("process ")]
        areas[_area(funcs)] += count
        for name in set(funcs):
            inclusive[name] += count
        if funcs:
            self_time[funcs[-1]] += count

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"function": name[:160], "share": round(n / total, 3)}
                for name, n in counter.most_common(top)]

    interesting = Counter({k: v for k, v in inclusive.items()
                           if not k.startswith(("<module>", "_run_module_as_main", "_run_code", "main ("))})
    return {
        "samples": total,
        "rate_hz": RATE,
        "per_process": {k: round(v / total, 3) for k, v in per_process.most_common(8)} if total else {},
        "by_area": {k: round(v / total, 3) for k, v in areas.most_common()} if total else {},
        "top_inclusive": share(interesting),
        "top_self": share(self_time),
    }
