"""Stand-in raw and rules tables for the dbt tests, written with plain DuckDB SQL.

Used until (and as a fallback when) the dlt loader and the rules loader are importable; the
schemas follow CONTRACTS.md so the dbt project sees exactly what the loaders write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

RAW_DDL = """
create schema if not exists posthog_raw;
create table if not exists posthog_raw.events (
    uuid varchar, project_id bigint, event varchar, distinct_id varchar,
    "timestamp" timestamp with time zone, created_at timestamp with time zone,
    properties varchar, elements_chain varchar, person_id varchar, person_properties varchar,
    source varchar, uuid_generated boolean, _loaded_at timestamp with time zone
);
create table if not exists posthog_raw.persons (
    project_id bigint, id varchar, created_at timestamp with time zone, properties varchar,
    is_identified boolean
);
create table if not exists posthog_raw.person_distinct_ids (
    project_id bigint, distinct_id varchar, person_id varchar
);
create table if not exists posthog_raw.cohorts (
    project_id bigint, id bigint, name varchar, description varchar, filters varchar,
    deleted boolean, is_static boolean, count bigint, created_at timestamp with time zone,
    last_calculation timestamp with time zone
);
create table if not exists posthog_raw.cohort_filter_nodes (
    project_id bigint, cohort_id varchar, node_id integer, parent_node_id integer, depth integer,
    child_index integer, node_type varchar, group_logic varchar, negation boolean, prop_key varchar,
    prop_operator varchar, prop_values varchar, cohort_ref varchar, behavior_kind varchar,
    event_key varchar, window_seconds bigint, operator varchar, operator_value bigint,
    seq_event varchar, seq_window_seconds bigint, total_periods integer, min_periods integer,
    period_seconds bigint, unsupported_reason varchar
);
create table if not exists posthog_raw.events_quarantine (
    quarantine_id varchar, project_id bigint, uuid varchar, reason varchar, detail varchar,
    raw_payload varchar, source varchar, quarantined_at timestamp with time zone
);
"""

RULES_DDL = """
create schema if not exists posthog_rules;
create or replace table posthog_rules.event_classification (
    rule_id varchar, match_kind varchar, match_value varchar, event_type varchar,
    action_type varchar, priority integer);
create or replace table posthog_rules.page_names (
    rule_id varchar, match_kind varchar, path varchar, page_name varchar, priority integer);
create or replace table posthog_rules.label_templates (event_name varchar, template varchar);
create or replace table posthog_rules.label_template_parts (
    event_name varchar, part_index integer, part_kind varchar, value varchar);
create or replace table posthog_rules.element_enrichment (
    rule_id varchar, attribute varchar, description varchar, priority integer);
create or replace table posthog_rules.pattern_rules (
    code varchar, severity varchar, description varchar, min_count bigint,
    time_window_seconds bigint, negative_window_seconds bigint, min_duration_seconds bigint,
    max_duration_seconds bigint, min_events bigint, max_events bigint, min_pageviews bigint,
    max_pageviews bigint, enabled boolean);
create or replace table posthog_rules.pattern_filters (
    code varchar, role varchar, field varchar, value varchar);
create or replace table posthog_rules.cohort_definitions (
    project_id bigint, cohort_id varchar, name varchar, description varchar, is_static boolean,
    source varchar);
create or replace table posthog_rules.cohort_filter_nodes as
    select * from posthog_raw.cohort_filter_nodes where false;
