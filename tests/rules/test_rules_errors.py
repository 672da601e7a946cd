"""Every kind of mistake in a rule file is reported naming the file, the rule and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.loader import RulesError, load_rules

PATTERN_OK = """
patterns:
  - code: ok_rule
    severity: LOW
    description: fine
    match: {event_type: pageview}
"""

COHORT_HEAD = (
    "cohorts:\n  - key: c1\n    name: C\n    filters:\n"
    "      properties:\n        type: AND\n        values:\n"
)

# (file, content, substrings the error must contain: file, rule, key and the problem)
CASES = [
    pytest.param(
        "patterns.yaml",
        PATTERN_OK + "  - code: bad\n    severity: LOW\n    description: d\n    time_window: 5\n",
        [
            "patterns.yaml:",
            "pattern 'bad' (patterns[1])",
            "key 'time_window'",
            "unknown key",
            "time_window_minutes",
        ],
        id="unknown-field",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - {code: sev, severity: CRITICAL, description: d}\n",
        ["pattern 'sev'", "key 'severity'", "'HIGH', 'MEDIUM' or 'LOW'"],
        id="bad-severity",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - {code: win, severity: LOW, description: d, time_window_minutes: -5}\n",
        ["pattern 'win'", "key 'time_window_minutes'", "greater than 0"],
        id="negative-window",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - code: zero\n    severity: LOW\n    description: d\n"
        "    unless: {event_name: x}\n    unless_within_minutes: 0\n",
        ["pattern 'zero'", "key 'unless_within_minutes'", "greater than 0"],
        id="zero-negative-window",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - {code: cnt, severity: LOW, description: d, min_count: 0}\n",
        ["pattern 'cnt'", "key 'min_count'", "greater than or equal to 1"],
        id="zero-min-count",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - code: mm\n    severity: LOW\n    description: d\n"
        "    session: {min_duration_seconds: 60, max_duration_seconds: 10}\n",
        ["pattern 'mm'", "key 'session.max_duration_seconds'", "smaller than min_duration_seconds"],
        id="min-above-max",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - code: neg\n    severity: LOW\n    description: d\n    session: {max_events: -1}\n",
        ["pattern 'neg'", "key 'session.max_events'", "greater than or equal to 0"],
        id="negative-session-bound",
    ),
    pytest.param(
        "patterns.yaml",
        PATTERN_OK + "  - code: ok_rule\n    severity: HIGH\n    description: again\n",
        ["pattern 'ok_rule' (patterns[1])", "key 'code'", "duplicate code 'ok_rule'", "patterns[0]"],
        id="duplicate-code",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - {code: flt, severity: LOW, description: d, match: {page_prefix: /x}}\n",
        ["pattern 'flt'", "key 'match.page_prefix'", "unknown key"],
        id="unknown-filter-field",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - {code: pth, severity: LOW, description: d, match: {page_path_prefix: billing}}\n",
        ["pattern 'pth'", "key 'match.page_path_prefix[0]'", "must start with '/'"],
        id="filter-path-without-slash",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - {code: unl, severity: LOW, description: d, unless_within_minutes: 5}\n",
        ["pattern 'unl'", "key 'unless_within_minutes'", "together with 'unless'"],
        id="window-without-unless",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - {code: Bad-Code, severity: LOW, description: d}\n",
        ["pattern 'Bad-Code'", "key 'code'", "not a valid name"],
        id="bad-code-characters",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - {severity: LOW, description: d}\n",
        ["pattern #1 (patterns[0])", "key 'code'", "required key is missing"],
        id="missing-code",
    ),
    pytest.param(
        "labels.yaml",
        'labels:\n  product_clicked: "Selected {product_name"\n',
        ["labels.yaml:2", "label for event 'product_clicked'", "unbalanced '{'"],
        id="unbalanced-open-brace",
    ),
    pytest.param(
        "labels.yaml",
        'labels:\n  product_clicked: "Selected product_name}"\n',
        ["label for event 'product_clicked'", "unbalanced '}'"],
        id="unbalanced-close-brace",
    ),
    pytest.param(
        "labels.yaml",
        'labels:\n  x: "Empty {} here"\n',
        ["label for event 'x'", "empty placeholder"],
        id="empty-placeholder",
    ),
    pytest.param(
        "labels.yaml",
        "labels:\n  x: \"Bad {properties['a']}\"\n",
        ["label for event 'x'", "not a simple property key"],
        id="placeholder-not-a-key",
    ),
    pytest.param(
        "labels.yaml",
        'labels:\n  x: "Nested {a.b}"\n',
        ["label for event 'x'", "{a.b}", "not a simple property key"],
        id="placeholder-with-dot",
    ),
    pytest.param(
        "labels.yaml",
        'labels:\n  x: "one"\n  y: "two"\n  x: "three"\n',
        ["labels.yaml:4", "label for event 'x'", "duplicate key (first defined on line 2)"],
        id="duplicate-event-name",
    ),
    pytest.param(
        "elements.yaml",
        "elements:\n  - {attribute: data-x, description: '{kind} card'}\n",
        ["element rule 'data-x' (elements[0])", "key 'description'", "{base_type}"],
        id="unknown-element-placeholder",
    ),
    pytest.param(
        "elements.yaml",
        "elements:\n  - {attribute: attr__data-x, description: card}\n",
        ["element rule 'attr__data-x'", "key 'attribute'", "without the 'attr__' prefix"],
        id="element-attr-prefix",
    ),
    pytest.param(
        "elements.yaml",
        "elements:\n  - {attribute: data-x, description: a}\n  - {attribute: DATA-X, description: b}\n",
        ["elements.yaml:3", "element rule 'DATA-X' (elements[1])", "duplicate attribute"],
        id="duplicate-attribute",
    ),
    pytest.param(
        "pages.yaml",
        "pages:\n  - {equals: /a, prefix: /a, name: a}\n",
        ["pages.yaml:2", "page rule '/a' (pages[0])", "exactly one of 'equals' or 'prefix'"],
        id="page-both-kinds",
    ),
    pytest.param(
        "pages.yaml",
        "pages:\n  - {prefix: /a, name: a}\n  - {prefix: /a, name: b}\n",
        ["page rule '/a' (pages[1])", "duplicate page rule"],
        id="duplicate-page",
    ),
    pytest.param(
        "pages.yaml",
        "pages:\n  - {equals: /a b, name: a}\n",
        ["page rule '/a b'", "key 'equals'", "spaces"],
        id="page-path-with-space",
    ),
    pytest.param(
        "classification.yaml",
        "events:\n  $pageview: {event_type: pageview, action: view}\n",
        ["classification.yaml:2", "event '$pageview'", "key 'action'", "unknown key", "action_type"],
        id="classification-unknown-field",
    ),
    pytest.param(
        "classification.yaml",
        'events:\n  $pageview: {event_type: "page\'view", action_type: view}\n',
        ["event '$pageview'", "key 'event_type'", "not a valid name"],
        id="classification-quote-in-type",
    ),
    pytest.param(
        "classification.yaml",
        "keywords:\n  - {keyword: click, action_type: click}\n  - {keyword: CLICK, action_type: submit}\n",
        ["keyword rule 'CLICK' (keywords[1])", "duplicate keyword 'click'"],
        id="duplicate-keyword",
    ),
    pytest.param(
        "classification.yaml",
        "autocapture_event_types:\n  submit: {event_type: click}\n",
        ["autocapture $event_type 'submit'", "key 'action_type'", "required key is missing"],
        id="autocapture-missing-action",
    ),
    pytest.param(
        "privacy.yaml",
        "redact:\n  email: a\n  EMAIL: b\n",
        ["privacy.yaml:3", "redacted property 'EMAIL'", "case-insensitively"],
        id="duplicate-redaction",
    ),
    pytest.param(
        "privacy.yaml",
        "redact:\n  - email\n",
        ["privacy.yaml", "key 'redact'", "dictionary"],
        id="privacy-wrong-shape",
    ),
    pytest.param(
        "cohorts.yaml",
        "cohorts:\n  - key: c1\n    name: C\n    filters:\n      properties:\n        type: AND\n"
        "        values:\n          - {type: person, key: plan, operator: between, value: 1}\n",
        [
            "cohorts.yaml:8",
            "cohort 'c1' (cohorts[0])",
            "key 'filters.properties.values[0].operator'",
            "between",
        ],
        id="cohort-bad-operator",
    ),
    pytest.param(
        "cohorts.yaml",
        COHORT_HEAD.replace("type: AND", "type: OR") + "          - type: AND\n            values:\n"
        "              - {type: behavioral, key: x, value: performed_event,"
        " time_value: -3, time_interval: day}\n",
        ["cohort 'c1'", "key 'filters.properties.values[0].values[0].time_value'", "at least 1"],
        id="cohort-negative-window",
    ),
    pytest.param(
        "cohorts.yaml",
        COHORT_HEAD + "          - {type: behavioral, key: x, value: performed_event_often,"
        " time_value: 3, time_interval: day}\n",
        ["cohort 'c1'", "key 'filters.properties.values[0].value'", "performed_event_often"],
        id="cohort-unknown-kind",
    ),
    pytest.param(
        "cohorts.yaml",
        COHORT_HEAD + "          - {type: behavioral, key: '7', value: performed_event, event_type: actions,"
        " time_value: 3, time_interval: day}\n",
        ["cohort 'c1'", "key 'filters.properties.values[0].event_type'", "actions"],
        id="cohort-action-filter",
    ),
    pytest.param(
        "cohorts.yaml",
        COHORT_HEAD + "          - {type: cohort, key: id, value: nowhere}\n",
        ["cohort 'c1'", "key 'filters.properties'", "'nowhere'"],
        id="cohort-unknown-reference",
    ),
    pytest.param(
        "cohorts.yaml",
        "cohorts:\n"
        "  - {key: a, name: A, filters: {properties: {type: AND, values: [{type: cohort, value: b}]}}}\n"
        "  - {key: b, name: B, filters: {properties: {type: AND, values: [{type: cohort, value: a}]}}}\n",
        ["cohort 'a' (cohorts[0])", "cycle"],
        id="cohort-cycle",
    ),
    pytest.param(
        "cohorts.yaml",
        "cohorts:\n  - {key: a, name: A, filters: {properties: {type: AND, values: []}}}\n"
        "  - {key: a, name: B, filters: {properties: {type: AND, values: [{type: person, key: k, "
        "operator: is_set}]}}}\n",
        ["cohort 'a' (cohorts[0])", "no filters", "cohort 'a' (cohorts[1])", "duplicate key 'a'"],
        id="cohort-empty-and-duplicate",
    ),
    pytest.param(
        "cohorts.yaml",
        "cohorts:\n  - {key: a, name: A, filter: {}}\n",
        ["cohort 'a'", "key 'filter'", "unknown key", "key 'filters'", "required key is missing"],
        id="cohort-misspelled-filters",
    ),
    pytest.param(
        "patterns.yaml",
        "patterns:\n  - code: x\n    severity: LOW\n   description: bad indent\n",
        ["patterns.yaml:4", "YAML syntax error"],
        id="yaml-syntax-error",
    ),
    pytest.param(
        "patterns.yaml",
        "- just a list\n",
        ["patterns.yaml:1", "mapping of sections"],
        id="file-not-a-mapping",
    ),
    pytest.param(
        "pages.yaml",
        "page:\n  - {equals: /, name: home}\n",
        ["pages.yaml:1", "key 'page'", "unknown key", "'pages'"],
        id="unknown-section",
    ),
]


@pytest.mark.parametrize(("file", "content", "expected"), CASES)
def test_mistake_is_reported_with_file_rule_and_key(
    rules_dir: Path, file: str, content: str, expected: list[str]
) -> None:
    (rules_dir / file).write_text(content, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir)
    message = str(caught.value)
    for part in expected:
        assert part in message, f"{part!r} missing from:\n{message}"
    assert all(issue.file == file for issue in caught.value.issues), message


def test_missing_file_is_reported(rules_dir: Path) -> None:
    (rules_dir / "labels.yaml").unlink()
    with pytest.raises(RulesError, match=r"labels\.yaml: required rule file is missing"):
        load_rules(rules_dir)


def test_misnamed_file_is_reported_with_a_hint(rules_dir: Path) -> None:
    (rules_dir / "pattern.yaml").write_text("patterns: []\n", encoding="utf-8")
    with pytest.raises(
        RulesError, match=r"pattern\.yaml: unknown rule file \(did you mean 'patterns\.yaml'\?\)"
    ):
        load_rules(rules_dir)


def test_missing_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="rules folder does not exist"):
        load_rules(tmp_path / "nowhere")


def test_all_mistakes_of_all_files_are_reported_together(rules_dir: Path) -> None:
    (rules_dir / "patterns.yaml").write_text(
        "patterns:\n"
        "  - {code: a, severity: NOPE, description: d}\n"
        "  - {code: b, severity: LOW, description: d, min_count: -1, time_window_minutes: 0}\n"
        "  - {code: a, severity: LOW, description: d}\n",
        encoding="utf-8",
    )
    (rules_dir / "labels.yaml").write_text('labels:\n  x: "{"\n', encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_dir)
    found = {(i.file, i.rule, i.key) for i in caught.value.issues}
    assert ("patterns.yaml", "pattern 'a' (patterns[0])", "severity") in found
    assert ("patterns.yaml", "pattern 'b' (patterns[1])", "min_count") in found
    assert ("patterns.yaml", "pattern 'b' (patterns[1])", "time_window_minutes") in found
    assert ("patterns.yaml", "pattern 'a' (patterns[2])", "code") in found
    assert any(i.file == "labels.yaml" for i in caught.value.issues)
    lines = [i.line for i in caught.value.issues if i.file == "patterns.yaml"]
    assert lines == sorted(lines) and lines[0] == 2


def test_empty_files_are_an_empty_rule_set(empty_rules_dir: Path) -> None:
    ruleset = load_rules(empty_rules_dir)
    assert ruleset.patterns.patterns == [] and ruleset.labels.labels == {} and ruleset.cohort_nodes == {}


def test_suspicious_but_legal_values_become_warnings(rules_dir: Path) -> None:
    (rules_dir / "patterns.yaml").write_text(
        "patterns:\n  - {code: typo, severity: LOW, description: d, match: {event_type: pagevew}}\n",
        encoding="utf-8",
    )
    ruleset = load_rules(rules_dir)
    assert any("pattern 'typo'" in w and "'pagevew'" in w for w in ruleset.warnings)


def test_redacting_a_context_field_is_a_warning(rules_dir: Path) -> None:
    (rules_dir / "privacy.yaml").write_text(
        "redact:\n  email: contact\n  Name: person name\n", encoding="utf-8"
    )
    warnings = load_rules(rules_dir).warnings
    assert len(warnings) == 1 and "redacted property 'Name'" in warnings[0]


def test_alias_bomb_is_refused_quickly(rules_dir: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    (rules_dir / "labels.yaml").write_text("\n".join(lines) + "\nlabels: {}\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"labels\.yaml: .*too many aliases"):
        load_rules(rules_dir)


def test_python_tags_are_not_executed(rules_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (rules_dir / "labels.yaml").write_text(
        f'labels:\n  x: !!python/object/apply:os.system ["touch {marker}"]\n', encoding="utf-8"
    )
    with pytest.raises(RulesError, match=r"labels\.yaml:2: YAML syntax error"):
        load_rules(rules_dir)
    assert not marker.exists()


def test_a_section_with_every_entry_commented_out_is_empty(rules_dir: Path) -> None:
    (rules_dir / "labels.yaml").write_text("labels:\n  # product_clicked: 'x'\n", encoding="utf-8")
    assert load_rules(rules_dir).labels.labels == {}
