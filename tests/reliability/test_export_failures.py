"""Disk full and a read-only export folder while publishing the context built from a real warehouse:
the failure is clear, the previous version stays `current` and `ExportStore` keeps serving it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingestion.warehouse import read_table
from serving.export_writer import ExportError, write_export
from serving.store import ExportStore


def _mount(args: list[str]) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (root only); skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if not _mount(["-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)]):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _context(hostile_build):
    table = read_table(hostile_build.ws, "SELECT * FROM analytics.user_context")
    assert table.num_rows > 0
    return table


def _publish(table, export_dir: Path, as_of: datetime) -> dict:
    return write_export(table, export_dir, redact_keys={"email"}, as_of=as_of, keep_versions=3)


def _served(export_dir: Path, person: str) -> tuple[str, dict | None]:
    snapshot = ExportStore(export_dir).snapshot()
    return snapshot.as_of_iso, snapshot.get(person)


def test_disk_full_keeps_serving_the_previous_export(hostile_build, small_disk: Path) -> None:
    table = _context(hostile_build)
    person = table["person_id"][0].as_py()
    export_dir = small_disk / "export"
    first = datetime(2026, 11, 23, 12, tzinfo=UTC)
    _publish(table, export_dir, first)
    as_of, row = _served(export_dir, person)
    assert row is not None
    # Fill the disk so the next version cannot be written.
    filler = small_disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    with pytest.raises(ExportError, match="disk full"):
        _publish(table, export_dir, first + timedelta(hours=1))
    assert _served(export_dir, person) == (as_of, row)
    assert not list(export_dir.glob(".tmp-*"))  # no half-written version left behind
    manifest = json.loads((export_dir / "current" / "manifest.json").read_text())
    assert manifest["row_count"] == table.num_rows
    # Space back: the next export goes through.
    filler.unlink()
    _publish(table, export_dir, first + timedelta(hours=2))
    assert _served(export_dir, person)[0] != as_of


def test_read_only_export_folder_keeps_serving_the_previous_export(hostile_build, small_disk: Path) -> None:
    table = _context(hostile_build)
    person = table["person_id"][0].as_py()
    export_dir = small_disk / "export"
    first = datetime(2026, 11, 23, 12, tzinfo=UTC)
    _publish(table, export_dir, first)
    before = os.readlink(export_dir / "current")
    as_of, row = _served(export_dir, person)
    assert _mount(["-o", "remount,ro", str(small_disk)])
    try:
        with pytest.raises(ExportError) as info:
            _publish(table, export_dir, first + timedelta(hours=1))
        assert str(export_dir) in str(info.value) and "not writable" in str(info.value)
        assert os.readlink(export_dir / "current") == before
        assert _served(export_dir, person) == (as_of, row)
    finally:
        assert _mount(["-o", "remount,rw", str(small_disk)])
    _publish(table, export_dir, first + timedelta(hours=1))
    assert os.readlink(export_dir / "current") != before
