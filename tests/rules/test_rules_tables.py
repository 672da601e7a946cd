"""The rule set becomes the posthog_rules tables of CONTRACTS: exact columns, typed, one row per rule."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from rules.loader import load_rules
from rules.tables import TABLE_NAMES, rule_tables

EXPECTED_COLUMNS = {
    "event_classification": ["rule_id", "match_kind", "match_value", "event_type", "action_type", "priority"],
    "page_names": ["rule_id", "match_kind", "path", "page_name", "priority"],
    "label_templates": ["event_name", "template"],
    "label_template_parts": ["event_name", "part_index", "part_kind", "value"],
    "element_enrichment": ["rule_id", "attribute", "description", "priority"],
    "pattern_rules": [
        "code",
        "severity",
        "description",
        "min_count",
        "time_window_seconds",
        "negative_window_seconds",
        "min_duration_seconds",
        "max_duration_seconds",
        "min_events",
        "max_events",
        "min_pageviews",
        "max_pageviews",
        "enabled",
    ],
    "pattern_filters": ["code", "role", "field", "value"],
    "cohort_definitions": ["project_id", "cohort_id", "name", "description", "is_static", "source"],
    "cohort_filter_nodes": [
        "project_id",
        "cohort_id",
        "node_id",
        "parent_node_id",
        "depth",
        "child_index",
        "node_type",
        "group_logic",
        "negation",
        "prop_key",
        "prop_operator",
        "prop_values",
        "cohort_ref",
        "behavior_kind",
        "event_key",
        "window_seconds",
        "operator",
        "operator_value",
        "seq_event",
        "seq_window_seconds",
        "total_periods",
        "min_periods",
        "period_seconds",
        "unsupported_reason",
    ],
    "privacy_redactions": ["property_key", "reason"],
}

SMALL_RULES = {
    "classification.yaml": """
events:
  $pageview: {event_type: pageview, action_type: view}
  $autocapture: {event_type: click, action_type: click}
  product_clicked: {event_type: custom, action_type: select}
autocapture_event_types:
  submit: {action_type: submit}
keywords:
  - {keyword: Click, action_type: click}
  - {keyword: open, action_type: navigate}
""",
    "pages.yaml": "pages:\n  - {equals: /, name: home page}\n  - {prefix: /billing, name: billing page}\n",
    "labels.yaml": (
        'labels:\n  product_clicked: "Selected product: {product_name}"\n'
        '  form_submitted: "Sent {form_name} form"\n'
    ),
    "elements.yaml": (
        "elements:\n  - {attribute: data-ph-capture-attribute-nav, description: 'navigation {base_type}'}\n"
    ),
    "patterns.yaml": """
patterns:
  - code: checkout_abandoned
    severity: high
    description: Started checkout, no order.
    match: {label_contains: [checkout], event_type: pageview}
    min_count: 2
    time_window_minutes: 1.5
    unless: {event_name: [order_completed, purchase]}
    unless_within_minutes: 30
    session: {min_events: 2, max_duration_seconds: 600}
  - code: quiet
    severity: LOW
    description: Disabled.
    enabled: false
""",
    "cohorts.yaml": """
cohorts:
  - key: buyers
    name: Buyers
    project_id: 7
    filters:
      properties:
        type: OR
        values:
          - {type: behavioral, key: purchase, value: performed_event, explicit_datetime: "-2w"}
          - type: AND
            values:
              - {type: person, key: plan, operator: exact, value: [pro, team]}
              - {type: cohort, key: id, value: browsers, negation: true}
  - key: browsers
    name: Browsers
    filters: {properties: {type: AND, values: [{type: person, key: email, operator: is_not_set}]}}
