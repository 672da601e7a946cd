"""Read-only view of the chatbot export (EXPORT_DIR), shared by the MCP server and the read API.

The export is written by `serving/export_writer.py` as immutable version folders plus a `current`
symlink that is swapped atomically. This module never touches the warehouse: it loads one version
folder into memory, answers lookups from dictionaries, and swaps to a newer version when `current`
moves. A snapshot is immutable, so a caller holding one never sees a mix of two versions.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

MAX_USER_ID_LENGTH = 256
DEFAULT_CHECK_INTERVAL_MS = 250
DEFAULT_RELOAD_WAIT_MS = 2000
MAX_FIND_LIMIT = 500

# Columns of `user_context` holding JSON text; they are parsed per lookup, never kept as Python objects
# for every person (100k persons x 20 events would cost gigabytes of dicts).
JSON_COLUMNS = ("distinct_ids", "recent_events", "patterns", "cohorts")
TIME_COLUMNS = ("first_seen", "last_seen", "context_as_of")


class ExportStoreError(Exception):
    """Base class for export reading problems."""


class ExportNotFound(ExportStoreError):
    """No export has been published yet (or EXPORT_DIR points to the wrong place)."""


class ExportCorrupt(ExportStoreError):
    """A published version folder cannot be read (missing file, bad manifest, wrong columns)."""


class InvalidUserId(ValueError):
    """A user id that can never be valid (as opposed to one that is merely unknown)."""


def _describe(value: str, limit: int = 40) -> str:
    """Short, printable echo of caller input for error messages (never the whole huge string)."""
    shown = value if len(value) <= limit else value[:limit] + "…"
    return repr(shown)


def validate_user_id(user_id: object) -> str:
    """Return `user_id` if it could be a PostHog person id or distinct id, else raise InvalidUserId.

    Rejected: non-strings, empty/blank, longer than 256 characters, control or line-separator
    characters, path separators and `..` (ids are also used to name per-person files).
    An id that passes may still be unknown.
    """
    if not isinstance(user_id, str):
        raise InvalidUserId(f"user id must be a string, got {type(user_id).__name__}")
    if not user_id.strip():
        raise InvalidUserId("user id is empty")
    if len(user_id) > MAX_USER_ID_LENGTH:
        raise InvalidUserId(
            f"user id is {len(user_id)} characters long; at most {MAX_USER_ID_LENGTH} are allowed"
        )
    for ch in user_id:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in "\ufeff\u200b":
            raise InvalidUserId(
                f"user id {_describe(user_id)} contains a control character (U+{ord(ch):04X})"
            )
    if "/" in user_id or "\\" in user_id:
        raise InvalidUserId(f"user id {_describe(user_id)} contains a path separator")
    if ".." in user_id:
        raise InvalidUserId(f"user id {_describe(user_id)} contains '..'")
    return user_id


def _iso(value: Any) -> str | None:
    """Timestamps as ISO-8601 UTC text with a trailing Z, the form every answer uses."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _epoch_us(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def _epoch_us_column(column: pa.ChunkedArray) -> list[int | None]:
    """Microseconds since the epoch per row; Arrow does timestamp columns without Python datetimes."""
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_pylist()
    return [None if (t := _parse_time(v)) is None else _epoch_us(t) for v in column.to_pylist()]


def _load_json(text: Any, default: Any) -> Any:
    if text is None or text == "" or text == "[]":
        return default
    if not isinstance(text, str):
        return text
    return json.loads(text)


def redact(value: Any, keys: frozenset[str]) -> Any:
    """Drop dictionary keys named in `keys` (lower-cased) at any depth; defence in depth only."""
    if not keys:
        return value
    if isinstance(value, dict):
        return {k: redact(v, keys) for k, v in value.items() if str(k).lower() not in keys}
    if isinstance(value, list):
        return [redact(v, keys) for v in value]
    return value


@dataclass(frozen=True)
class _Membership:
    """Rows (newest activity first) for one pattern code or cohort."""

    rows: tuple[int, ...]
    info: dict[str, Any]


