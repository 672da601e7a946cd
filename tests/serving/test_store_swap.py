"""A reader during export swaps sees one whole version at a time, never a mix.

Writers publish versions through the real export writer (which also prunes old versions) while reader
threads keep asking the same ExportStore. Every version is self-describing: its row count, every
row's context_as_of and each prompt_text name the version's as-of time, so a mix would show.
"""

from __future__ import annotations

import sys
import threading
from datetime import timedelta
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1] / "mcp")]

import pyarrow as pa  # noqa: E402
from sample_export import AS_OF, CONTEXT_SCHEMA, sample_rows  # noqa: E402

from serving.export_writer import write_export  # noqa: E402
from serving.store import ExportStore  # noqa: E402

VERSIONS = 12


def _version_table(k: int) -> pa.Table:
    """Version k: as_of = AS_OF + k minutes, 1 + k % 4 people, prompt texts tagged with k."""
    as_of = AS_OF + timedelta(minutes=k)
    rows = sample_rows(as_of)[: 1 + k % 4]
    for row in rows:
        row["prompt_text"] = f"version {k}: {row['prompt_text']}"
    return pa.Table.from_pylist(rows, schema=CONTEXT_SCHEMA)


def test_concurrent_reads_during_swaps_see_whole_versions(tmp_path: Path) -> None:
    export = tmp_path / "export"
    write_export(_version_table(0), export, redact_keys={"email"}, as_of=AS_OF, keep_versions=2)
    store = ExportStore(export, check_interval_ms=0)
    stop = threading.Event()
    problems: list[str] = []
    seen_versions: set[int] = set()

    def reader() -> None:
        while not stop.is_set():
            snap = store.snapshot()
            k = int((snap.as_of - AS_OF).total_seconds() // 60)
            seen_versions.add(k)
            if snap.row_count != 1 + k % 4:
                problems.append(f"version {k} has {snap.row_count} rows")
            for user in snap.find_users(limit=10):
                ctx = snap.get(user["person_id"])
                if ctx is None or ctx["context_as_of"] != snap.as_of_iso:
                    problems.append(f"version {k}: row from another version {ctx and ctx['context_as_of']}")
                elif not ctx["prompt_text"].startswith(f"version {k}:"):
                    problems.append(f"version {k}: prompt from another version")

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for k in range(1, VERSIONS + 1):
            write_export(
                _version_table(k),
                export,
                redact_keys={"email"},
                as_of=AS_OF + timedelta(minutes=k),
                keep_versions=2,
            )
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not problems, problems[:5]
    assert store.snapshot().as_of == AS_OF + timedelta(minutes=VERSIONS)
    assert len(seen_versions) >= 2
    # keep_versions=2 pruned the older folders; the store never needed them again
    assert len(list((export / "versions").iterdir())) <= 2
