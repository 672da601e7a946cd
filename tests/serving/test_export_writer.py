"""The export writer: layout, redaction at any depth, atomic swaps under a concurrent reader, failures."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving.export_writer import ExportError, safe_file_stem, write_export


def context_table(as_of: datetime, people: int = 5, marker: str = "") -> pa.Table:
    """A user_context-shaped table; every text carries `marker` so a reader can tell versions apart."""
    rows = []
    for i in range(people):
        pid = f"person-{i}" if i != people - 1 else "weird/../id"
        events = [
            {
                "label": f"Viewed billing page {marker}",
                "event_type": "pageview",
                "timestamp": (as_of - timedelta(minutes=k)).isoformat(),
                "properties": {"email": "a@b.c", "plan": "pro", "nested": {"Email": "x@y.z", "ok": 1}},
            }
            for k in range(3)
        ]
        rows.append(
            {
                "person_id": pid,
                "project_id": 1,
                "distinct_ids": json.dumps([f"anon-{i}", f"user-{i}@example.com"]),
                "recent_events": json.dumps(events),
                "last_session_summary": f"Viewed billing {marker}",
                "patterns": json.dumps(
                    [{"code": "billing_hesitation", "severity": "MEDIUM", "evidence": []}]
                ),
                "cohorts": json.dumps([{"id": "7", "name": "Power users"}]),
                "last_seen": as_of,
                "context_as_of": as_of,
                "prompt_text": f"User {pid} as of {marker}",
                "email": "top-level@example.com",
            }
        )
    return pa.Table.from_pylist(rows)


def test_layout_manifest_and_redaction(tmp_path: Path) -> None:
    as_of = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    manifest = write_export(context_table(as_of), tmp_path, redact_keys={"EMAIL"}, as_of=as_of)
    current = tmp_path / "current"
    assert current.is_symlink() and os.readlink(current).startswith("versions/")
    version = current.resolve()
    assert manifest["row_count"] == 5 and manifest["schema_version"] == 1
    assert manifest["as_of"] == "2026-11-23T18:00:00Z"
    on_disk = json.loads((version / "manifest.json").read_text())
    assert on_disk["row_count"] == 5 and on_disk["redacted_keys"] == ["email"]
    assert {p.name for p in version.iterdir()} == {
        "manifest.json",
        "user_context.parquet",
        "user_context.jsonl",
        "persons",
        "distinct_ids.parquet",
    }
    table = pq.read_table(version / "user_context.parquet")
    assert table.num_rows == 5 and "email" not in table.column_names
    lines = (version / "user_context.jsonl").read_text().splitlines()
    assert len(lines) == 5
    first = json.loads(lines[0])
    assert isinstance(first["recent_events"], list)
    assert first["recent_events"][0]["properties"] == {"plan": "pro", "nested": {"ok": 1}}
    # nothing redacted survives anywhere on disk
    for path in version.rglob("*"):
        if path.is_file():
            assert b"a@b.c" not in path.read_bytes() and b"x@y.z" not in path.read_bytes()
            assert b"top-level@example.com" not in path.read_bytes()
    persons = sorted(p.name for p in (version / "persons").iterdir())
    assert "person-0.json" in persons and f"{safe_file_stem('weird/../id')}.json" in persons
    ids = pq.read_table(version / "distinct_ids.parquet").to_pylist()
    assert {"distinct_id": "anon-0", "person_id": "person-0", "project_id": 1} in ids
    assert len(ids) == 10


def test_old_versions_pruned_after_swap(tmp_path: Path) -> None:
    base = datetime(2026, 11, 23, tzinfo=UTC)
    for i in range(5):
        write_export(
            context_table(base + timedelta(hours=i)),
            tmp_path,
            redact_keys=set(),
            as_of=base + timedelta(hours=i),
            keep_versions=2,
        )
    versions = list((tmp_path / "versions").iterdir())
    assert len(versions) == 2
    assert (tmp_path / "current").resolve() in [v.resolve() for v in versions]
    assert not list(tmp_path.glob(".tmp-*"))


def _read_consistent(export_dir: Path) -> str:
    """Read one export through `current` the way a reader does; return its marker or raise on a mix."""
    version = (export_dir / "current").resolve()
    manifest = json.loads((version / "manifest.json").read_text())
    marker = manifest["source"]["marker"]
    table = pq.read_table(version / "user_context.parquet")
    assert table.num_rows == manifest["row_count"]
    assert set(table.column("prompt_text").to_pylist()) == {
        f"User person-{i} as of {marker}" for i in range(3)
    } | {f"User weird/../id as of {marker}"}
    for line in (version / "user_context.jsonl").read_text().splitlines():
        assert json.loads(line)["last_session_summary"] == f"Viewed billing {marker}"
    person = json.loads((version / "persons" / "person-0.json").read_text())
    assert person["prompt_text"].endswith(marker)
    return marker


def test_reader_never_sees_a_mix(tmp_path: Path) -> None:
    base = datetime(2026, 11, 23, tzinfo=UTC)
    write_export(
        context_table(base, 4, "v0"), tmp_path, redact_keys=set(), as_of=base, source={"marker": "v0"}
    )
    stop = threading.Event()
    seen: list[str] = []
    errors: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.append(_read_consistent(tmp_path))
            except FileNotFoundError:
                # a version pruned between resolve() and open(): the reader retries, it never mixes
                continue
            except BaseException as error:  # noqa: BLE001 - report to the main thread
                errors.append(error)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(1, 40):
        write_export(
            context_table(base, 4, f"v{i}"),
            tmp_path,
            redact_keys=set(),
            as_of=base + timedelta(minutes=i),
            source={"marker": f"v{i}"},
            keep_versions=3,
        )
    stop.set()
    thread.join(30)
    assert not errors, errors[0]
    assert len(seen) > 0 and len(set(seen)) > 1
    assert _read_consistent(tmp_path) == "v39"


def test_not_writable_keeps_previous_export(tmp_path: Path) -> None:
    as_of = datetime(2026, 11, 23, tzinfo=UTC)
    write_export(
        context_table(as_of, 3, "old"), tmp_path, redact_keys=set(), as_of=as_of, source={"marker": "old"}
    )
    before = os.readlink(tmp_path / "current")
    # `versions` replaced by a file: the writer cannot create its version folder there (works as root too)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "versions").write_text("not a folder")
    with pytest.raises(ExportError, match="blocked"):
        write_export(context_table(as_of, 3), blocked, redact_keys=set(), as_of=as_of)
    assert os.readlink(tmp_path / "current") == before
    if os.geteuid() != 0:
        os.chmod(tmp_path, 0o555)
        try:
            with pytest.raises(ExportError, match="not writable"):
                write_export(context_table(as_of, 3), tmp_path, redact_keys=set(), as_of=as_of)
        finally:
            os.chmod(tmp_path, 0o755)
        assert os.readlink(tmp_path / "current") == before


def test_disk_full_keeps_previous_export(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        as_of = datetime(2026, 11, 23, tzinfo=UTC)
        write_export(
            context_table(as_of, 2, "old"), mount, redact_keys=set(), as_of=as_of, source={"marker": "old"}
        )
        before = os.readlink(mount / "current")
        big = context_table(as_of, 400, "x" * 2000)
        with pytest.raises(ExportError, match="disk full"):
            write_export(big, mount, redact_keys=set(), as_of=as_of + timedelta(hours=1))
        assert os.readlink(mount / "current") == before
        assert not list(mount.glob(".tmp-*"))
        assert json.loads((mount / "current" / "manifest.json").read_text())["source"]["marker"] == "old"
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("keys", [{"ssn", "e-mail.address"}, {"ssn", "e-mail.address", "straße"}])
def test_redaction_catches_escaped_and_differently_cased_keys(tmp_path: Path, keys: set[str]) -> None:
    """The vectorized pre-check (ASCII keys) and the per-text one (any other key) both flag a key
    written with JSON \\u escapes or in another case, so the redaction that follows removes it."""
    as_of = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    escaped = '[{"label": "Signed up", "properties": {"\\u0073sn": "123-45-6789", "plan": "pro"}}]'
    cased = '[{"label": "Signed up", "properties": {"E-Mail.Address": "c@d.e", "Straße": "Hauptweg 1"}}]'
    plain = '[{"label": "Viewed pricing", "properties": {"plan": "free"}}]'
    table = pa.Table.from_pylist(
        [
            {"person_id": f"p{i}", "project_id": 1, "recent_events": text, "context_as_of": as_of}
            for i, text in enumerate([escaped, cased, plain])
        ]
    )
    write_export(table, tmp_path, redact_keys=keys, as_of=as_of)
    jsonl = (tmp_path / "current" / "user_context.jsonl").read_text()
    lines = [json.loads(line) for line in jsonl.splitlines()]
    props = [row["recent_events"][0]["properties"] for row in lines]
    expected_cased = {} if "straße" in keys else {"Straße": "Hauptweg 1"}
    assert props == [{"plan": "pro"}, expected_cased, {"plan": "free"}]
    for path in (tmp_path / "current").resolve().rglob("*"):
        if path.is_file():
            assert b"123-45-6789" not in path.read_bytes() and b"c@d.e" not in path.read_bytes()