""",
    "privacy.yaml": "redact:\n  Email: contact\n  $ip: network\n",
}


def write_rules(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_every_table_has_the_contract_columns(rules_dir: Path) -> None:
    tables = rule_tables(load_rules(rules_dir))
    assert set(tables) == set(TABLE_NAMES) == set(EXPECTED_COLUMNS)
    for name, columns in EXPECTED_COLUMNS.items():
        assert tables[name].column_names == columns, name
        assert tables[name].num_rows > 0, name


def test_empty_rules_give_typed_empty_tables(empty_rules_dir: Path) -> None:
    tables = rule_tables(load_rules(empty_rules_dir))
    for name, columns in EXPECTED_COLUMNS.items():
        assert tables[name].num_rows == 0
        assert tables[name].column_names == columns
    assert tables["pattern_rules"].schema.field("enabled").type == pa.bool_()
    assert tables["cohort_filter_nodes"].schema.field("window_seconds").type == pa.int64()
    assert tables["page_names"].schema.field("priority").type == pa.int32()


def test_rows_of_a_small_rule_set(tmp_path: Path) -> None:
    tables = {
        k: v.to_pylist() for k, v in rule_tables(load_rules(write_rules(tmp_path, SMALL_RULES))).items()
    }

    classification = {(r["match_kind"], r["match_value"]): r for r in tables["event_classification"]}
    assert classification[("event", "$pageview")]["event_type"] == "pageview"
    assert classification[("autocapture_event_type", "submit")]["event_type"] == "click"
    assert classification[("keyword", "click")]["event_type"] == "custom"  # keywords are lower-cased
    prio = {key: row["priority"] for key, row in classification.items()}
    assert prio[("autocapture_event_type", "submit")] < prio[("event", "$autocapture")]
    assert prio[("event", "product_clicked")] < prio[("keyword", "click")] < prio[("keyword", "open")]

    assert [(r["match_kind"], r["path"], r["page_name"], r["priority"]) for r in tables["page_names"]] == [
        ("equals", "/", "home page", 1),
        ("prefix", "/billing", "billing page", 2),
    ]
    parts = [
        (r["event_name"], r["part_index"], r["part_kind"], r["value"]) for r in tables["label_template_parts"]
    ]
    assert parts == [
        ("product_clicked", 0, "text", "Selected product: "),
        ("product_clicked", 1, "property", "product_name"),
        ("form_submitted", 0, "text", "Sent "),
        ("form_submitted", 1, "property", "form_name"),
        ("form_submitted", 2, "text", " form"),
    ]
    assert tables["element_enrichment"] == [
        {
            "rule_id": "elements[0]",
            "attribute": "data-ph-capture-attribute-nav",
            "description": "navigation {base_type}",
            "priority": 1,
        }
    ]

    rules = {r["code"]: r for r in tables["pattern_rules"]}
    assert rules["checkout_abandoned"] == {
        "code": "checkout_abandoned",
        "severity": "HIGH",
        "description": "Started checkout, no order.",
        "min_count": 2,
        "time_window_seconds": 90,
        "negative_window_seconds": 1800,
        "min_duration_seconds": None,
        "max_duration_seconds": 600,
        "min_events": 2,
        "max_events": None,
        "min_pageviews": None,
        "max_pageviews": None,
        "enabled": True,
    }
    assert rules["quiet"]["enabled"] is False and rules["quiet"]["min_count"] == 1
    assert sorted((r["role"], r["field"], r["value"]) for r in tables["pattern_filters"]) == [
        ("negative", "event_name", "order_completed"),
        ("negative", "event_name", "purchase"),
        ("positive", "event_type", "pageview"),
        ("positive", "label_contains", "checkout"),
    ]

    assert tables["cohort_definitions"] == [
        {
            "project_id": 7,
            "cohort_id": "rules:buyers",
            "name": "Buyers",
            "description": "",
            "is_static": False,
            "source": "rules",
        },
        {
            "project_id": None,
            "cohort_id": "rules:browsers",
            "name": "Browsers",
            "description": "",
            "is_static": False,
            "source": "rules",
        },
    ]
    nodes = [r for r in tables["cohort_filter_nodes"] if r["cohort_id"] == "rules:buyers"]
    assert [(n["node_id"], n["parent_node_id"], n["depth"], n["node_type"]) for n in nodes] == [
        (0, None, 0, "group"),
        (1, 0, 1, "behavioral"),
        (2, 0, 1, "group"),
        (3, 2, 2, "person"),
        (4, 2, 2, "cohort"),
    ]
    assert nodes[1]["window_seconds"] == 14 * 86400 and nodes[1]["project_id"] == 7
    assert json.loads(nodes[3]["prop_values"]) == ["pro", "team"]
    assert nodes[4]["cohort_ref"] == "rules:browsers" and nodes[4]["negation"] is True

    assert tables["privacy_redactions"] == [
        {"property_key": "email", "reason": "contact"},
        {"property_key": "$ip", "reason": "network"},
    ]