@dataclass(frozen=True)
class ExportSnapshot:
    """One fully loaded export version. Immutable; safe to share between threads."""

    version: str
    path: Path
    manifest: dict[str, Any]
    as_of: datetime
    _table: pa.Table = field(repr=False)
    _columns: tuple[str, ...] = field(repr=False)
    # id -> row index, or a tuple of indexes when the id is in several projects. Plain ints keep the
    # garbage collector from walking 100k+ small containers on every collection.
    _by_person: dict[str, int | tuple[int, ...]] = field(repr=False)
    _by_distinct: dict[str, int | tuple[int, ...]] = field(repr=False)
    _newest_first: tuple[int, ...] = field(repr=False)
    _last_seen_us: tuple[int | None, ...] = field(repr=False)
    _patterns: dict[str, _Membership] = field(repr=False)
    _cohorts: dict[str, _Membership] = field(repr=False)
    _redacted_keys: frozenset[str] = field(repr=False)

    @property
    def as_of_iso(self) -> str:
        return _iso(self.as_of) or ""

    @property
    def row_count(self) -> int:
        return self._table.num_rows

    # -- lookups -------------------------------------------------------------------------------
    def _row(self, index: int) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name in self._columns:
            value = self._table.column(name)[index].as_py()
            if name in JSON_COLUMNS:
                value = _load_json(value, [])
            elif name in TIME_COLUMNS:
                value = _iso(value)
            row[name] = value
        return redact(row, self._redacted_keys)

    def resolve(self, user_id: str, project_id: int | None = None) -> int | None:
        """Row index for a person id or distinct id; None when unknown.

        Raises InvalidUserId for impossible ids and LookupError when the id belongs to people in
        several projects and no project_id was given.
        """
        validate_user_id(user_id)
        found = self._by_person.get(user_id)
        if found is None:
            found = self._by_distinct.get(user_id)
        rows = (found,) if isinstance(found, int) else found
        if not rows:
            return None
        if project_id is not None:
            project_col = self._table.column("project_id") if "project_id" in self._columns else None
            rows = tuple(r for r in rows if project_col is None or project_col[r].as_py() == project_id)
            if not rows:
                return None
        if len(set(rows)) > 1:
            projects = sorted({self._table.column("project_id")[r].as_py() for r in rows})
            raise LookupError(
                f"user id {_describe(user_id)} matches people in several projects {projects}; pass project_id"
            )
        return rows[0]

    def get(self, user_id: str, project_id: int | None = None) -> dict[str, Any] | None:
        """The user_context row for a person id or any distinct id, JSON columns parsed; None if unknown."""
        index = self.resolve(user_id, project_id)
        return None if index is None else self._row(index)

    def find_users(
        self,
        pattern: str | None = None,
        cohort: str | None = None,
        active_within_minutes: float | None = None,
        limit: int = 20,
        *,
        now: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """People with a pattern code and/or in a cohort (id or name), newest activity first.

        `active_within_minutes` keeps people whose last event is at most that old, measured from
        `now` (default: the wall clock). Raises ValueError for an unknown pattern/cohort or bad limit.
        """
        if not isinstance(limit, int) or limit < 1 or limit > MAX_FIND_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_FIND_LIMIT}, got {limit!r}")
        candidates: list[tuple[int, ...]] = []
        if pattern is not None:
            membership = self._patterns.get(pattern) or self._patterns.get(pattern.strip().lower())
            if membership is None:
                known = ", ".join(sorted(self._patterns)) or "none"
                raise ValueError(f"no pattern with code {_describe(pattern)} in this export (known: {known})")
            candidates.append(membership.rows)
        if cohort is not None:
            membership = self._find_cohort(cohort)
            candidates.append(membership.rows)
        cutoff: datetime | None = None
        if active_within_minutes is not None:
            if active_within_minutes <= 0:
                raise ValueError(f"active_within_minutes must be positive, got {active_within_minutes!r}")
            reference = now or datetime.now(UTC)
            cutoff = reference - timedelta(minutes=float(active_within_minutes))

        if candidates:
            candidates.sort(key=len)
            others = [set(c) for c in candidates[1:]]
            ordered: Iterable[int] = (r for r in candidates[0] if all(r in o for o in others))
        else:
            ordered = self._newest_first

        cutoff_us = _epoch_us(cutoff) if cutoff is not None else 0
        found: list[dict[str, Any]] = []
        for index in ordered:
            if cutoff is not None:
                seen = self._last_seen_us[index]
                if seen is None or seen < cutoff_us:
                    if candidates:
                        continue
                    break  # newest-first order: nobody after this one is recent enough
            found.append(self._summary(index))
            if len(found) >= limit:
                break
        return found

    def _find_cohort(self, cohort: str) -> _Membership:
        key = str(cohort).strip()
        membership = self._cohorts.get(key)
        if membership is None:
            by_name = [
                m for m in self._cohorts.values() if str(m.info.get("name", "")).lower() == key.lower()
            ]
            if len(by_name) == 1:
                membership = by_name[0]
            elif len(by_name) > 1:
                ids = ", ".join(str(m.info["id"]) for m in by_name)
                raise ValueError(f"cohort name {_describe(cohort)} is ambiguous; use one of the ids {ids}")
        if membership is None:
            known = (
                ", ".join(f"{m.info['id']} ({m.info.get('name')})" for m in self._cohorts.values()) or "none"
            )
            raise ValueError(f"no cohort {_describe(cohort)} in this export (known: {known})")
        return membership

    def _summary(self, index: int) -> dict[str, Any]:
        """Compact person line for lists: ids, activity, pattern codes, cohort names."""
        table = self._table

        def col(name: str) -> Any:
            return table.column(name)[index].as_py() if name in self._columns else None

        patterns = _load_json(col("patterns"), [])
        cohorts = _load_json(col("cohorts"), [])
        distinct_ids = _load_json(col("distinct_ids"), [])
        return redact(
            {
                "person_id": col("person_id"),
                "project_id": col("project_id"),
                "distinct_ids": distinct_ids[:5],
                "last_seen": _iso(col("last_seen")),
                "event_count": col("event_count"),
                "session_count": col("session_count"),
                "patterns": sorted(
                    {p.get("code") for p in patterns if isinstance(p, dict) and p.get("code")}
                ),
                "cohorts": [c.get("name") or c.get("id") for c in cohorts if isinstance(c, dict)],
                "last_session_summary": col("last_session_summary"),
            },
            self._redacted_keys,
        )

    def patterns(self) -> list[dict[str, Any]]:
        """Every detected pattern code with severity, description and how many people show it."""
        out = []
        for code, membership in self._patterns.items():
            out.append({**membership.info, "code": code, "member_count": len(membership.rows)})
        order = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}
        return sorted(
            out, key=lambda p: (order.get(str(p.get("severity")), 3), -p["member_count"], p["code"])
        )

    def cohorts(self) -> list[dict[str, Any]]:
        """Every cohort someone in the export belongs to, with member counts."""
        out = [{**m.info, "member_count": len(m.rows)} for m in self._cohorts.values()]
        return sorted(out, key=lambda c: (-c["member_count"], str(c.get("name")), str(c.get("id"))))


