"""Cohorts served by the demo API, in the shape of PostHog's cohorts API.

They cover every behavioral kind, person-property operators, nested AND/OR groups, negation,
cohort-in-cohort, one static cohort and one cohort the warehouse cannot evaluate (an actions-based
filter), so the cohort SQL is exercised on realistic definitions. Persona expectations in
`personas.py` are written against these definitions.
"""

from __future__ import annotations

from typing import Any

_CREATED_AT = "2026-01-15T09:30:00Z"
_BASE_ID = 100


def _group(kind: str, *values: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "values": list(values)}


def _person(key: str, operator: str, value: Any = None, negation: bool = False) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": "person", "key": key, "operator": operator, "negation": negation}
    if value is not None:
        prop["value"] = value
    return prop


def _behavior(
    kind: str,
    event: str,
    *,
    time_value: int | None = None,
    time_interval: str = "day",
    negation: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    prop: dict[str, Any] = {
        "type": "behavioral",
        "key": event,
        "value": kind,
        "event_type": "events",
        "negation": negation,
    }
    if time_value is not None:
        prop["time_value"] = time_value
        prop["time_interval"] = time_interval
    prop.update(extra)
    return prop


def _cohort_ref(cohort_id: int, negation: bool = False) -> dict[str, Any]:
    return {"type": "cohort", "key": "id", "value": cohort_id, "negation": negation}


def _definitions() -> list[tuple[str, str, dict[str, Any] | None, bool]]:
    """(name, description, root group or None, is_static) in id order."""
    pro_id = _BASE_ID + 8
    return [
        (
            "Checkout starters (30d)",
            "Started a checkout in the last 30 days.",
            _group("OR", _group("AND", _behavior("performed_event", "checkout_started", time_value=30))),
            False,
        ),
        (
            "Heavy clickers (7d)",
            "At least 20 autocaptured interactions in the last 7 days.",
            _group(
                "AND",
                _behavior(
                    "performed_event_multiple",
                    "$autocapture",
                    explicit_datetime="-7d",
                    operator="gte",
                    operator_value=20,
                ),
            ),
            False,
        ),
        (
            "New signups (7d)",
            "Completed signup for the first time within the last week.",
            _group(
                "AND",
                _behavior(
                    "performed_event_first_time", "signup_completed", time_value=1, time_interval="week"
                ),
            ),
            False,
        ),
        (
            "Pricing then signup",
            "Viewed a page and completed signup within a day after it (30 days).",
            _group(
                "AND",
                _behavior(
                    "performed_event_sequence",
                    "$pageview",
                    time_value=30,
                    seq_event="signup_completed",
                    seq_event_type="events",
                    seq_time_value=1,
                    seq_time_interval="day",
                ),
            ),
            False,
        ),
        (
            "Weekly regulars",
            "Viewed pages in at least 3 of the last 4 weeks.",
            _group(
                "AND",
                _behavior(
                    "performed_event_regularly",
                    "$pageview",
                    time_value=1,
                    time_interval="week",
                    operator="gte",
                    operator_value=1,
                    total_periods=4,
                    min_periods=3,
                ),
            ),
            False,
        ),
        (
            "Lapsed buyers",
            "Ordered in the last 60 days but not in the last 14 days.",
            _group(
                "AND",
                _behavior(
                    "stopped_performing_event",
                    "order_completed",
                    time_value=60,
                    seq_time_value=14,
                    seq_time_interval="day",
                ),
            ),
            False,
        ),
        (
            "Returning after a break",
            "Active more than 30 days ago, quiet for weeks, back this week.",
            _group(
                "AND",
                _behavior(
                    "restarted_performing_event",
                    "$pageview",
                    time_value=30,
                    seq_time_value=7,
                    seq_time_interval="day",
                ),
            ),
            False,
        ),
        (
            "Gmail users",
            "Email address at gmail.",
            _group("AND", _person("email", "icontains", "@gmail.")),
            False,
        ),
        (
            "Pro plan customers",
            "On a paid plan (pro or enterprise).",
            _group("AND", _person("plan", "exact", ["pro", "enterprise"])),
            False,
        ),
        (
            "Outside US",
            "Country known and not the United States.",
            _group(
                "AND",
                _person("$geoip_country_code", "is_set", "is_set"),
                _person("$geoip_country_code", "is_not", ["US"]),
            ),
            False,
        ),
        (
            "Company email domains",
            "Works at one of the pilot companies.",
            _group("AND", _person("email", "regex", r"@(acme|initech)\.com$")),
            False,
        ),
        ("Large teams", "More than ten seats.", _group("AND", _person("seats", "gt", 10)), False),
        (
            "Engaged non-paying users",
            "Active this week (3+ pageviews, or identified and clicking) and not on a paid plan.",
            _group(
                "AND",
                _group(
                    "OR",
                    _behavior(
                        "performed_event_multiple",
                        "$pageview",
                        time_value=7,
                        operator="gte",
                        operator_value=3,
                    ),
                    _group(
                        "AND",
                        _person("email", "is_set", "is_set"),
                        _behavior("performed_event", "$autocapture", time_value=7),
                    ),
                ),
                _cohort_ref(pro_id, negation=True),
            ),
            False,
        ),
        ("Beta testers (static)", "Uploaded list of beta testers.", None, True),
        (
            "Purchasers (action)",
            "Performed the 'Purchase' action in the last 30 days.",
            _group(
                "AND",
                {
                    "type": "behavioral",
                    "key": 7,
                    "value": "performed_event",
                    "event_type": "actions",
                    "time_value": 30,
                    "time_interval": "day",
                    "negation": False,
                },
            ),
            False,
        ),
    ]


def demo_cohorts(project_id: int = 1) -> list[dict[str, Any]]:
    """Cohort dicts as `GET /api/projects/{id}/cohorts/` returns them in `results`."""
    cohorts = []
    for offset, (name, description, root, is_static) in enumerate(_definitions()):
        cohort_id = _BASE_ID + offset
        cohorts.append(
            {
                "id": cohort_id,
                "name": name,
                "description": description,
                "groups": [],
                "filters": {"properties": root if root is not None else {"type": "AND", "values": []}},
                "query": None,
                "deleted": False,
                "is_static": is_static,
                "is_calculating": False,
                "count": 3 if is_static else None,
                "created_at": _CREATED_AT,
                "last_calculation": _CREATED_AT,
                "errors_calculating": 0,
                "version": 1,
            }
        )
    return cohorts
