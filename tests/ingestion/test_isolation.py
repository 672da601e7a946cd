"""Loads run in a child process: results, errors and the switch behave as the caller expects."""

from __future__ import annotations

import os

import pytest

from ingestion.isolation import isolation_enabled, run_in_child
from ingestion.settings import SettingsError


def test_child_runs_in_another_process_and_returns_its_result() -> None:
    assert run_in_child(os.getpid) != os.getpid()
    assert run_in_child(divmod, 17, 5) == (3, 2)


def test_child_error_is_raised_here_with_its_type_and_message() -> None:
    with pytest.raises(ValueError, match="invalid literal for int"):
        run_in_child(int, "not a number")


def test_child_that_dies_without_answering_names_its_exit_code() -> None:
    with pytest.raises(RuntimeError, match="exited with code 3"):
        run_in_child(os._exit, 3)


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("true", True), ("0", False), ("off", False)])
def test_switch(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool) -> None:
    if value is None:
        monkeypatch.delenv("LOAD_IN_SUBPROCESS", raising=False)
    else:
        monkeypatch.setenv("LOAD_IN_SUBPROCESS", value)
    assert isolation_enabled() is expected


def test_bad_switch_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAD_IN_SUBPROCESS", "sometimes")
    with pytest.raises(SettingsError, match="LOAD_IN_SUBPROCESS='sometimes'"):
        isolation_enabled()


def test_child_dies_when_the_process_that_started_it_is_killed() -> None:
    """A killed orchestrator must not leave its load running as an orphan."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    from benchmarks.memory import rss_bytes, tree_pids

    repo = Path(__file__).resolve().parents[2]
    code = "import time; from ingestion.isolation import run_in_child; run_in_child(time.sleep, 60)"
    runner = subprocess.Popen([sys.executable, "-c", code], cwd=repo)
    try:
        deadline = time.monotonic() + 30
        while len(tree_pids(runner.pid)) < 2:
            assert time.monotonic() < deadline, "the load child never started"
            time.sleep(0.1)
        time.sleep(1.0)  # past the child's start-up, inside time.sleep(60)
        children = tree_pids(runner.pid)[1:]
        runner.kill()
        runner.wait(10)
        deadline = time.monotonic() + 10
        while any(rss_bytes(pid) for pid in children):  # 0 once gone or a zombie
            assert time.monotonic() < deadline, f"load child {children} outlived its killed parent"
            time.sleep(0.1)
    finally:
        if runner.poll() is None:
            runner.kill()