# -- loading -----------------------------------------------------------------------------------


def _read_manifest(version_dir: Path) -> dict[str, Any]:
    path = version_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ExportCorrupt(f"{path} is missing") from exc
    except (OSError, ValueError) as exc:
        raise ExportCorrupt(f"{path} cannot be read as JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ExportCorrupt(f"{path} must hold a JSON object")
    return manifest


def _single_chunk(table: pa.Table) -> pa.Table:
    """One chunk per column so row access by index is a direct offset."""
    return table.combine_chunks()


def _compact(rows: list[int]) -> int | tuple[int, ...]:
    unique = tuple(dict.fromkeys(rows))
    return unique[0] if len(unique) == 1 else unique


def load_snapshot(version_dir: Path, version: str | None = None) -> ExportSnapshot:
    """Load one version folder completely into memory, or raise ExportCorrupt naming the file."""
    manifest = _read_manifest(version_dir)
    as_of_raw = manifest.get("as_of")
    try:
        as_of = _parse_time(as_of_raw)
    except ValueError as exc:
        raise ExportCorrupt(
            f"{version_dir / 'manifest.json'}: as_of {as_of_raw!r} is not an ISO time"
        ) from exc
    if as_of is None:
        raise ExportCorrupt(f"{version_dir / 'manifest.json'}: as_of is missing")

    context_path = version_dir / "user_context.parquet"
    try:
        table = _single_chunk(pq.read_table(context_path))
    except FileNotFoundError as exc:
        raise ExportCorrupt(f"{context_path} is missing") from exc
    except (OSError, pa.ArrowException) as exc:
        raise ExportCorrupt(f"{context_path} cannot be read: {exc}") from exc
    if "person_id" not in table.column_names:
        raise ExportCorrupt(f"{context_path} has no person_id column")
    columns = tuple(table.column_names)

    person_ids = table.column("person_id").to_pylist()
    by_person: dict[str, list[int]] = {}
    for index, person_id in enumerate(person_ids):
        if person_id is not None:
            by_person.setdefault(str(person_id), []).append(index)
    row_of_person = {pid: rows[0] for pid, rows in by_person.items()}
    project_ids = (
        table.column("project_id").to_pylist() if "project_id" in columns else [None] * len(person_ids)
    )

    by_distinct: dict[str, list[int]] = {}
    distinct_path = version_dir / "distinct_ids.parquet"
    if distinct_path.exists():
        try:
            distinct = pq.read_table(distinct_path)
        except (OSError, pa.ArrowException) as exc:
            raise ExportCorrupt(f"{distinct_path} cannot be read: {exc}") from exc
        for needed in ("distinct_id", "person_id"):
            if needed not in distinct.column_names:
                raise ExportCorrupt(f"{distinct_path} has no {needed} column")
        d_ids = distinct.column("distinct_id").to_pylist()
        d_persons = distinct.column("person_id").to_pylist()
        d_projects = (
            distinct.column("project_id").to_pylist() if "project_id" in distinct.column_names else None
        )
        for i, (distinct_id, person_id) in enumerate(zip(d_ids, d_persons, strict=True)):
            rows = by_person.get(str(person_id)) if person_id is not None else None
            if not rows or distinct_id is None:
                continue
            if d_projects is not None and len(rows) > 1:
                rows = [r for r in rows if project_ids[r] == d_projects[i]] or rows
            by_distinct.setdefault(str(distinct_id), []).extend(rows)
    elif "distinct_ids" in columns:
        for index, text in enumerate(table.column("distinct_ids").to_pylist()):
            for distinct_id in _load_json(text, []):
                by_distinct.setdefault(str(distinct_id), []).append(index)

    # Newest activity first; people with no last_seen go last.
    if "last_seen" in columns:
        last_seen = _epoch_us_column(table.column("last_seen"))
        order = sorted(range(table.num_rows), key=lambda i: (last_seen[i] is None, -(last_seen[i] or 0)))
    else:
        last_seen = [None] * table.num_rows
        order = list(range(table.num_rows))
    rank = {index: position for position, index in enumerate(order)}

    redacted_keys = frozenset(str(k).lower() for k in (manifest.get("redacted_keys") or []))
    patterns: dict[str, tuple[list[int], dict[str, Any]]] = {}
    if "patterns" in columns:
        for index, text in enumerate(table.column("patterns").to_pylist()):
            try:
                items = _load_json(text, [])
            except ValueError as exc:
                raise ExportCorrupt(
                    f"{context_path}: patterns of person {person_ids[index]!r} is not JSON"
                ) from exc
            seen_codes: set[str] = set()
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict) or not item.get("code"):
                    continue
                code = str(item["code"])
                rows, info = patterns.setdefault(
                    code, ([], {"severity": item.get("severity"), "description": item.get("description")})
                )
                if code not in seen_codes:
                    rows.append(index)
                    seen_codes.add(code)
                info["occurrences"] = info.get("occurrences", 0) + 1
    cohorts: dict[str, tuple[list[int], dict[str, Any]]] = {}
    if "cohorts" in columns:
        for index, text in enumerate(table.column("cohorts").to_pylist()):
            try:
                items = _load_json(text, [])
            except ValueError as exc:
                raise ExportCorrupt(
                    f"{context_path}: cohorts of person {person_ids[index]!r} is not JSON"
                ) from exc
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict) or item.get("id") is None:
                    continue
                key = str(item["id"])
                rows, _info = cohorts.setdefault(key, ([], {"id": item["id"], "name": item.get("name")}))
                if not rows or rows[-1] != index:
                    rows.append(index)

    def ordered(rows: list[int]) -> tuple[int, ...]:
        return tuple(sorted(set(rows), key=rank.__getitem__))

    return ExportSnapshot(
        version=version or version_dir.name,
        path=version_dir,
        manifest=manifest,
        as_of=as_of,
        _table=table,
        _columns=columns,
        _by_person={k: _compact(v) for k, v in by_person.items()},
        _by_distinct={k: _compact(v) for k, v in by_distinct.items() if k not in row_of_person},
        _newest_first=tuple(order),
        _last_seen_us=tuple(last_seen),
        _patterns={
            k: _Membership(ordered(rows), redact(info, redacted_keys)) for k, (rows, info) in patterns.items()
        },
        _cohorts={
            k: _Membership(ordered(rows), redact(info, redacted_keys)) for k, (rows, info) in cohorts.items()
        },
        _redacted_keys=redacted_keys,
    )


