"""The rule set as Arrow tables, one per ``posthog_rules`` table, with fixed typed schemas.

Fixed schemas matter: an empty rule file must still produce a table with every column, so the SQL that
joins it keeps compiling, and types never depend on which values happen to be present.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ingestion.posthog.cohort_filters import COHORT_NODE_SCHEMA
from rules.models import RuleSet
from rules.templates import parse_template

# Priorities (lower wins): the $event_type of an $autocapture beats the $autocapture fallback, exact
# event names beat keyword rules, and among keywords the earlier line in the file wins.
AUTOCAPTURE_PRIORITY = 10
EVENT_PRIORITY = 100
KEYWORD_PRIORITY = 1000

SCHEMAS: dict[str, pa.Schema] = {
    "event_classification": pa.schema(
        [
            ("rule_id", pa.string()),
            ("match_kind", pa.string()),
            ("match_value", pa.string()),
            ("event_type", pa.string()),
            ("action_type", pa.string()),
            ("priority", pa.int32()),
        ]
    ),
    "page_names": pa.schema(
        [
            ("rule_id", pa.string()),
            ("match_kind", pa.string()),
            ("path", pa.string()),
            ("page_name", pa.string()),
            ("priority", pa.int32()),
        ]
    ),
    "label_templates": pa.schema([("event_name", pa.string()), ("template", pa.string())]),
    "label_template_parts": pa.schema(
        [
            ("event_name", pa.string()),
            ("part_index", pa.int32()),
            ("part_kind", pa.string()),
            ("value", pa.string()),
        ]
    ),
    "element_enrichment": pa.schema(
        [
            ("rule_id", pa.string()),
            ("attribute", pa.string()),
            ("description", pa.string()),
            ("priority", pa.int32()),
        ]
    ),
    "pattern_rules": pa.schema(
        [
            ("code", pa.string()),
            ("severity", pa.string()),
            ("description", pa.string()),
            ("min_count", pa.int64()),
            ("time_window_seconds", pa.int64()),
            ("negative_window_seconds", pa.int64()),
            ("min_duration_seconds", pa.int64()),
            ("max_duration_seconds", pa.int64()),
            ("min_events", pa.int64()),
            ("max_events", pa.int64()),
            ("min_pageviews", pa.int64()),
            ("max_pageviews", pa.int64()),
            ("enabled", pa.bool_()),
        ]
    ),
    "pattern_filters": pa.schema(
        [
            ("code", pa.string()),
            ("role", pa.string()),
            ("field", pa.string()),
            ("value", pa.string()),
        ]
    ),
    "cohort_definitions": pa.schema(
        [
            ("project_id", pa.int64()),
            ("cohort_id", pa.string()),
            ("name", pa.string()),
            ("description", pa.string()),
            ("is_static", pa.bool_()),
            ("source", pa.string()),
        ]
    ),
    "cohort_filter_nodes": COHORT_NODE_SCHEMA,
    "privacy_redactions": pa.schema([("property_key", pa.string()), ("reason", pa.string())]),
}
TABLE_NAMES: tuple[str, ...] = tuple(SCHEMAS)


def _classification_rows(ruleset: RuleSet) -> list[dict[str, Any]]:
    rules = ruleset.classification
    rows = []
    for index, (value, rule) in enumerate(rules.autocapture_event_types.items()):
        rows.append(
            dict(
                rule_id=f"autocapture_event_type:{value}",
                match_kind="autocapture_event_type",
                match_value=value,
                event_type=rule.event_type,
                action_type=rule.action_type,
                priority=AUTOCAPTURE_PRIORITY + index,
            )
        )
    for index, (name, rule) in enumerate(rules.events.items()):
        rows.append(
            dict(
                rule_id=f"event:{name}",
                match_kind="event",
                match_value=name,
                event_type=rule.event_type,
                action_type=rule.action_type,
                priority=EVENT_PRIORITY + index,
            )
        )
    for index, rule in enumerate(rules.keywords):
        rows.append(
            dict(
                rule_id=f"keyword:{rule.keyword}",
                match_kind="keyword",
                match_value=rule.keyword,
                event_type=rule.event_type,
                action_type=rule.action_type,
                priority=KEYWORD_PRIORITY + index,
            )
        )
    return rows


def _pattern_rows(ruleset: RuleSet) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rules, filters = [], []
    for pattern in ruleset.patterns.patterns:
        session = pattern.session
        rules.append(
            dict(
                code=pattern.code,
                severity=pattern.severity,
                description=pattern.description,
                min_count=pattern.min_count,
                time_window_seconds=pattern.time_window_seconds,
                negative_window_seconds=pattern.negative_window_seconds,
                min_duration_seconds=session.min_duration_seconds if session else None,
                max_duration_seconds=session.max_duration_seconds if session else None,
                min_events=session.min_events if session else None,
                max_events=session.max_events if session else None,
                min_pageviews=session.min_pageviews if session else None,
                max_pageviews=session.max_pageviews if session else None,
                enabled=pattern.enabled,
            )
        )
        for role, spec in (("positive", pattern.match), ("negative", pattern.unless)):
            for field, value in spec.items() if spec else []:
                filters.append(dict(code=pattern.code, role=role, field=field, value=value))
    return rules, filters


def rule_rows(ruleset: RuleSet) -> dict[str, list[dict[str, Any]]]:
    """Rows of every rules table as plain dicts (same names and columns as ``SCHEMAS``)."""
    pattern_rules, pattern_filters = _pattern_rows(ruleset)
    parts = []
    for event_name, template in ruleset.labels.labels.items():
        for index, part in enumerate(parse_template(template)):
            parts.append(dict(event_name=event_name, part_index=index, part_kind=part.kind, value=part.value))
    nodes = [row for rows in ruleset.cohort_nodes.values() for row in rows]
    return {
        "event_classification": _classification_rows(ruleset),
        "page_names": [
            dict(
                rule_id=f"pages[{i}]", match_kind=p.match_kind, path=p.path, page_name=p.name, priority=i + 1
            )
            for i, p in enumerate(ruleset.pages.pages)
        ],
        "label_templates": [
            dict(event_name=name, template=template) for name, template in ruleset.labels.labels.items()
        ],
        "label_template_parts": parts,
        "element_enrichment": [
            dict(rule_id=f"elements[{i}]", attribute=e.attribute, description=e.description, priority=i + 1)
            for i, e in enumerate(ruleset.elements.elements)
        ],
        "pattern_rules": pattern_rules,
        "pattern_filters": pattern_filters,
        "cohort_definitions": [
            dict(
                project_id=c.project_id,
                cohort_id=c.cohort_id,
                name=c.name,
                description=c.description,
                is_static=False,
                source="rules",
            )
            for c in ruleset.cohorts.cohorts
        ],
        "cohort_filter_nodes": nodes,
        "privacy_redactions": [
            dict(property_key=key.lower(), reason=reason) for key, reason in ruleset.privacy.redact.items()
        ],
    }


def rule_tables(ruleset: RuleSet) -> dict[str, pa.Table]:
    """One Arrow table per ``posthog_rules`` table, typed by ``SCHEMAS`` even when empty."""
    rows = rule_rows(ruleset)
    return {name: pa.Table.from_pylist(rows[name], schema=schema) for name, schema in SCHEMAS.items()}
