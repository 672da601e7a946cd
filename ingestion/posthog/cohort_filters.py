"""Flatten PostHog cohort filter JSON into one row per node, so SQL can evaluate cohorts without parsing JSON.

A cohort's ``filters.properties`` is a tree of groups (``{"type": "AND"|"OR", "values": [...]}``) whose leaves
are person, cohort or behavioral filters. The warehouse cannot walk such a tree portably, so we number the
nodes depth-first (root = 0) and keep each node's parent, depth and parameters in flat columns
(see ``COHORT_NODE_SCHEMA``). Cohorts from the PostHog API are flattened leniently (bad or unsupported
filters become ``unsupported`` rows that the SQL reports); cohorts from the rules files are flattened
strictly (the first problem raises ``CohortFilterError`` naming the cohort and the JSON path).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

COHORT_NODE_SCHEMA = pa.schema(
    [
        ("project_id", pa.int64()),
        ("cohort_id", pa.string()),
        ("node_id", pa.int32()),
        ("parent_node_id", pa.int32()),
        ("depth", pa.int32()),
        ("child_index", pa.int32()),
        ("node_type", pa.string()),
        ("group_logic", pa.string()),
        ("negation", pa.bool_()),
        ("prop_key", pa.string()),
        ("prop_operator", pa.string()),
        ("prop_values", pa.string()),
        ("cohort_ref", pa.string()),
        ("behavior_kind", pa.string()),
        ("event_key", pa.string()),
        ("window_seconds", pa.int64()),
        ("operator", pa.string()),
        ("operator_value", pa.int64()),
        ("seq_event", pa.string()),
        ("seq_window_seconds", pa.int64()),
        ("total_periods", pa.int32()),
        ("min_periods", pa.int32()),
        ("period_seconds", pa.int64()),
        ("unsupported_reason", pa.string()),
    ]
)
COHORT_NODE_COLUMNS: tuple[str, ...] = tuple(COHORT_NODE_SCHEMA.names)

PERSON_OPERATORS = frozenset(
    {
        "exact",
        "is_not",
        "icontains",
        "not_icontains",
        "regex",
        "not_regex",
        "gt",
        "lt",
        "is_set",
        "is_not_set",
    }
)
COUNT_OPERATORS = frozenset({"gte", "lte", "gt", "lt", "exact", "eq"})
BEHAVIOR_KINDS = frozenset(
    {
        "performed_event",
        "performed_event_multiple",
        "performed_event_first_time",
        "performed_event_sequence",
        "performed_event_regularly",
        "stopped_performing_event",
        "restarted_performing_event",
    }
)
INTERVAL_SECONDS = {"hour": 3600, "day": 86400, "week": 604800, "month": 30 * 86400, "year": 365 * 86400}
_RELATIVE_DATE = re.compile(r"^-(\d{1,6})([hdwmy])$")
_RELATIVE_UNITS = {"h": "hour", "d": "day", "w": "week", "m": "month", "y": "year"}
MAX_DEPTH = 64
MAX_VALUE_CHARS = 10_000

# Why a node cannot be evaluated. Stable codes first so the SQL or a dashboard can group them.
UNSUPPORTED_CODES = (
    "static_cohort",
    "empty_filters",
    "action_filter",
    "event_property_filters",
    "unknown_filter_type",
    "unknown_behavioral_kind",
    "unsupported_operator",
    "missing_key",
    "bad_value",
    "bad_time_window",
    "bad_group",
    "too_deep",
)


class CohortFilterError(ValueError):
    """A cohort's filters cannot be evaluated; the message names the cohort and the JSON path."""

    def __init__(self, cohort: str, path: str, code: str, detail: str) -> None:
        self.cohort = cohort
        self.path = path
        self.code = code
        self.detail = detail
        super().__init__(f"cohort {cohort}: {path}: {detail}")