class _Loader:
    """One background load of one version folder."""

    def __init__(self, version_dir: Path, identity: tuple[Any, ...]) -> None:
        self.version_dir = version_dir
        self.identity = identity
        self.done = threading.Event()
        self.started = time.monotonic()
        self.snapshot: ExportSnapshot | None = None
        self.error: ExportStoreError | None = None


class ExportStore:
    """Hands out the newest complete export version, loading a new one when `current` moves.

    The check for a new version (readlink + one stat) runs at most every `check_interval_ms`. A new
    version loads in a background thread; callers wait for it up to `reload_wait_ms` and otherwise keep
    getting the previous snapshot (a large export never stalls answers). The first load is always
    waited for. If a new version cannot be read, the previous one keeps serving.
    """

    def __init__(
        self,
        export_dir: str | os.PathLike[str],
        check_interval_ms: int | None = None,
        reload_wait_ms: int | None = None,
    ) -> None:
        self.export_dir = Path(export_dir)
        if check_interval_ms is None:
            check_interval_ms = int(os.environ.get("EXPORT_RELOAD_CHECK_MS", DEFAULT_CHECK_INTERVAL_MS))
        if reload_wait_ms is None:
            reload_wait_ms = int(os.environ.get("EXPORT_RELOAD_WAIT_MS", DEFAULT_RELOAD_WAIT_MS))
        self.check_interval = max(0, check_interval_ms) / 1000.0
        self.reload_wait = max(0, reload_wait_ms) / 1000.0
        self._lock = threading.Lock()
        self._snapshot: ExportSnapshot | None = None
        self._identity: tuple[Any, ...] | None = None
        self._failed: tuple[tuple[Any, ...], ExportStoreError] | None = None
        self._loader: _Loader | None = None
        self._checked_at = float("-inf")

    @classmethod
    def from_env(cls) -> ExportStore:
        return cls(os.environ.get("EXPORT_DIR", "./data/export"))

    def _current_identity(self) -> tuple[Path, tuple[Any, ...]]:
        """Where `current` points now, plus what identifies that version (target, inode, mtime)."""
        current = self.export_dir / "current"
        try:
            target = os.readlink(current)
        except FileNotFoundError:
            raise ExportNotFound(
                f"no export yet: {current} does not exist (run the pipeline's export step, or set EXPORT_DIR)"
            ) from None
        except OSError:
            if not current.is_dir():
                raise ExportNotFound(f"no export yet: {current} is neither a symlink nor a folder") from None
            target = str(current.resolve())
        version_dir = (self.export_dir / target) if not os.path.isabs(target) else Path(target)
        try:
            stat = os.stat(version_dir / "manifest.json")
        except FileNotFoundError:
            raise ExportCorrupt(f"{version_dir / 'manifest.json'} is missing (current -> {target})") from None
        return version_dir, (target, stat.st_ino, stat.st_mtime_ns)

    def _check(self) -> _Loader | None:
        """Under the lock: look at `current` and start a loader when it names a version not yet loaded."""
        self._checked_at = time.monotonic()
        try:
            version_dir, identity = self._current_identity()
        except ExportStoreError as exc:
            if self._snapshot is None:
                raise
            log.warning("keeping export version %s: %s", self._snapshot.version, exc)
            return self._loader
        if identity == self._identity:
            return self._loader
        if self._failed is not None and self._failed[0] == identity:
            return self._loader
        if self._loader is not None and self._loader.identity == identity:
            return self._loader
        loader = _Loader(version_dir, identity)
        self._loader = loader
        threading.Thread(target=self._run_loader, args=(loader,), name="export-loader", daemon=True).start()
        return loader

    def _run_loader(self, loader: _Loader) -> None:
        version_dir, identity = loader.version_dir, loader.identity
        for _attempt in range(3):
            try:
                loader.snapshot = load_snapshot(version_dir, version=Path(str(identity[0])).name)
                loader.error = None
                break
            except ExportStoreError as exc:
                # The folder may have been pruned between readlink and reading; look again.
                loader.error = exc
                try:
                    version_dir, identity = self._current_identity()
                except ExportStoreError:
                    break
            except Exception as exc:  # noqa: BLE001 - a loader thread must always finish and report
                loader.error = ExportCorrupt(f"{version_dir}: cannot be loaded: {exc}")
                break
        with self._lock:
            if loader.snapshot is not None:
                # A slower load of an older version must not replace what a later loader published.
                if (
                    self._loader is loader
                    or self._snapshot is None
                    or loader.snapshot.as_of > self._snapshot.as_of
                ):
                    self._snapshot, self._identity = loader.snapshot, identity
                    self._failed = None
                snap = loader.snapshot
                log.info(
                    "loaded export version %s (%d people, as of %s)",
                    snap.version,
                    snap.row_count,
                    snap.as_of_iso,
                )
            else:
                self._failed = (
                    loader.identity,
                    loader.error or ExportCorrupt(f"{version_dir}: cannot be loaded"),
                )
                log.warning("export version at %s could not be loaded: %s", version_dir, self._failed[1])
            if self._loader is loader:
                self._loader = None
        loader.done.set()

    def preload(self) -> None:
        """Start loading the current version in the background (e.g. while a server starts up)."""
        with self._lock:
            try:
                self._check()
            except ExportStoreError:
                pass

    def snapshot(self) -> ExportSnapshot:
        """The newest loaded export version; raises ExportNotFound when nothing was published yet."""
        snap = self._snapshot
        if (
            snap is not None
            and self._loader is None
            and time.monotonic() - self._checked_at < self.check_interval
        ):
            return snap
        with self._lock:
            if self._snapshot is None or time.monotonic() - self._checked_at >= self.check_interval:
                loader = self._check()
            else:
                loader = self._loader
        if loader is not None:
            # Wait for a new version at most reload_wait after its load began; the first load always.
            remaining = (
                None if self._snapshot is None else loader.started + self.reload_wait - time.monotonic()
            )
            if remaining is None or remaining > 0:
                loader.done.wait(remaining)
        with self._lock:
            if self._snapshot is not None:
                return self._snapshot
            if self._failed is not None:
                raise self._failed[1]
        raise ExportNotFound(f"no export could be loaded from {self.export_dir}")

    # Convenience pass-throughs on the newest snapshot.
    def get(self, user_id: str, project_id: int | None = None) -> dict[str, Any] | None:
        return self.snapshot().get(user_id, project_id)

    def find_users(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return self.snapshot().find_users(*args, **kwargs)

    def patterns(self) -> list[dict[str, Any]]:
        return self.snapshot().patterns()

    def cohorts(self) -> list[dict[str, Any]]:
        return self.snapshot().cohorts()
