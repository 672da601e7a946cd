"""The benchmark harness end to end on a tiny data set: real demo API, a real Dagster run, real files.

One pipeline run (API path) keeps it short; the files path, incremental run and freshness loop use the
same code and are exercised by the real benchmark (`python -m benchmarks.run`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_reports_data_derived_figures(tmp_path: Path) -> None:
    results = tmp_path / "results"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--sizes", "2000", "--quick", "--name", "smoke",
         "--paths", "api", "--skip-incremental", "--freshness-seconds", "0",
         "--results-dir", str(results), "--workdir", str(tmp_path / "work")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads((results / "smoke.json").read_text())
    size = result["sizes"]["2000"]
    assert not size.get("errors"), size.get("errors")
    generated = size["events_generated"]
    assert generated == 2000

    api = size["api_path"]
    rows = api["rows_out"]
    assert rows["fct_enriched_events"] == generated - rows["quarantined"]
    assert rows["raw_distinct_uuids"] == rows["raw_events"] == generated - rows["quarantined"]
    assert rows["user_context"] > 0
    assert api["events_per_second"] > 0 and api["peak_rss_mb"] > 0
    assert {"extract_load", "dbt_build", "export"} <= set(api["stages"])
    # One page of events plus persons and distinct ids: within the request budget.
    assert 1 <= api["query_requests"] <= size["query_request_limit"]

    # The bare client pages every event and the SQL floor sees every event of the files.
    assert size["floors"]["api"]["rows"] == generated
    assert size["floors"]["sql"]["events"] == generated
    assert size["ratios"] and all(r is not None and r > 0 for r in size["ratios"].values())

    context = size["context_size"]
    assert context["persons"] == rows["user_context"]
    assert 0 < context["bytes_ratio"]["p50"] < 1

    summary = (results / "summary.md").read_text()
    assert "| API | 2,000 |" in summary
    assert (results / "stage_times.png").stat().st_size > 1000
