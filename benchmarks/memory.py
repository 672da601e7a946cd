"""Peak resident memory of a whole process tree, sampled from /proc.

`/usr/bin/time` reports only the largest single process; dbt and DuckDB may run in children, so the
benchmark sums VmRSS over the root and every descendant at each tick and keeps the highest sum.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PROC = Path("/proc")


def _children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids for every live process (one read of each /proc/<pid>/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; fields after it are stable.
        after = stat[stat.rfind(")") + 2 :].split()
        if len(after) < 2:
            continue
        children.setdefault(int(after[1]), []).append(int(entry.name))
    return children


def tree_pids(root: int) -> list[int]:
    """The root pid and all its live descendants."""
    children = _children_map()
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


def rss_bytes(pid: int) -> int:
    """VmRSS of one process in bytes; 0 when it is gone or a zombie."""
    try:
        for line in Path(PROC, str(pid), "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


def _short_command(pid: int) -> str:
    try:
        raw = Path(PROC, str(pid), "cmdline").read_bytes()
    except OSError:
        return f"pid {pid} (gone)"
    parts = [p.decode(errors="replace") for p in raw.split(b"\0") if p]
    text = " ".join(Path(parts[0]).name if i == 0 else part for i, part in enumerate(parts))
    return text[:120]


def tree_rss_bytes(root: int) -> int:
    """Sum of VmRSS over the tree rooted at `root`."""
    return sum(rss_bytes(pid) for pid in tree_pids(root))


class TreeMemorySampler:
    """Background thread keeping the peak of the summed RSS of a process tree.

    Use as a context manager around the work; `root` defaults to this process. The pid can be changed
    while running (`watch(pid)`) so one sampler can follow successive worker subprocesses.
    """

    def __init__(self, root: int | None = None, interval: float = 0.1) -> None:
        self.root = root if root is not None else os.getpid()
        self.interval = interval
        self.peak_bytes = 0
        self.peak_processes = 0
        self.peak_breakdown: list[tuple[str, int]] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def watch(self, pid: int) -> None:
        self.root = pid

    def sample_once(self) -> int:
        pids = tree_pids(self.root)
        sizes = [(pid, rss_bytes(pid)) for pid in pids]
        total = sum(size for _, size in sizes)
        self.samples += 1
        if total > self.peak_bytes:
            self.peak_bytes = total
            self.peak_processes = len(pids)
            self.peak_breakdown = [(_short_command(pid), size) for pid, size in sizes if size > 20 * 2**20]
        return total

    def breakdown(self) -> list[dict[str, object]]:
        """Processes holding > 20 MB at the peak: short command line and MB."""
        rows = []
        for command, size in sorted(self.peak_breakdown, key=lambda item: -item[1]):
            rows.append({"command": command, "rss_mb": round(size / 2**20, 1)})
        return rows

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample_once()
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)
