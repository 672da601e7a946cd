"""One normalization for every input path (query API, events API, batch-export files, JSON exports).

Turns a raw Arrow batch of PostHog events into two Arrow tables with fixed schemas: good rows for
`posthog_raw.events` and bad rows for `posthog_raw.events_quarantine`. Nothing is dropped silently: a
row is either loaded, quarantined with a reason code, or is an exact duplicate of a loaded row.

Checks are column-wise (pyarrow.compute, plus DuckDB's `json_valid` over the properties column); only
rows that look suspicious are inspected one by one in Python.

Text repair policy: invalid UTF-8 and NUL characters are replaced with U+FFFD (also the JSON escape
`\\u0000` inside properties) and the event is kept; repairs are counted per column. Other control
characters are legal text and kept as they are.
"""

from __future__ import annotations

import hashlib
import threading
import uuid as uuid_mod
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

MIN_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)
MAX_DEPTH = 64
RAW_PAYLOAD_LIMIT = 1_000_000
TRUNCATION_MARKER = "...[truncated]"
UUID_NAMESPACE = uuid_mod.UUID("6f1c2a52-9d55-4b8e-9a43-2a7c0e5e1d10")
SOURCES = ("query_api", "events_api", "batch_export", "json_export")

TS = pa.timestamp("us", tz="UTC")
EVENTS_SCHEMA = pa.schema(
    [
        pa.field("uuid", pa.string(), nullable=False),
        pa.field("project_id", pa.int64(), nullable=False),
        pa.field("event", pa.string(), nullable=False),
        pa.field("distinct_id", pa.string(), nullable=False),
        pa.field("timestamp", TS, nullable=False),
        pa.field("created_at", TS),
        pa.field("properties", pa.string(), nullable=False),
        pa.field("elements_chain", pa.string(), nullable=False),
        pa.field("person_id", pa.string()),
        pa.field("person_properties", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("uuid_generated", pa.bool_(), nullable=False),
        pa.field("_loaded_at", TS, nullable=False),
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("quarantine_id", pa.string(), nullable=False),
        pa.field("project_id", pa.int64()),
        pa.field("uuid", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("raw_payload", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("quarantined_at", TS, nullable=False),
    ]
)
TEXT_COLUMNS = ("uuid", "event", "distinct_id", "elements_chain", "person_id")
JSON_COLUMNS = ("properties", "person_properties")
TIME_COLUMNS = ("timestamp", "created_at")

_TIME_PART = r"[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
_OFFSET = r"(Z|z|[+-]\d{2}(:?\d{2})?)"
_ISO_NAIVE = rf"^\d{{4}}-\d{{2}}-\d{{2}}({_TIME_PART})?$"
_ISO_OFFSET = rf"^\d{{4}}-\d{{2}}-\d{{2}}{_TIME_PART}{_OFFSET}$"


@dataclass
class NormalizedBatch:
    """Result of normalizing one batch."""

    events: pa.Table
    quarantine: pa.Table
    reasons: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    exact_duplicates: int = 0

    @property
    def newest(self) -> datetime | None:
        if self.events.num_rows == 0:
            return None
        return pc.max(self.events["timestamp"]).as_py()


# -- column helpers ---------------------------------------------------------------------------------
def _column(table: pa.Table, name: str) -> pa.Array:
    if name in table.column_names:
        col = table[name]
        return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pa.nulls(table.num_rows, pa.string())


def _repair_utf8(arr: pa.Array, name: str, repaired: Counter[str]) -> pa.Array:
    """Make a string array valid UTF-8 without NULs; counts rows that changed."""
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        raw = arr.cast(pa.binary()).to_pylist()
        fixed = [None if v is None else v.decode("utf-8", errors="replace") for v in raw]
        changed = sum(1 for a, b in zip(raw, fixed, strict=True) if a is not None and a != b.encode())
        repaired[f"{name}:invalid_utf8"] += changed
        arr = pa.array(fixed, pa.string())
    has_nul = pc.match_substring_regex(arr, "\x00")
    nul_count = pc.sum(has_nul).as_py() or 0
    if nul_count:
        repaired[f"{name}:nul"] += nul_count
        arr = pc.replace_substring(arr, "\x00", "\ufffd")
    if name in JSON_COLUMNS:
        esc = pc.match_substring_regex(arr, r"\\u0000")
        esc_count = pc.sum(esc).as_py() or 0
        if esc_count:
            repaired[f"{name}:nul_escape"] += esc_count
            arr = pc.replace_substring(arr, "\\u0000", "\\ufffd")
    return arr


def _as_text(arr: pa.Array, name: str, repaired: Counter[str]) -> pa.Array:
    """Any scalar column as UTF-8 strings (ints and UUID-typed values become their text)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_fixed_size_binary(arr.type) and arr.type.byte_width == 16:
        return pa.array([None if v is None else str(uuid_mod.UUID(bytes=v)) for v in arr.to_pylist()])
    if pa.types.is_binary(arr.type):
        arr = arr.view(pa.string())
    elif pa.types.is_large_binary(arr.type):
        arr = arr.view(pa.large_string())
    elif not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        if pa.types.is_struct(arr.type) or pa.types.is_list(arr.type) or pa.types.is_map(arr.type):
            return _json_text(arr)
        arr = arr.cast(pa.string())
    return _repair_utf8(arr, name, repaired)


def _json_text(arr: pa.Array) -> pa.Array:
    """Nested Arrow values (from a JSON reader) back to JSON text, keys sorted (slow path)."""
    out = []
    for value in arr.to_pylist():
        if value is None:
            out.append(None)
        elif isinstance(value, list) and value and all(isinstance(x, tuple) and len(x) == 2 for x in value):
            out.append(orjson.dumps(dict(value), option=orjson.OPT_SORT_KEYS, default=str).decode())
        else:
            out.append(orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode())
    return pa.array(out, pa.string())


def _parse_one(text: str) -> datetime | None:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def parse_timestamps(arr: pa.Array) -> pa.Array:
    """ISO strings (with an offset, or naive = UTC) or Arrow timestamps to timestamp[us, UTC]; bad → null."""
    if pa.types.is_timestamp(arr.type):
        if arr.type.tz is None:
            arr = arr.cast(pa.timestamp(arr.type.unit, tz="UTC"))
        return arr.cast(TS, safe=False)
    if pa.types.is_date(arr.type):
        return arr.cast(pa.timestamp("us")).cast(TS)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), TS)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.string())
    text = pc.utf8_trim_whitespace(arr)
    with_offset = pc.fill_null(pc.match_substring_regex(text, _ISO_OFFSET), False)
    naive = pc.fill_null(pc.match_substring_regex(text, _ISO_NAIVE), False)
    try:
        aware = pc.if_else(with_offset, text, pa.scalar(None, pa.string())).cast(TS)
        plain = pc.if_else(naive, text, pa.scalar(None, pa.string())).cast(pa.timestamp("us")).cast(TS)
        return pc.if_else(with_offset, aware, plain)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Some value has the right shape but is not a real instant (month 13, ...): go row by row.
        values = [None if v is None else _parse_one(v) for v in text.to_pylist()]
        return pa.array(values, TS)


def json_depth_exceeds(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when objects/arrays nest deeper than `limit` (ignores brackets inside strings)."""
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            if depth > limit:
                return True
        elif ch in "}]":
            depth -= 1
    return False


def canonical_content(
    project_id: int, event: Any, distinct_id: Any, ts: datetime | None, props: Any, elements_chain: Any
) -> str:
    """The text a generated uuid is derived from: same event content → same uuid."""
    ts_text = ts.astimezone(UTC).isoformat(timespec="microseconds") if ts is not None else ""
    return "\x1f".join(
        [
            str(project_id),
            str(event or ""),
            str(distinct_id or ""),
            ts_text,
            str(props or ""),
            str(elements_chain or ""),
        ]
    )


def generated_uuid(content: str) -> str:
    return str(uuid_mod.uuid5(UUID_NAMESPACE, content))


def quarantine_id(project_id: int | None, source: str, raw_payload: str) -> str:
    return hashlib.sha256(f"{project_id}|{source}|{raw_payload}".encode()).hexdigest()


def _payload_text(row: dict[str, Any]) -> str:
    text = orjson.dumps(row, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode(
        "utf-8", errors="replace"
    )
    if len(text) > RAW_PAYLOAD_LIMIT:
        text = text[:RAW_PAYLOAD_LIMIT] + TRUNCATION_MARKER
    return text


# -- the normalization ------------------------------------------------------------------------------
def normalize_events(
    raw: pa.Table,
    *,
    source: str,
    project_id: int | None = None,
    allowed_projects: set[int] | frozenset[int] | None = None,
    max_properties_bytes: int = 1_000_000,
    now: datetime | None = None,
    raw_payloads: list[Any] | None = None,
) -> NormalizedBatch:
    """Validate and shape one batch.

    `project_id` fills rows that carry none (API pages, files of one project); a `project_id` or
    `team_id` column in the batch wins. `raw_payloads` (same length as `raw`) is what gets stored for
    quarantined rows; by default the row's own values are stored.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown event source {source!r}")
    now = now or datetime.now(UTC)
    n = raw.num_rows
    repaired: Counter[str] = Counter()
    if n == 0:
        return NormalizedBatch(EVENTS_SCHEMA.empty_table(), QUARANTINE_SCHEMA.empty_table())

    text = {name: _as_text(_column(raw, name), name, repaired) for name in TEXT_COLUMNS}
    props = {name: _as_text(_column(raw, name), name, repaired) for name in JSON_COLUMNS}
    ts = parse_timestamps(_column(raw, "timestamp"))
    created = parse_timestamps(_column(raw, "created_at"))

    # project ids
    pid_source = next((c for c in ("project_id", "team_id") if c in raw.column_names), None)
    if pid_source is not None:
        pid_raw = _column(raw, pid_source)
        pid = (
            pc.cast(pid_raw, pa.int64(), safe=False)
            if pa.types.is_integer(pid_raw.type)
            else _to_int(pid_raw)
        )
        if project_id is not None:
            pid = pc.fill_null(pid, project_id)
    else:
        pid = pa.array([project_id] * n, pa.int64())

    reason_idx: dict[int, tuple[str, str]] = {}

    def flag(mask: pa.Array, code: str, detail: str | list[str]) -> None:
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        for i in pc.indices_nonzero(mask).to_pylist():
            if i not in reason_idx:
                reason_idx[i] = (code, detail if isinstance(detail, str) else detail[i])

    # 1. project
    if allowed_projects is not None:
        allowed = pa.array(sorted(allowed_projects), pa.int64())
        known = pc.is_in(pid, value_set=allowed)
        flag(
            pc.invert(pc.fill_null(known, False)),
            "unknown_project",
            f"project id not configured (configured: {sorted(allowed_projects)})",
        )
    else:
        flag(pc.is_null(pid), "unknown_project", "row carries no project id")

    # 2. timestamps
    raw_ts = _column(raw, "timestamp")
    raw_ts_missing = pc.is_null(raw_ts)
    if pa.types.is_string(raw_ts.type) or pa.types.is_large_string(raw_ts.type):
        raw_ts_missing = pc.or_kleene(raw_ts_missing, pc.equal(pc.utf8_trim_whitespace(raw_ts), ""))
    flag(raw_ts_missing, "missing_timestamp", "timestamp is missing or empty")
    flag(pc.is_null(ts), "bad_timestamp", "timestamp is not an ISO 8601 date-time")
    upper = now + FUTURE_TOLERANCE
    out_of_range = pc.or_kleene(
        pc.less(ts, pa.scalar(MIN_TIMESTAMP, TS)), pc.greater(ts, pa.scalar(upper, TS))
    )
    flag(
        out_of_range,
        "timestamp_out_of_range",
        f"timestamp before {MIN_TIMESTAMP.date()} or more than 1 day after"
        f" {now.isoformat(timespec='seconds')}",
    )

    # 3. identity
    def blank(arr: pa.Array) -> pa.Array:
        return pc.or_kleene(pc.is_null(arr), pc.equal(pc.utf8_trim_whitespace(arr), ""))

    flag(blank(text["event"]), "missing_event", "event name is missing or empty")
    flag(blank(text["distinct_id"]), "missing_distinct_id", "distinct_id is missing or empty")
    uuid_arr = text["uuid"]
    flag(pc.greater(pc.utf8_length(uuid_arr), 128), "bad_uuid", "uuid longer than 128 characters")

    # 4. properties
    prop = props["properties"]
    prop_null = pc.is_null(prop)
    prop = pc.if_else(prop_null, pa.scalar("{}"), prop)
    size = pc.binary_length(prop)
    too_large = pc.greater(size, max_properties_bytes)
    flag(
        too_large,
        "properties_too_large",
        f"properties exceed {max_properties_bytes} bytes (MAX_PROPERTIES_BYTES)",
    )
    checks = _json_checks(prop, max_properties_bytes)
    valid = pc.fill_null(checks["valid"], True)
    # Objects almost always start with "{" and end with "}"; only other valid values are parsed here.
    odd = pc.and_kleene(valid, pc.invert(pc.fill_null(checks["obj_shape"], True)))
    if pc.any(odd).as_py():
        idx = pc.indices_nonzero(odd).to_pylist()
        not_obj = [False] * n
        for i, v in zip(idx, prop.take(pa.array(idx)).to_pylist(), strict=True):
            not_obj[i] = not isinstance(_loads_or_none(v), dict)
        flag(pa.array(not_obj), "properties_not_object", "properties is valid JSON but not an object")
    flag(pc.invert(valid), "properties_bad_json", "properties is not valid JSON")
    suspicious = pc.and_kleene(pc.greater(checks["brackets"], MAX_DEPTH), pc.invert(too_large))
    if pc.any(pc.fill_null(suspicious, False)).as_py():
        idx = pc.indices_nonzero(pc.fill_null(suspicious, False)).to_pylist()
        values = prop.take(pa.array(idx)).to_pylist()
        deep = [False] * n
        for i, v in zip(idx, values, strict=True):
            deep[i] = json_depth_exceeds(v)
        flag(pa.array(deep), "properties_too_deep", f"properties nest deeper than {MAX_DEPTH} levels")
    pprops = props["person_properties"]
    if pprops.null_count < n:
        pp_valid = pc.fill_null(_json_checks(pprops, max_properties_bytes)["valid"], False)
        pprops = pc.if_else(pp_valid, pprops, pa.scalar(None, pa.string()))

    # 5. generated uuids for rows without one (only those rows are looked at in Python)
    missing_uuid = pc.fill_null(blank(uuid_arr), True)
    generated = missing_uuid
    if pc.any(missing_uuid).as_py():
        idx = pc.indices_nonzero(missing_uuid)
        cols = [
            pid.take(idx),
            text["event"].take(idx),
            text["distinct_id"].take(idx),
            ts.take(idx),
            prop.take(idx),
            text["elements_chain"].take(idx),
        ]
        new = [
            generated_uuid(canonical_content(*vals))
            for vals in zip(*(c.to_pylist() for c in cols), strict=True)
        ]
        full = uuid_arr.to_pylist() if uuid_arr.null_count < n else [None] * n
        for i, u in zip(idx.to_pylist(), new, strict=True):
            full[i] = u
        uuid_arr = pa.array(full, pa.string())

    # 6. duplicate uuids inside the batch
    exact_dupes = 0
    bad_mask = _mask_from(reason_idx, n)
    candidates = pc.if_else(bad_mask, pa.scalar(None, pa.string()), uuid_arr)
    counts = pc.value_counts(candidates)
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    drop = [False] * n
    if len(repeated):
        rep_mask = pc.fill_null(pc.is_in(candidates, value_set=repeated), False)
        idx = pc.indices_nonzero(rep_mask).to_pylist()
        keys = zip(
            *(
                c.take(pa.array(idx)).to_pylist()
                for c in (uuid_arr, text["event"], text["distinct_id"], ts, prop, text["elements_chain"], pid)
            ),
            strict=True,
        )
        first_payload: dict[str, tuple[Any, ...]] = {}
        for i, key in zip(idx, keys, strict=True):
            u, payload = key[0], key[1:]
            if u not in first_payload:
                first_payload[u] = payload
            elif first_payload[u] == payload:
                drop[i] = True
                exact_dupes += 1
            else:
                reason_idx[i] = (
                    "duplicate_uuid_conflict",
                    f"uuid {u} appears earlier in the batch with a different payload",
                )

    bad_mask = _mask_from(reason_idx, n)
    keep = pc.invert(pc.or_kleene(bad_mask, pa.array(drop)))
    events = _build_events(uuid_arr, pid, text, ts, created, prop, pprops, source, generated, now, n).filter(
        keep
    )

    quarantine = _build_quarantine(raw, raw_payloads, reason_idx, pid, text["uuid"], source, now)
    reasons = Counter(code for code, _ in reason_idx.values())
    return NormalizedBatch(events, quarantine, reasons, repaired, exact_dupes)


def _to_int(arr: pa.Array) -> pa.Array:
    values = []
    for v in arr.to_pylist():
        try:
            values.append(int(str(v).strip()) if v is not None else None)
        except ValueError:
            values.append(None)
    return pa.array(values, pa.int64())


def _mask_from(reason_idx: dict[int, tuple[str, str]], n: int) -> pa.Array:
    mask = [False] * n
    for i in reason_idx:
        mask[i] = True
    return pa.array(mask, pa.bool_())


_LOCAL = threading.local()


def _duckdb() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per thread (opening one costs ~0.1 s; pages come by the hundred)."""
    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = duckdb.connect()
        _LOCAL.con = con
    return con


def _json_checks(arr: pa.Array, max_bytes: int) -> pa.Table:
    """Per row: valid JSON (null when too large to check), object shape, count of opening brackets."""
    con = _duckdb()
    con.register("_ph_props", pa.table({"j": arr}))
    try:
        return (
            con.sql(
                f"""
            SELECT
              CASE WHEN j IS NULL THEN NULL
                   WHEN strlen(j) <= {int(max_bytes)} THEN json_valid(j) END AS valid,
              left(j, 1) = '{{' AND right(j, 1) = '}}' AS obj_shape,
              2 * strlen(j) - strlen(replace(j, '{{', '')) - strlen(replace(j, '[', '')) AS brackets
            FROM _ph_props
            """
            )
            .to_arrow_table()
            .combine_chunks()
        )
    finally:
        con.unregister("_ph_props")


def _loads_or_none(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _build_events(
    uuid_arr: pa.Array,
    pid: pa.Array,
    text: dict[str, pa.Array],
    ts: pa.Array,
    created: pa.Array,
    prop: pa.Array,
    pprops: pa.Array,
    source: str,
    generated: pa.Array,
    now: datetime,
    n: int,
) -> pa.Table:
    def blank_to_null(arr: pa.Array) -> pa.Array:
        empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(arr), ""), True)
        return pc.if_else(empty, pa.scalar(None, pa.string()), arr)

    return pa.Table.from_arrays(
        [
            uuid_arr,
            pid.cast(pa.int64()),
            text["event"],
            text["distinct_id"],
            ts,
            created,
            prop,
            pc.fill_null(text["elements_chain"], ""),
            blank_to_null(text["person_id"]),
            pprops,
            pa.array([source] * n, pa.string()),
            pc.fill_null(generated, False),
            pa.array([now] * n, TS),
        ],
        schema=pa.schema([f.with_nullable(True) for f in EVENTS_SCHEMA]),
    )


def _build_quarantine(
    raw: pa.Table,
    raw_payloads: list[Any] | None,
    reason_idx: dict[int, tuple[str, str]],
    pid: pa.Array,
    uuid_arr: pa.Array,
    source: str,
    now: datetime,
) -> pa.Table:
    if not reason_idx:
        return QUARANTINE_SCHEMA.empty_table()
    idx = sorted(reason_idx)
    if raw_payloads is not None:
        rows = [raw_payloads[i] for i in idx]
    else:
        rows = raw.take(pa.array(idx)).to_pylist()
    pids = pid.take(pa.array(idx)).to_pylist()
    uuids = uuid_arr.take(pa.array(idx)).to_pylist()
    out: dict[str, list[Any]] = {f.name: [] for f in QUARANTINE_SCHEMA}
    for i, row, p, u in zip(idx, rows, pids, uuids, strict=True):
        payload = row if isinstance(row, str) else _payload_text(row)
        if len(payload) > RAW_PAYLOAD_LIMIT + len(TRUNCATION_MARKER):
            payload = payload[:RAW_PAYLOAD_LIMIT] + TRUNCATION_MARKER
        code, detail = reason_idx[i]
        out["quarantine_id"].append(quarantine_id(p, source, payload))
        out["project_id"].append(p)
        out["uuid"].append(u if u else None)
        out["reason"].append(code)
        out["detail"].append(detail)
        out["raw_payload"].append(payload)
        out["source"].append(source)
        out["quarantined_at"].append(now)
    return pa.table(out, schema=pa.schema([f.with_nullable(True) for f in QUARANTINE_SCHEMA]))
