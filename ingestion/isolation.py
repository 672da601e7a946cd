"""Run one load in a short-lived child process, so its memory is gone when the load is.

A load decodes pages into Arrow, normalizes and writes them; at 1M events that takes ~1.1 GB, and
a process keeps most of it (allocator arenas, DuckDB's and pyarrow's pools) after the load returns,
even after `release_memory`: measured 650 MB -> 383 MB, not back to the 157 MB it started at. The
orchestrator then starts dbt as its child, so that residue adds to dbt's peak. A child process
hands every byte back when it exits. LOAD_IN_SUBPROCESS=false keeps loads in the calling process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

ENV_FLAG = "LOAD_IN_SUBPROCESS"
_CHILD_MARKER = "_POSTHOG_CONTEXT_LOAD_CHILD"
_PR_SET_PDEATHSIG = 1


def isolation_enabled() -> bool:
    """Loads run in a child unless switched off, or unless this already is that child."""
    if os.environ.get(_CHILD_MARKER):
        return False
    value = (os.environ.get(ENV_FLAG) or "true").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    from ingestion.settings import SettingsError

    raise SettingsError(f"{ENV_FLAG}={value!r}: use true or false")


def _die_with_parent(parent_pid: int) -> None:
    """A load must not outlive the run that started it (a killed orchestrator would otherwise leave an
    orphan writing to the warehouse): ask Linux for SIGKILL when the parent exits."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: nothing to ask for
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _child(conn: Any, parent_pid: int, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    _die_with_parent(parent_pid)
    os.environ[_CHILD_MARKER] = "1"
    try:
        outcome: tuple[str, Any] = ("ok", fn(*args, **kwargs))
    except BaseException as exc:  # handed to the parent, which raises it there
        try:
            import pickle

            pickle.dumps(exc)
            outcome = ("error", exc)
        except Exception:
            outcome = ("error", RuntimeError(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    conn.send(outcome)
    conn.close()


def run_in_child(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a fresh interpreter (spawn: no copied threads or locks); its result or
    its exception comes back here. A child that dies without answering is an error naming its exit code."""
    ctx = multiprocessing.get_context("spawn")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child, args=(child_conn, os.getpid(), fn, args, kwargs), name=f"load:{fn.__name__}"
    )
    proc.start()
    child_conn.close()
    try:
        outcome = parent_conn.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(
            f"the load process ({fn.__name__}) exited with code {proc.exitcode} before reporting a result"
        ) from None
    finally:
        parent_conn.close()
    proc.join()
    status, value = outcome
    if status == "error":
        raise value
    return value