class _Unsupported(Exception):
    """Raised inside the walker for one node; turned into a row or a CohortFilterError by the caller."""

    def __init__(self, code: str, detail: str, path: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.path = path


def _empty_row() -> dict[str, Any]:
    return dict.fromkeys(COHORT_NODE_COLUMNS)


def _as_bool(value: Any, path: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise _Unsupported("bad_value", f"negation must be true or false, got {value!r}", path)


MAX_COUNT = 10**12
MAX_PERIODS = 100_000
MAX_WINDOW_SECONDS = 200 * 365 * 86400


def _as_int(value: Any, path: str, *, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """Integers arrive as numbers or numeric strings from the API; anything else is a bad value."""
    if isinstance(value, bool):
        raise _Unsupported("bad_value", f"expected a whole number, got {value!r}", path)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
        number = int(value)
    else:
        raise _Unsupported("bad_value", f"expected a whole number, got {value!r}", path)
    if number < minimum:
        raise _Unsupported("bad_value", f"must be at least {minimum}, got {number}", path)
    if number > maximum:
        raise _Unsupported("bad_value", f"must be at most {maximum}, got {number}", path)
    return number


def _as_text(value: Any, path: str, what: str) -> str:
    if isinstance(value, bool) or value is None:
        raise _Unsupported("missing_key" if value is None else "bad_value", f"{what} is missing", path)
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise _Unsupported("missing_key", f"{what} must be a non-empty string, got {value!r}", path)
    if len(value) > MAX_VALUE_CHARS:
        raise _Unsupported("bad_value", f"{what} is longer than {MAX_VALUE_CHARS} characters", path)
    return value


def _interval_seconds(value: Any, interval: Any, path: str, interval_path: str) -> int:
    amount = _as_int(value, path, minimum=1, maximum=MAX_WINDOW_SECONDS // 3600)
    unit = str(interval or "").strip().lower()
    unit = unit[:-1] if unit.endswith("s") else unit
    if unit not in INTERVAL_SECONDS:
        raise _Unsupported(
            "bad_time_window",
            f"unknown time interval {interval!r} (use hour, day, week, month or year)",
            interval_path,
        )
    seconds = amount * INTERVAL_SECONDS[unit]
    if seconds > MAX_WINDOW_SECONDS:
        raise _Unsupported("bad_time_window", "the window is longer than 200 years", path)
    return seconds


def parse_relative_datetime(text: str) -> int | None:
    """Seconds in a PostHog relative date such as ``-30d``, ``-2w``, ``-1m``, ``-1y``, ``-12h``; else None."""
    match = _RELATIVE_DATE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * INTERVAL_SECONDS[_RELATIVE_UNITS[match.group(2)]]


def _time_window(node: Mapping[str, Any], path: str) -> int:
    """The look-back window: explicit_datetime (``-30d``) wins over time_value + time_interval."""
    explicit = node.get("explicit_datetime")
    if explicit not in (None, ""):
        seconds = parse_relative_datetime(str(explicit)) if isinstance(explicit, str) else None
        if seconds is not None and seconds > MAX_WINDOW_SECONDS:
            raise _Unsupported(
                "bad_time_window", "the window is longer than 200 years", f"{path}.explicit_datetime"
            )
        if seconds is None:
            raise _Unsupported(
                "bad_time_window",
                f"explicit_datetime {explicit!r} is not a relative date like -30d, -2w, -1m or -1y",
                f"{path}.explicit_datetime",
            )
        return seconds
    if node.get("time_value") is None:
        raise _Unsupported(
            "bad_time_window", "time_value/time_interval or explicit_datetime is required", path
        )
    return _interval_seconds(
        node.get("time_value"), node.get("time_interval"), f"{path}.time_value", f"{path}.time_interval"
    )


def _seq_window(node: Mapping[str, Any], path: str) -> int:
    if node.get("seq_time_value") is None:
        raise _Unsupported("bad_time_window", "seq_time_value and seq_time_interval are required", path)
    return _interval_seconds(
        node.get("seq_time_value"),
        node.get("seq_time_interval"),
        f"{path}.seq_time_value",
        f"{path}.seq_time_interval",
    )


def _count_operator(node: Mapping[str, Any], path: str) -> tuple[str, int]:
    operator = node.get("operator") or "gte"
    if not isinstance(operator, str) or operator not in COUNT_OPERATORS:
        raise _Unsupported(
            "unsupported_operator",
            f"count operator {operator!r} is not one of {', '.join(sorted(COUNT_OPERATORS))}",
            f"{path}.operator",
        )
    if node.get("operator_value") is None:
        raise _Unsupported("missing_key", "operator_value is required", f"{path}.operator_value")
    return operator, _as_int(node.get("operator_value"), f"{path}.operator_value")


def _person_values(operator: str, value: Any, path: str) -> list[str]:
    """Normalise a person filter's value to a list of strings (exact/is_not may list several)."""
    if operator in {"is_set", "is_not_set"}:
        return []
    items = value if isinstance(value, list) else [value]
    if not items:
        raise _Unsupported("bad_value", f"operator {operator!r} needs a value", path)
    out: list[str] = []
    for item in items:
        if item is None or isinstance(item, dict | list):
            raise _Unsupported("bad_value", f"value {item!r} is not a string or number", path)
        text = ("true" if item else "false") if isinstance(item, bool) else str(item)
        if len(text) > MAX_VALUE_CHARS:
            raise _Unsupported("bad_value", f"value is longer than {MAX_VALUE_CHARS} characters", path)
        out.append(text)
    if operator not in {"exact", "is_not"} and len(out) != 1:
        raise _Unsupported("bad_value", f"operator {operator!r} takes one value, got {len(out)}", path)
    if operator in {"gt", "lt"}:
        try:
            float(out[0])
        except ValueError:
            raise _Unsupported(
                "bad_value", f"operator {operator!r} needs a number, got {out[0]!r}", path
            ) from None
    if operator in {"regex", "not_regex"}:
        try:
            re.compile(out[0])
        except re.error as exc:
            raise _Unsupported("bad_value", f"invalid regular expression {out[0]!r}: {exc}", path) from None
    return out


def _person_row(node: Mapping[str, Any], path: str) -> dict[str, Any]:
    key = _as_text(node.get("key"), f"{path}.key", "person property key")
    operator = node.get("operator") or "exact"
    if not isinstance(operator, str) or operator not in PERSON_OPERATORS:
        raise _Unsupported(
            "unsupported_operator",
            f"person operator {operator!r} is not one of {', '.join(sorted(PERSON_OPERATORS))}",
            f"{path}.operator",
        )
    values = _person_values(operator, node.get("value"), f"{path}.value")
    return {
        "node_type": "person",
        "prop_key": key,
        "prop_operator": operator,
        "prop_values": json.dumps(values),
    }


def _cohort_row(node: Mapping[str, Any], path: str) -> dict[str, Any]:
    ref = node.get("value")
    if isinstance(ref, bool) or ref is None or (isinstance(ref, str) and not ref.strip()):
        raise _Unsupported(
            "missing_key", "cohort filter needs the referenced cohort id in 'value'", f"{path}.value"
        )
    if isinstance(ref, float) and ref.is_integer():
        ref = int(ref)
    if not isinstance(ref, int | str):
        raise _Unsupported("bad_value", f"cohort id {ref!r} is not a number or string", f"{path}.value")
    return {"node_type": "cohort", "cohort_ref": str(ref).strip()}


def _behavioral_row(node: Mapping[str, Any], path: str) -> dict[str, Any]:
    kind = node.get("value")
    if not isinstance(kind, str) or kind not in BEHAVIOR_KINDS:
        raise _Unsupported(
            "unknown_behavioral_kind", f"behavioral kind {kind!r} is not supported", f"{path}.value"
        )
    if (node.get("event_type") or "events") != "events":
        raise _Unsupported(
            "action_filter", "filters on actions are not supported (use an event name)", f"{path}.event_type"
        )
    if node.get("event_filters"):
        raise _Unsupported(
            "event_property_filters",
            "event property filters on behavioral filters are not supported",
            f"{path}.event_filters",
        )
    row: dict[str, Any] = {
        "node_type": "behavioral",
        "behavior_kind": kind,
        "event_key": _as_text(node.get("key"), f"{path}.key", "event name"),
    }
    if kind == "performed_event_regularly":
        period = _time_window(node, path)
        total = _as_int(node.get("total_periods"), f"{path}.total_periods", minimum=1, maximum=MAX_PERIODS)
        minimum = _as_int(node.get("min_periods"), f"{path}.min_periods", minimum=1, maximum=MAX_PERIODS)
        if minimum > total:
            raise _Unsupported(
                "bad_value",
                f"min_periods ({minimum}) is larger than total_periods ({total})",
                f"{path}.min_periods",
            )
        operator, operator_value = _count_operator(node, path)
        row.update(
            period_seconds=period,
            window_seconds=period * total,
            total_periods=total,
            min_periods=minimum,
            operator=operator,
            operator_value=operator_value,
        )
        return row
    row["window_seconds"] = _time_window(node, path)
    if kind == "performed_event_multiple":
        row["operator"], row["operator_value"] = _count_operator(node, path)
    elif kind == "performed_event_sequence":
        if (node.get("seq_event_type") or "events") != "events":
            raise _Unsupported(
                "action_filter", "sequences on actions are not supported", f"{path}.seq_event_type"
            )
        row["seq_event"] = _as_text(node.get("seq_event"), f"{path}.seq_event", "seq_event")
        row["seq_window_seconds"] = _seq_window(node, path)
    elif kind in {"stopped_performing_event", "restarted_performing_event"}:
        seq = _seq_window(node, path)
        if seq >= row["window_seconds"]:
            raise _Unsupported(
                "bad_time_window",
                f"the seq window ({seq}s) must be shorter than the time window ({row['window_seconds']}s)",
                f"{path}.seq_time_value",
            )
        row["seq_window_seconds"] = seq
    return row


class _Flattener:
    """Depth-first walk that numbers nodes and records each one as a row."""

    def __init__(self, project_id: int | None, cohort_id: str, label: str, strict: bool) -> None:
        self.project_id = project_id
        self.cohort_id = cohort_id
        self.label = label
        self.strict = strict
        self.rows: list[dict[str, Any]] = []

    def _new_row(self, parent: int | None, depth: int, index: int, negation: bool) -> dict[str, Any]:
        row = _empty_row()
        row.update(
            project_id=self.project_id,
            cohort_id=self.cohort_id,
            node_id=len(self.rows),
            parent_node_id=parent,
            depth=depth,
            child_index=index,
            negation=negation,
        )
        self.rows.append(row)
        return row

    def unsupported(self, problem: _Unsupported, parent: int | None, depth: int, index: int) -> None:
        if self.strict:
            raise CohortFilterError(self.label, problem.path, problem.code, problem.detail)
        row = self._new_row(parent, depth, index, False)
        row.update(
            node_type="unsupported", unsupported_reason=f"{problem.code}: {problem.detail} at {problem.path}"
        )

    def node(self, node: Any, path: str, parent: int | None, depth: int, index: int) -> None:
        try:
            self._node(node, path, parent, depth, index)
        except _Unsupported as problem:
            self.unsupported(problem, parent, depth, index)

    def _node(self, node: Any, path: str, parent: int | None, depth: int, index: int) -> None:
        if depth > MAX_DEPTH:
            raise _Unsupported("too_deep", f"groups are nested deeper than {MAX_DEPTH} levels", path)
        if not isinstance(node, Mapping):
            raise _Unsupported("bad_group", f"expected an object, got {type(node).__name__}", path)
        kind = node.get("type")
        kind_text = kind.upper() if isinstance(kind, str) else None
        if kind_text in {"AND", "OR"}:
            self._group(node, kind_text, path, parent, depth, index)
            return
        negation = _as_bool(node.get("negation"), f"{path}.negation")
        if kind == "person":
            fields = _person_row(node, path)
        elif kind == "cohort":
            fields = _cohort_row(node, path)
        elif kind == "behavioral":
            fields = _behavioral_row(node, path)
        elif kind in ("static-cohort", "precalculated-cohort"):
            fields = _cohort_row(node, path)
        else:
            raise _Unsupported(
                "unknown_filter_type", f"filter type {kind!r} is not supported", f"{path}.type"
            )
        row = self._new_row(parent, depth, index, negation)
        row.update(fields)

    def _group(
        self, node: Mapping[str, Any], logic: str, path: str, parent: int | None, depth: int, index: int
    ) -> None:
        values = node.get("values")
        if values is None:
            values = []
        if not isinstance(values, list):
            raise _Unsupported("bad_group", "group 'values' must be a list", f"{path}.values")
        negation = _as_bool(node.get("negation"), f"{path}.negation")
        row = self._new_row(parent, depth, index, negation)
        row.update(node_type="group", group_logic=logic)
        for child_index, child in enumerate(values):
            self.node(child, f"{path}.values[{child_index}]", row["node_id"], depth + 1, child_index)

    def legacy_groups(self, groups: list[Any]) -> None:
        """Old cohorts: a list of OR-ed groups, each AND-ing its person properties and one event/action."""
        root = self._new_row(None, 0, 0, False)
        root.update(node_type="group", group_logic="OR")
        for group_index, group in enumerate(groups):
            path = f"groups[{group_index}]"
            try:
                self._legacy_group(group, path, group_index)
            except _Unsupported as problem:
                self.unsupported(problem, 0, 1, group_index)

    def _legacy_group(self, group: Any, path: str, index: int) -> None:
        if not isinstance(group, Mapping):
            raise _Unsupported("bad_group", f"expected an object, got {type(group).__name__}", path)
        if group.get("action_id") is not None:
            raise _Unsupported("action_filter", "filters on actions are not supported", f"{path}.action_id")
        properties = group.get("properties") or []
        if not isinstance(properties, list):
            raise _Unsupported("bad_group", "legacy group 'properties' must be a list", f"{path}.properties")
        row = self._new_row(0, 1, index, False)
        row.update(node_type="group", group_logic="AND")
        child = 0
        for prop_index, prop in enumerate(properties):
            self.node(prop, f"{path}.properties[{prop_index}]", row["node_id"], 2, child)
            child += 1
        if group.get("event_id") is not None:
            legacy = {
                "type": "behavioral",
                "key": group.get("event_id"),
                "value": "performed_event",
                "time_value": group.get("days") or 365 * 100,
                "time_interval": "day",
            }
            if group.get("count") is not None:
                legacy.update(
                    value="performed_event_multiple",
                    operator=group.get("count_operator") or "gte",
                    operator_value=group.get("count"),
                )
            self.node(legacy, f"{path}.event_id", row["node_id"], 2, child)


def flatten_cohort(cohort: dict, project_id: int | None, cohort_id: str, strict: bool) -> list[dict]:
    """Node rows (schema ``COHORT_NODE_SCHEMA``) for one PostHog cohort, root group first (node_id 0).

    ``strict`` raises ``CohortFilterError`` on the first problem; otherwise every problem becomes an
    ``unsupported`` row carrying ``unsupported_reason`` ("<code>: <detail> at <path>").
    """
    name = cohort.get("name") if isinstance(cohort, Mapping) else None
    label = f"{cohort_id!r}" + (f" ({name})" if name and str(name) != cohort_id else "")
    walker = _Flattener(project_id, cohort_id, label, strict)
    if not isinstance(cohort, Mapping):
        walker.unsupported(_Unsupported("bad_group", "cohort is not an object", "cohort"), None, 0, 0)
        return walker.rows
    if cohort.get("is_static"):
        walker.unsupported(
            _Unsupported(
                "static_cohort", "static cohort: members are an uploaded list, not filters", "is_static"
            ),
            None,
            0,
            0,
        )
        return walker.rows
    filters = cohort.get("filters")
    if isinstance(filters, str):
        try:
            filters = json.loads(filters)
        except json.JSONDecodeError as exc:
            walker.unsupported(
                _Unsupported("bad_group", f"filters is not valid JSON: {exc}", "filters"), None, 0, 0
            )
            return walker.rows
    if filters is not None and not isinstance(filters, Mapping):
        walker.unsupported(_Unsupported("bad_group", "filters must be an object", "filters"), None, 0, 0)
        return walker.rows
    properties = (filters or {}).get("properties")
    if isinstance(properties, list) and properties:
        # Older filter JSON lists the filters directly; PostHog AND-s them.
        properties = {"type": "AND", "values": properties}
    groups = cohort.get("groups")
    is_group = isinstance(properties, Mapping) and str(properties.get("type", "")).upper() in {"AND", "OR"}
    if is_group and properties.get("values"):
        walker.node(properties, "properties", None, 0, 0)
    elif isinstance(groups, list) and groups:
        walker.legacy_groups(groups)
    elif properties not in (None, {}, []) and not is_group:
        walker.node(properties, "properties", None, 0, 0)
    else:
        walker.unsupported(
            _Unsupported("empty_filters", "the cohort has no filters", "filters.properties"), None, 0, 0
        )
    return walker.rows


def cohort_nodes_table(rows: list[dict]) -> pa.Table:
    """Arrow table with the exact node schema (also when there are no rows)."""
    return pa.Table.from_pylist(rows, schema=COHORT_NODE_SCHEMA)