create or replace table posthog_rules.privacy_redactions (property_key varchar, reason varchar);
"""

CLASSIFICATION = [
    ("pageview", "event", "$pageview", "pageview", "view", 10),
    ("pageleave", "event", "$pageleave", "navigation", "leave", 10),
    ("rageclick", "event", "$rageclick", "click", "rage_click", 10),
    ("deadclick", "event", "$dead_click", "click", "dead_click", 10),
    ("autocapture", "event", "$autocapture", "click", "click", 10),
    ("identify", "event", "$identify", "identify", "identify", 10),
    ("screen", "event", "$screen", "pageview", "view", 10),
    ("ac_click", "autocapture_event_type", "click", "click", "click", 10),
    ("ac_submit", "autocapture_event_type", "submit", "click", "submit", 10),
    ("ac_change", "autocapture_event_type", "change", "click", "change", 10),
    ("kw_click", "keyword", "click", "custom", "click", 20),
    ("kw_select", "keyword", "select", "custom", "click", 20),
    ("kw_submit", "keyword", "submit", "custom", "submit", 20),
    ("kw_complete", "keyword", "complete", "custom", "submit", 20),
    ("kw_start", "keyword", "start", "custom", "navigate", 30),
    ("kw_open", "keyword", "open", "custom", "navigate", 30),
    ("kw_view", "keyword", "view", "custom", "navigate", 30),
]
PAGES = [
    ("home", "equals", "/", "home page", 10),
    ("checkout", "prefix", "/checkout", "checkout page", 20),
]
TEMPLATES = {
    "product_clicked": "Selected product: {product_name}",
    "form_submitted": "Submitted {form_name} form",
}
ENRICHMENT = [
    ("nav", "data-ph-capture-attribute-nav", "navigation {base_type}", 10),
    ("product", "data-ph-capture-attribute-product-id", "product card", 20),
    ("form", "data-ph-capture-attribute-form-id", "{base_type} in form", 30),
]
PRIVACY = [("email", "personal data"), ("$ip", "personal data")]


def _template_parts(event_name: str, template: str) -> list[tuple[str, int, str, str]]:
    parts: list[tuple[str, int, str, str]] = []
    rest = template
    while rest:
        start = rest.find("{")
        end = rest.find("}", start) if start >= 0 else -1
        if start < 0 or end < 0:
            parts.append((event_name, len(parts), "text", rest))
            break
        if start:
            parts.append((event_name, len(parts), "text", rest[:start]))
        parts.append((event_name, len(parts), "property", rest[start + 1 : end]))
        rest = rest[end + 1 :]
    return parts


def write_default_rules(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the rules tables with a small default rule set (mirrors the seeds' examples)."""
    con.execute(RAW_DDL)
    con.execute(RULES_DDL)
    con.executemany("insert into posthog_rules.event_classification values (?,?,?,?,?,?)", CLASSIFICATION)
    con.executemany("insert into posthog_rules.page_names values (?,?,?,?,?)", PAGES)
    con.executemany("insert into posthog_rules.label_templates values (?,?)", list(TEMPLATES.items()))
    parts = [p for name, text in TEMPLATES.items() for p in _template_parts(name, text)]
    con.executemany("insert into posthog_rules.label_template_parts values (?,?,?,?)", parts)
    con.executemany("insert into posthog_rules.element_enrichment values (?,?,?,?)", ENRICHMENT)
    con.executemany("insert into posthog_rules.privacy_redactions values (?,?)", PRIVACY)


def event_uuid(row: dict[str, Any]) -> str:
    """A deterministic uuid-shaped id from an event's content (the export has no uuid)."""
    payload = json.dumps(
        [row["event"], row["distinct_id"], row["timestamp"], row.get("properties"), row.get("elements_chain")],
        sort_keys=True,
    )
    digest = hashlib.sha256(payload.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _utc(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def insert_events(
    con: duckdb.DuckDBPyConnection,
    rows: Iterable[dict[str, Any]],
    project_id: int = 1,
    loaded_at: datetime | None = None,
) -> int:
    """Append PostHog-shaped event dicts to posthog_raw.events (merge on uuid like dlt)."""
    con.execute(RAW_DDL)
    loaded = loaded_at or datetime.now(UTC)
    values: list[Sequence[Any]] = []
    for row in rows:
        uuid = row.get("uuid") or event_uuid(row)
        values.append((
            uuid, project_id, row["event"], row["distinct_id"], _utc(row["timestamp"]),
            _utc(row.get("created_at")), json.dumps(row.get("properties") or {}),
            row.get("elements_chain") or "", row.get("person_id"), None, "json_export",
            not row.get("uuid"), loaded,
        ))
    con.execute("create temp table if not exists incoming as select * from posthog_raw.events where false")
    con.execute("delete from incoming")
    con.executemany("insert into incoming values (" + ",".join("?" * 13) + ")", values)
    con.execute("delete from posthog_raw.events where uuid in (select uuid from incoming)")
    con.execute("insert into posthog_raw.events select * from incoming")
    return len(values)


def load_drone_shop(db_path: Path, export: Path, loaded_at: datetime | None = None) -> int:
    """Create raw + default rules tables in a DuckDB file and load the drone-shop export."""
    rows = json.loads(export.read_text())
    con = duckdb.connect(str(db_path))
    try:
        con.execute("set TimeZone = 'UTC'")
        write_default_rules(con)
        return insert_events(con, rows, loaded_at=loaded_at)
    finally:
        con.close()
