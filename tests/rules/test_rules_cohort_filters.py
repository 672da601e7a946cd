"""PostHog cohort JSON flattened into node rows: nesting, negation, every kind and operator, bad input."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from ingestion.posthog.cohort_filters import (
    COHORT_NODE_COLUMNS,
    CohortFilterError,
    cohort_nodes_table,
    flatten_cohort,
    parse_relative_datetime,
)

DAY = 86400


def cohort(*values: Any, logic: str = "AND", **extra: Any) -> dict[str, Any]:
    return {
        "id": 5,
        "name": "Test cohort",
        "filters": {"properties": {"type": logic, "values": list(values)}},
        **extra,
    }


def behavioral(kind: str, key: str = "purchase", **fields: Any) -> dict[str, Any]:
    base = {"type": "behavioral", "key": key, "value": kind, "event_type": "events"}
    if "explicit_datetime" not in fields and "time_value" not in fields:
        fields.update(time_value=7, time_interval="day")
    return {**base, **fields}


def only_leaf(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert rows[0]["node_type"] == "group"
    assert len(rows) == 2, rows
    return rows[1]


def test_nested_groups_numbered_depth_first_with_negation() -> None:
    data = cohort(
        {
            "type": "OR",
            "values": [
                {"type": "person", "key": "plan", "operator": "exact", "value": "pro"},
                {"type": "AND", "values": [behavioral("performed_event", negation=True)]},
            ],
        },
        {"type": "cohort", "key": "id", "value": 12, "negation": True},
    )
    rows = flatten_cohort(data, 3, "5", strict=True)
    shape = [
        (
            r["node_id"],
            r["parent_node_id"],
            r["depth"],
            r["child_index"],
            r["node_type"],
            r["group_logic"],
            r["negation"],
        )
        for r in rows
    ]
    assert shape == [
        (0, None, 0, 0, "group", "AND", False),
        (1, 0, 1, 0, "group", "OR", False),
        (2, 1, 2, 0, "person", None, False),
        (3, 1, 2, 1, "group", "AND", False),
        (4, 3, 3, 0, "behavioral", None, True),
        (5, 0, 1, 1, "cohort", None, True),
    ]
    assert all(r["project_id"] == 3 and r["cohort_id"] == "5" for r in rows)
    assert rows[5]["cohort_ref"] == "12"
    assert all(set(r) == set(COHORT_NODE_COLUMNS) for r in rows)


def test_deep_nesting_to_any_depth() -> None:
    node: dict[str, Any] = {"type": "person", "key": "k", "operator": "is_set", "value": "is_set"}
    for level in range(30):
        node = {"type": "OR" if level % 2 else "AND", "values": [node]}
    rows = flatten_cohort({"filters": {"properties": node}}, 1, "9", strict=True)
    assert len(rows) == 31 and rows[-1]["depth"] == 30 and rows[-1]["node_type"] == "person"


@pytest.mark.parametrize(
    ("operator", "value", "stored"),
    [
        ("exact", "pro", ["pro"]),
        ("exact", ["pro", "team", 3], ["pro", "team", "3"]),
        ("is_not", ["free"], ["free"]),
        ("icontains", "gmail", ["gmail"]),
        ("not_icontains", "test", ["test"]),
        ("regex", "^a.*z$", ["^a.*z$"]),
        ("not_regex", "[0-9]+", ["[0-9]+"]),
        ("gt", 10, ["10"]),
        ("lt", "2.5", ["2.5"]),
        ("is_set", "is_set", []),
        ("is_not_set", None, []),
        (None, "x", ["x"]),  # PostHog's default operator is exact
        ("exact", True, ["true"]),
    ],
)
def test_person_operators(operator: str | None, value: Any, stored: list[str]) -> None:
    leaf = only_leaf(
        flatten_cohort(
            cohort({"type": "person", "key": "plan", "operator": operator, "value": value}),
            1,
            "5",
            strict=True,
        )
    )
    assert leaf["node_type"] == "person" and leaf["prop_key"] == "plan"
    assert leaf["prop_operator"] == (operator or "exact")
    assert json.loads(leaf["prop_values"]) == stored


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        (behavioral("performed_event", time_value=30, time_interval="day"), {"window_seconds": 30 * DAY}),
        (behavioral("performed_event", explicit_datetime="-30d"), {"window_seconds": 30 * DAY}),
        (
            behavioral("performed_event_multiple", operator="gte", operator_value=5, explicit_datetime="-2w"),
            {"window_seconds": 14 * DAY, "operator": "gte", "operator_value": 5},
        ),
        (
            behavioral(
                "performed_event_multiple",
                operator="eq",
                operator_value="3",
                time_value=1,
                time_interval="month",
            ),
            {"window_seconds": 30 * DAY, "operator": "eq", "operator_value": 3},
        ),
        (
            behavioral("performed_event_first_time", time_value=1, time_interval="year"),
            {"window_seconds": 365 * DAY},
        ),
        (
            behavioral(
                "performed_event_sequence",
                seq_event="checkout",
                seq_time_value=2,
                seq_time_interval="hour",
                time_value=1,
                time_interval="week",
            ),
            {"window_seconds": 7 * DAY, "seq_event": "checkout", "seq_window_seconds": 7200},
        ),
        (
            behavioral(
                "performed_event_regularly",
                time_value=1,
                time_interval="week",
                total_periods=4,
                min_periods=3,
                operator="gte",
                operator_value=2,
            ),
            {
                "period_seconds": 7 * DAY,
                "window_seconds": 28 * DAY,
                "total_periods": 4,
                "min_periods": 3,
                "operator": "gte",
                "operator_value": 2,
            },
        ),
        (
            behavioral(
                "stopped_performing_event",
                time_value=30,
                time_interval="day",
                seq_time_value=7,
                seq_time_interval="day",
            ),
            {"window_seconds": 30 * DAY, "seq_window_seconds": 7 * DAY},
        ),
        (
            behavioral(
                "restarted_performing_event",
                explicit_datetime="-1m",
                seq_time_value=1,
                seq_time_interval="week",
            ),
            {"window_seconds": 30 * DAY, "seq_window_seconds": 7 * DAY},
        ),
    ],
    ids=lambda v: v.get("value") if isinstance(v, dict) and "value" in v else None,
)
def test_behavioral_kinds(filter_: dict[str, Any], expected: dict[str, Any]) -> None:
    leaf = only_leaf(flatten_cohort(cohort(filter_), None, "rules:x", strict=True))
    assert leaf["node_type"] == "behavioral"
    assert leaf["behavior_kind"] == filter_["value"] and leaf["event_key"] == "purchase"
    for column, value in expected.items():
        assert leaf[column] == value, column
    untouched = {
        "seq_event",
        "seq_window_seconds",
        "total_periods",
        "min_periods",
        "period_seconds",
        "operator",
    }
    for column in untouched - set(expected):
        assert leaf[column] is None, column


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("-30d", 30 * DAY),
        ("-2w", 14 * DAY),
        ("-1m", 30 * DAY),
        ("-1y", 365 * DAY),
        ("-12h", 12 * 3600),
        ("-0d", None),
        ("30d", None),
        ("2024-01-01", None),
        ("-1mStart", None),
    ],
)
def test_relative_datetimes(text: str, seconds: int | None) -> None:
    assert parse_relative_datetime(text) == seconds


def test_explicit_datetime_wins_over_time_value() -> None:
    leaf = only_leaf(
        flatten_cohort(
            cohort(
                behavioral("performed_event", explicit_datetime="-1w", time_value=90, time_interval="day")
            ),
            1,
            "5",
            True,
        )
    )
    assert leaf["window_seconds"] == 7 * DAY


UNSUPPORTED = [
    (behavioral("performed_event", event_type="actions", key=17), "action_filter", "values[1].event_type"),
    (behavioral("performed_event_often"), "unknown_behavioral_kind", "values[1].value"),
    ({"type": "element", "key": "text", "value": "x"}, "unknown_filter_type", "values[1].type"),
    (
        {"type": "person", "key": "age", "operator": "between", "value": [1, 2]},
        "unsupported_operator",
        "values[1].operator",
    ),
    ({"type": "person", "key": "age", "operator": "gt", "value": "old"}, "bad_value", "values[1].value"),
    (
        {"type": "person", "key": "a", "operator": "regex", "value": "(unclosed"},
        "bad_value",
        "values[1].value",
    ),
    (
        {"type": "person", "key": "a", "operator": "icontains", "value": {"x": 1}},
        "bad_value",
        "values[1].value",
    ),
    ({"type": "person", "operator": "exact", "value": "x"}, "missing_key", "values[1].key"),
    (
        behavioral("performed_event", explicit_datetime="2024-01-01"),
        "bad_time_window",
        "values[1].explicit_datetime",
    ),
    (
        behavioral("performed_event", time_value=3, time_interval="fortnight"),
        "bad_time_window",
        "values[1].time_interval",
    ),
    (behavioral("performed_event", time_value=0, time_interval="day"), "bad_value", "values[1].time_value"),
    (behavioral("performed_event_multiple", operator="gte"), "missing_key", "values[1].operator_value"),
    (
        behavioral("performed_event_multiple", operator="between", operator_value=2),
        "unsupported_operator",
        "values[1].operator",
    ),
    (behavioral("performed_event_sequence", seq_event="b"), "bad_time_window", "values[1]"),
    (
        behavioral("stopped_performing_event", seq_time_value=30, seq_time_interval="day"),
        "bad_time_window",
        "values[1].seq_time_value",
    ),
    (
        behavioral("performed_event_regularly", total_periods=2, min_periods=3, operator_value=1),
        "bad_value",
        "values[1].min_periods",
    ),
    (
        behavioral(
            "performed_event", event_filters=[{"key": "$browser", "value": "Chrome", "type": "event"}]
        ),
        "event_property_filters",
        "values[1].event_filters",
    ),
    ({"type": "cohort", "key": "id", "value": None}, "missing_key", "values[1].value"),
    ({"type": "OR", "values": "not a list"}, "bad_group", "values[1].values"),
    ("just a string", "bad_group", "values[1]"),
    (
        {"type": "person", "key": "a", "operator": "exact", "value": "x", "negation": "maybe"},
        "bad_value",
        "values[1].negation",
    ),
]


@pytest.mark.parametrize(("bad", "code", "path"), UNSUPPORTED, ids=[c for _, c, _ in UNSUPPORTED])
def test_unsupported_filters_become_rows_when_lenient(bad: Any, code: str, path: str) -> None:
    good = {"type": "person", "key": "plan", "operator": "exact", "value": "pro"}
    rows = flatten_cohort(cohort(good, bad, good), 1, "5", strict=False)
    assert [r["node_type"] for r in rows] == ["group", "person", "unsupported", "person"]
    reason = rows[2]["unsupported_reason"]
    assert reason.startswith(code + ":"), reason
    assert reason.endswith("at properties." + path), reason
    assert (rows[2]["parent_node_id"], rows[2]["child_index"]) == (0, 1)


@pytest.mark.parametrize(("bad", "code", "path"), UNSUPPORTED, ids=[c for _, c, _ in UNSUPPORTED])
def test_unsupported_filters_raise_when_strict(bad: Any, code: str, path: str) -> None:
    good = {"type": "person", "key": "plan", "operator": "exact", "value": "pro"}
    with pytest.raises(CohortFilterError) as caught:
        flatten_cohort(cohort(good, bad), 1, "5", strict=True)
    assert caught.value.code == code
    assert caught.value.path == "properties." + path
    assert "'5' (Test cohort)" in str(caught.value) and "properties." + path in str(caught.value)


def test_static_empty_and_string_cohorts() -> None:
    static = flatten_cohort({"name": "Uploaded", "is_static": True, "filters": {}}, 1, "8", strict=False)
    assert [(r["node_type"], r["node_id"], r["parent_node_id"]) for r in static] == [("unsupported", 0, None)]
    assert static[0]["unsupported_reason"].startswith("static_cohort:")
    with pytest.raises(CohortFilterError, match="static"):
        flatten_cohort({"is_static": True}, 1, "8", strict=True)

    empty = flatten_cohort({"filters": {"properties": {"type": "AND", "values": []}}}, 1, "9", strict=False)
    assert empty[0]["unsupported_reason"].startswith("empty_filters:")

    as_text = flatten_cohort(
        {"filters": json.dumps(cohort(behavioral("performed_event"))["filters"])}, 1, "10", False
    )
    assert [r["node_type"] for r in as_text] == ["group", "behavioral"]

    broken = flatten_cohort({"filters": "{not json"}, 1, "11", strict=False)
    assert broken[0]["unsupported_reason"].startswith("bad_group:")


def test_too_deep_is_unsupported_not_a_crash() -> None:
    node: dict[str, Any] = {"type": "person", "key": "k", "operator": "is_set"}
    for _ in range(500):
        node = {"type": "AND", "values": [node]}
    rows = flatten_cohort({"filters": {"properties": node}}, 1, "12", strict=False)
    assert rows[-1]["node_type"] == "unsupported" and rows[-1]["unsupported_reason"].startswith("too_deep:")


def test_legacy_groups() -> None:
    legacy = {
        "id": 3,
        "filters": {},
        "groups": [
            {
                "properties": [
                    {"type": "person", "key": "email", "operator": "icontains", "value": "@acme.com"}
                ]
            },
            {"event_id": "signed_up", "days": 14, "count": 2, "count_operator": "gte"},
            {"action_id": 4, "days": 7},
        ],
    }
    rows = flatten_cohort(legacy, 1, "3", strict=False)
    shape = [(r["node_id"], r["parent_node_id"], r["node_type"], r["group_logic"]) for r in rows]
    assert shape == [
        (0, None, "group", "OR"),
        (1, 0, "group", "AND"),
        (2, 1, "person", None),
        (3, 0, "group", "AND"),
        (4, 3, "behavioral", None),
        (5, 0, "unsupported", None),
    ]
    assert (rows[4]["behavior_kind"], rows[4]["window_seconds"], rows[4]["operator_value"]) == (
        "performed_event_multiple",
        14 * DAY,
        2,
    )
    assert rows[5]["unsupported_reason"].startswith("action_filter:")


def test_properties_as_plain_list_are_and_ed() -> None:
    rows = flatten_cohort(
        {"filters": {"properties": [{"type": "person", "key": "a", "operator": "is_set"}]}}, 1, "4", True
    )
    assert [(r["node_type"], r["group_logic"]) for r in rows] == [("group", "AND"), ("person", None)]


def test_node_table_schema_even_when_empty() -> None:
    assert cohort_nodes_table([]).column_names == list(COHORT_NODE_COLUMNS)
    table = cohort_nodes_table(flatten_cohort(cohort(behavioral("performed_event")), 1, "5", True))
    assert table.num_rows == 2


def test_lenient_mode_never_raises_on_garbage() -> None:
    """API cohorts can hold anything: every malformed shape becomes rows, never an exception."""
    rng = random.Random(7)
    atoms: list[Any] = [
        None,
        True,
        0,
        -1,
        3,
        2.5,
        float("nan"),
        float("inf"),
        "",
        "x",
        "-30d",
        "-0d",
        "AND",
        "person",
        "behavioral",
        "cohort",
        "performed_event_regularly",
        "gte",
        "(",
        "day",
        "actions",
        10**30,
        "1e5",
        " 7 ",
        [],
        {},
    ]
    keys = [
        "type",
        "values",
        "key",
        "value",
        "operator",
        "operator_value",
        "time_value",
        "time_interval",
        "explicit_datetime",
        "negation",
        "seq_event",
        "seq_time_value",
        "seq_time_interval",
        "total_periods",
        "min_periods",
        "event_type",
        "event_filters",
        "properties",
        "groups",
        "filters",
        "is_static",
    ]

    def garbage(depth: int = 0) -> Any:
        roll = rng.random()
        if depth > 4 or roll < 0.3:
            return copy.deepcopy(rng.choice(atoms))
        if roll < 0.5:
            return [garbage(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): garbage(depth + 1) for _ in range(rng.randint(0, 5))}

    for _ in range(1500):
        tree = {
            "type": rng.choice(["AND", "OR", "and"]),
            "values": [garbage(1) for _ in range(rng.randint(0, 3))],
        }
        candidate = rng.choice([{"filters": {"properties": tree}}, garbage(), {"groups": garbage()}])
        rows = flatten_cohort(candidate, 1, "g", strict=False)
        assert rows and rows[0]["node_id"] == 0
        assert cohort_nodes_table(rows).num_rows == len(rows)
        try:
            flatten_cohort(candidate, 1, "g", strict=True)
        except CohortFilterError:
            pass
