"""Start a measured subprocess, follow its memory, and collect its JSON answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks.memory import TreeMemorySampler

QUIET_ENV = {
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DAGSTER_DISABLE_TELEMETRY": "1",
}

# Settings from the caller's shell that would point the measured run somewhere else.
_DROP_ENV = ("POSTHOG_HOST", "POSTHOG_PERSONAL_API_KEY", "POSTHOG_PROJECT_ID", "BATCH_EXPORT_URL",
             "WAREHOUSE", "DUCKDB_PATH", "EXPORT_DIR", "DAGSTER_HOME")


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _DROP_ENV}
    env.update(QUIET_ENV)
    env.update(extra)
    repo = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class MeasuredProcess:
    """A Python module run as a subprocess with its process tree's peak RSS sampled."""

    def __init__(self, module: str, args: list[str], env: dict[str, str], log_path: Path,
                 cwd: Path | None = None, profile_to: Path | None = None) -> None:
        self.module, self.args, self.env, self.log_path, self.cwd = module, args, env, log_path, cwd
        self.profile_to = profile_to
        self.process: subprocess.Popen[bytes] | None = None
        self.sampler: TreeMemorySampler | None = None
        self.started = 0.0
        self.seconds = 0.0

    def start(self) -> MeasuredProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.started = time.perf_counter()
        command = [sys.executable, "-m", self.module, *self.args]
        if self.profile_to is not None:
            from benchmarks.profiling import wrap

            command = wrap(command, self.profile_to)
        self.process = subprocess.Popen(
            command,
            env=self.env, stdout=subprocess.PIPE, stderr=log, cwd=self.cwd,
        )
        log.close()
        self.sampler = TreeMemorySampler(self.process.pid).__enter__()
        return self

    def wait(self, timeout: float | None = None) -> tuple[int, bytes]:
        assert self.process is not None and self.sampler is not None
        out, _ = self.process.communicate(timeout=timeout)
        self.seconds = time.perf_counter() - self.started
        self.sampler.__exit__(None, None, None)
        return self.process.returncode, out

    @property
    def peak_rss_mb(self) -> float:
        return self.sampler.peak_mb if self.sampler else 0.0

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def run_json_module(module: str, args: list[str], env: dict[str, str], log_path: Path,
                    timeout: float | None = None) -> dict[str, Any]:
    """Run a module that prints one JSON object on stdout; add process seconds and peak tree RSS."""
    proc = MeasuredProcess(module, args, env, log_path).start()
    code, out = proc.wait(timeout)
    if code != 0:
        raise RuntimeError(f"{module} exited {code}; log {log_path}:\n{proc.log_tail()}")
    result = orjson.loads(out.strip().splitlines()[-1])
    result["process_seconds"] = round(proc.seconds, 3)
    result["peak_rss_mb"] = proc.peak_rss_mb
    return result
