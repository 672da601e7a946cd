"""Run the real dbt project against a warehouse in a temp dir, for tests (and the benchmarks).

dbt runs as a subprocess with its target/log folders inside the test's temp dir, so parallel test
sessions and the developer's own `dbt_project/target` never collide.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.conftest import DRONE_SHOP_EXPORT  # one definition of the export path and its setting

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT = REPO_ROOT / ".venv" / "bin" / "dbt"
RULES_DIR = REPO_ROOT / "rules"


@dataclass
class DbtResult:
    """What a dbt invocation did: exit code, output and the per-node results."""

    args: list[str]
    returncode: int
    output: str
    seconds: float
    results: list[dict[str, Any]] = field(default_factory=list)

    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r.get("status") in ("error", "fail", "runtime error")]


def dbt_env(work_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a dbt subprocess whose artifacts stay in `work_dir`."""
    env = dict(os.environ)
    env.update({
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "DBT_TARGET_PATH": str(work_dir / "dbt_target"),
        "DBT_LOG_PATH": str(work_dir / "dbt_logs"),
        "DBT_USE_COLORS": "false",
        "DBT_PRINTER_WIDTH": "120",
    })
    if extra:
        env.update(extra)
    return env


def run_dbt(args: Sequence[str], env: Mapping[str, str], check: bool = True) -> DbtResult:
    """Run `dbt <args>` on the project; with check=True a failure raises with dbt's output."""
    cmd = [str(DBT), *args, "--profiles-dir", str(PROJECT_DIR), "--project-dir", str(PROJECT_DIR)]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=dict(env), capture_output=True, text=True, cwd=REPO_ROOT)
    seconds = time.monotonic() - started
    results: list[dict[str, Any]] = []
    run_results = Path(env["DBT_TARGET_PATH"]) / "run_results.json"
    if run_results.exists() and run_results.stat().st_mtime >= time.time() - seconds - 1:
        results = json.loads(run_results.read_text()).get("results", [])
    result = DbtResult(list(args), proc.returncode, proc.stdout + proc.stderr, seconds, results)
    if check and proc.returncode != 0:
        tail = "\n".join(result.output.splitlines()[-80:])
        raise AssertionError(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return result


def load_raw(ws: Any, export: Path = DRONE_SHOP_EXPORT, project_id: int = 1) -> None:
    """Load a PostHog JSON export and the default rules with the project's own loaders."""
    from ingestion.batch_files import load_json_export
    from rules.load import load_rules_to_warehouse
    from rules.loader import load_rules

    load_json_export(export, project_id, ws)
    load_rules_to_warehouse(load_rules(RULES_DIR), ws)


def duckdb_workspace(tmp_path_factory: Any, name: str) -> tuple[Path, Path, Any, dict[str, str]]:
    """A temp folder, its DuckDB warehouse path and settings, and the dbt environment that builds it."""
    from ingestion.settings import WarehouseSettings

    work = tmp_path_factory.mktemp(name)
    db_path = work / "warehouse.duckdb"
    ws = WarehouseSettings(kind="duckdb", duckdb_path=db_path)
    return work, db_path, ws, dbt_env(work, {"WAREHOUSE": "duckdb", "DUCKDB_PATH": str(db_path)})


def write_export(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows in the shape of the drone-shop SQL export (naive UTC timestamps; a uuid only when the
    row names one, otherwise the loader derives it from the content)."""
    def naive(ts: datetime | str) -> str:
        if isinstance(ts, str):
            return ts
        return ts.strftime("%Y-%m-%d %H:%M:%S.%f")

    shaped = []
    for row in rows:
        shaped.append({
            "event": row["event"],
            "timestamp": naive(row["timestamp"]),
            "distinct_id": row["distinct_id"],
            "person_id": row.get("person_id"),
            "created_at": naive(row.get("created_at") or row["timestamp"]),
            "elements_chain": row.get("elements_chain", ""),
            "properties": row.get("properties", {}),
            **({"uuid": row["uuid"]} if row.get("uuid") else {}),
        })
    path.write_text(json.dumps(shaped))
    return path
