"""`python -m rules check|load` as a user runs it: summary and exit 0, or every problem and exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rules", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_check_default_rules_prints_a_summary() -> None:
    result = run("check")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "patterns.yaml:" in result.stdout and "privacy.yaml:" in result.stdout


def test_check_reports_every_problem_and_fails(rules_dir: Path) -> None:
    (rules_dir / "patterns.yaml").write_text(
        "patterns:\n  - {code: x, severity: SOMETIMES, description: d, time_window_minutes: -1}\n",
        encoding="utf-8",
    )
    (rules_dir / "pages.yaml").write_text("pages:\n  - {equals: nope, name: n}\n", encoding="utf-8")
    result = run("check", str(rules_dir))
    assert result.returncode == 1
    assert "3 problem(s)" in result.stderr
    assert "patterns.yaml:2, pattern 'x' (patterns[0]), key 'severity'" in result.stderr
    assert "key 'time_window_minutes'" in result.stderr
    assert "pages.yaml:2, page rule 'nope' (pages[0]), key 'equals'" in result.stderr


def test_load_uses_rules_dir_and_duckdb_path_from_env(rules_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "w" / "warehouse.duckdb"
    result = run("load", env={"RULES_DIR": str(rules_dir), "DUCKDB_PATH": str(db), "WAREHOUSE": "duckdb"})
    assert result.returncode == 0, result.stderr
    assert str(rules_dir) in result.stdout and "pattern_rules=" in result.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from posthog_rules.pattern_rules").fetchone()[0] >= 10


def test_strict_turns_warnings_into_failure(rules_dir: Path) -> None:
    (rules_dir / "privacy.yaml").write_text("redact:\n  name: person name\n", encoding="utf-8")
    assert run("check", str(rules_dir)).returncode == 0
    strict = run("check", "--strict", str(rules_dir))
    assert strict.returncode == 1 and "redacted property 'name'" in strict.stdout
