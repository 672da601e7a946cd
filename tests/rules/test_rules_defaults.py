"""The shipped rule files load and carry the defaults users expect (seeds 000/001, issue 3)."""

from __future__ import annotations

from pathlib import Path

from rules.loader import load_rules
from rules.tables import rule_tables

DEFAULT_RULES_DIR = Path(__file__).resolve().parents[2] / "rules"

TEN_PATTERNS = {
    "checkout_abandoned",
    "payment_failure_frustration",
    "signup_abandonment",
    "billing_hesitation",
    "form_struggle",
    "price_comparison_loop",
    "quick_bounce",
    "power_user_session",
    "feature_exploration",
    "product_comparison",
}


def test_default_rules_load_without_warnings() -> None:
    ruleset = load_rules(DEFAULT_RULES_DIR)
    assert ruleset.warnings == []
    assert ruleset.source == str(DEFAULT_RULES_DIR)


def test_default_classification_covers_posthog_events() -> None:
    events = load_rules(DEFAULT_RULES_DIR).classification.events
    expected = {
        "$pageview": ("pageview", "view"),
        "$pageleave": ("navigation", "leave"),
        "$rageclick": ("click", "rage_click"),
        "$autocapture": ("click", "click"),
    }
    for name, (event_type, action_type) in expected.items():
        assert (events[name].event_type, events[name].action_type) == (event_type, action_type)
    for name in ("$dead_click", "$identify", "$create_alias", "$screen", "$groupidentify"):
        assert name in events


def test_default_autocapture_and_keywords() -> None:
    classification = load_rules(DEFAULT_RULES_DIR).classification
    actions = {k: v.action_type for k, v in classification.autocapture_event_types.items()}
    assert actions == {"click": "click", "submit": "submit", "change": "change"}
    keywords = {k.keyword: k.action_type for k in classification.keywords}
    assert keywords["click"] == keywords["select"] == "click"
    assert keywords["submit"] == keywords["complete"] == "submit"
    assert keywords["start"] == keywords["open"] == keywords["view"] == "navigate"
    assert keywords["added"] == "add"


def test_default_labels_pages_elements_privacy() -> None:
    ruleset = load_rules(DEFAULT_RULES_DIR)
    assert ruleset.labels.labels["product_clicked"] == "Selected product: {product_name}"
    assert ruleset.labels.labels["form_submitted"] == "Submitted {form_name} form"
    drone_shop_events = {"item_added_to_cart", "toggle_favorite", "filter_changed", "remove_from_cart"}
    assert drone_shop_events <= set(ruleset.labels.labels)
    pages = {(p.match_kind, p.path): p.name for p in ruleset.pages.pages}
    assert pages[("equals", "/")] == "home page"
    assert pages[("prefix", "/billing")] == "billing page"
    elements = {e.attribute: e.description for e in ruleset.elements.elements}
    assert elements["data-ph-capture-attribute-nav"] == "navigation {base_type}"
    assert elements["data-ph-capture-attribute-product-id"] == "product card"
    assert elements["data-ph-capture-attribute-form-id"] == "{base_type} in form"
    assert {"email", "$ip", "phone", "password", "credit_card_number"} <= ruleset.redact_keys
    assert "name" not in ruleset.redact_keys  # would strip cohort names from the context


def test_default_patterns_and_cohorts() -> None:
    ruleset = load_rules(DEFAULT_RULES_DIR)
    codes = {p.code for p in ruleset.patterns.patterns}
    assert TEN_PATTERNS <= codes
    checkout = next(p for p in ruleset.patterns.patterns if p.code == "checkout_abandoned")
    assert checkout.severity == "HIGH"
    assert checkout.unless is not None and checkout.negative_window_seconds == 30 * 60
    tables = rule_tables(ruleset)
    kinds = set(tables["cohort_filter_nodes"].column("node_type").to_pylist())
    assert {"group", "behavioral", "person", "cohort"} <= kinds
    assert "unsupported" not in kinds
    assert tables["cohort_definitions"].num_rows == len(ruleset.cohorts.cohorts) >= 3
