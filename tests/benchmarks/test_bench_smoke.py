"""The benchmark harness end to end on a tiny data set: real demo API, real Dagster runs, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_reports_data_derived_figures(tmp_path: Path) -> None:
    results = tmp_path / "results"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--sizes",
            "2000",
            "--quick",
            "--name",
            "smoke",
            "--results-dir",
            str(results),
            "--workdir",
            str(tmp_path / "work"),
            "--freshness-seconds",
            "0",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads((results / "smoke.json").read_text())
    size = result["sizes"]["2000"]
    generated = size["events_generated"]
    assert generated >= 1500

    for key in ("api_path", "files_path"):
        path = size[key]
        rows = path["rows_out"]
        assert rows["fct_enriched_events"] == generated - rows["quarantined"], key
        assert rows["user_context"] and rows["user_context"] > 0, key
        assert path["events_per_second"] > 0 and path["peak_rss_mb"] > 0, key
        assert path["stages"], key

    # Every event is paged by the bare client, and the SQL floor sees every event too.
    assert size["floors"]["api"]["rows"] == generated
    assert size["floors"]["sql"]["events"] == generated
    assert size["api_path"]["query_requests"] >= 1

    for name, ratio in size["ratios"].items():
        assert ratio is not None and ratio > 0, name
    incremental = size["incremental"]
    assert incremental["raw_events_gained"] == incremental["events_added"]["total"]

    context = size["context_size"]
    assert context["persons"] == size["api_path"]["rows_out"]["user_context"]
    assert 0 < context["bytes_ratio"]["p50"] < 1

    assert (results / "summary.md").read_text().count("|") > 20
    assert (results / "stage_times.png").stat().st_size > 1000
