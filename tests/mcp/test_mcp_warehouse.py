"""End to end: the real pipeline builds a warehouse and an export from the bundled demo PostHog; the MCP
server's answers (over stdio) must agree with `analytics.user_context` in that warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from mcp_clients import REPO_ROOT, stdio_session, text_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """Run `posthog-context run` once on a small demo data set; yield (warehouse file, export dir)."""
    root = tmp_path_factory.mktemp("mcp_warehouse")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("POSTHOG_", "DAGSTER_HOME"))},
        "DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "EXPORT_DIR": str(root / "export"),
        "RULES_DIR": str(REPO_ROOT / "rules"),
        "DEMO_USERS": "40",
        "DEMO_DAYS": "2",
        "PYTHONPATH": str(REPO_ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0 or not (root / "export" / "current").exists():
        errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "error" in line.lower()]
        pytest.fail(f"the demo pipeline produced no export: {' | '.join(errors[-3:])[:500]}")
    yield root / "warehouse.duckdb", root / "export"


def _warehouse_rows(path: Path) -> dict[str, dict[str, Any]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute("select * from analytics.user_context")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    out = {}
    for row in rows:
        for col in ("distinct_ids", "recent_events", "patterns", "cohorts"):
            value = row.get(col)
            row[col] = json.loads(value) if isinstance(value, str) and value else (value or [])
        out[str(row["person_id"])] = row
    return out


def test_mcp_answers_match_the_warehouse(demo_pipeline: tuple[Path, Path], tmp_path: Path) -> None:
    warehouse, export = demo_pipeline
    rows = _warehouse_rows(warehouse)
    assert rows, "analytics.user_context is empty"

    expected_patterns: dict[str, int] = {}
    expected_cohorts: dict[str, int] = {}
    for row in rows.values():
        for code in {p["code"] for p in row["patterns"]}:
            expected_patterns[code] = expected_patterns.get(code, 0) + 1
        for cid in {str(c["id"]) for c in row["cohorts"]}:
            expected_cohorts[cid] = expected_cohorts.get(cid, 0) + 1

    async def run() -> None:
        async with stdio_session(export, tmp_path / "server.log") as session:
            for person_id, row in list(rows.items())[:40]:
                for user_id in [person_id, *[str(d) for d in row["distinct_ids"][:2]]]:
                    res = await session.call_tool("get_user_context", {"user_id": user_id, "format": "json"})
                    assert not res.is_error, text_of(res)
                    got = res.structured_content
                    assert got["person_id"] == person_id
                    want_events = row["recent_events"][:20]
                    assert [e.get("uuid") for e in got["recent_events"]] == [
                        e.get("uuid") for e in want_events
                    ]
                    assert [e.get("label") for e in got["recent_events"]] == [
                        e.get("label") for e in want_events
                    ]
                    assert got["last_session_summary"] == row["last_session_summary"]
                    assert sorted(p["code"] for p in got["patterns"]) == sorted(
                        p["code"] for p in row["patterns"]
                    )
                    assert sorted(str(c["id"]) for c in got["cohorts"]) == sorted(
                        str(c["id"]) for c in row["cohorts"]
                    )
                res = await session.call_tool("get_user_context", {"user_id": person_id})
                assert not res.is_error
                if row.get("prompt_text"):
                    assert res.structured_content["prompt_text"] == row["prompt_text"]
                for code in {p["code"] for p in row["patterns"]}:
                    res = await session.call_tool("explain_pattern", {"user_id": person_id, "code": code})
                    assert not res.is_error, text_of(res)
                    want = [
                        e["uuid"]
                        for p in row["patterns"]
                        if p["code"] == code
                        for e in p.get("evidence") or []
                    ]
                    got_ids = [e["uuid"] for o in res.structured_content["occurrences"] for e in o["events"]]
                    assert got_ids == want
            res = await session.call_tool("list_patterns", {})
            assert {
                p["code"]: p["member_count"] for p in res.structured_content["patterns"]
            } == expected_patterns
            res = await session.call_tool("list_cohorts", {})
            assert {
                str(c["id"]): c["member_count"] for c in res.structured_content["cohorts"]
            } == expected_cohorts
            for code, count in expected_patterns.items():
                res = await session.call_tool("find_users", {"pattern": code, "limit": 500})
                assert res.structured_content["count"] == min(count, 500)

    anyio.run(run)
