"""Step bodies shared by the assets (incremental path) and the ops of the partitioned backfill job.

Each function calls into ingestion/, rules/ or serving/ and only turns the result into Dagster
metadata; the work itself lives in those packages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from ingestion.settings import PostHogSettings, WarehouseSettings

RAW_SCHEMA = "posthog_raw"
RULES_SCHEMA = "posthog_rules"
RAW_TABLES: dict[str, str] = {
    "events": "PostHog events, one row per uuid (merge), properties kept as JSON text.",
    "events_quarantine": "Malformed events with the reason and the raw payload; nothing is dropped.",
    "persons": "PostHog persons per project with their properties (JSON text).",
    "person_distinct_ids": "distinct_id to person mapping per project.",
    "cohorts": "Cohort definitions from the PostHog cohorts API.",
    "cohort_filter_nodes": "API cohort filters flattened into one row per filter node.",
}
RULES_TABLES: dict[str, str] = {
    "event_classification": "Rules mapping event names/keywords to event_type and action_type.",
    "page_names": "Rules naming pages by path.",
    "label_templates": "Label templates for custom events (display text).",
    "label_template_parts": "Label templates split into text and property parts.",
    "element_enrichment": "Element attribute descriptions used in labels.",
    "pattern_rules": "Behavioural pattern rules evaluated per session.",
    "pattern_filters": "Positive/negative filters of the pattern rules.",
    "cohort_definitions": "Cohorts defined in rules/cohorts.yaml.",
    "cohort_filter_nodes": "Rule cohort filters flattened into one row per filter node.",
    "privacy_redactions": "Property keys never exported or shown in prompts.",
}
USER_CONTEXT_TABLE = "analytics.user_context"


def _missing_relation(error: Exception) -> bool:
    """The error a warehouse gives for a table (or lake folder) that does not exist yet."""
    text = str(error).lower()
    return "does not exist" in text or "not found" in text


def scalar(ws: WarehouseSettings, sql: str) -> Any:
    """First value of a one-row query, or None when the relation does not exist yet."""
    from ingestion.warehouse import read_table

    try:
        table = read_table(ws, sql)
    except Exception as error:  # a missing table before the first load is normal
        if _missing_relation(error):
            return None
        raise
    if table.num_rows == 0 or table.num_columns == 0:
        return None
    return table.column(0)[0].as_py()


def table_count(ws: WarehouseSettings, schema: str, table: str) -> int | None:
    value = scalar(ws, f"select count(*) from {schema}.{table}")
    return None if value is None else int(value)


def table_counts(ws: WarehouseSettings, schema: str, tables: list[str]) -> dict[str, int]:
    """Row counts of several tables with one connection and query (opening a 1M-event DuckDB file took
    ~80 ms a time, ten times per load); a table that does not exist yet counts 0."""
    from ingestion.warehouse import read_table

    sql = " union all ".join(f"select '{t}' as name, count(*) as n from {schema}.{t}" for t in tables)
    try:
        return {row["name"]: int(row["n"]) for row in read_table(ws, sql).to_pylist()}
    except Exception as error:  # some table missing (before the first load): count one by one
        if not _missing_relation(error):
            raise
        return {t: table_count(ws, schema, t) or 0 for t in tables}


def lake_duplicates_check(ws: WarehouseSettings) -> dg.AssetCheckResult:
    """The duplicate-uuid check for the append-only Spark lake.

    Copies of a uuid across loads are expected there (the look-back re-reads them) and staging keeps the
    one with the highest `_dlt_load_id`; what must hold is that this choice is unambiguous: no uuid twice
    within one load, and no row without `_dlt_load_id`.
    """
    from ingestion.warehouse import read_table

    sql = f"""
        with per_load as (
            select project_id, uuid, _dlt_load_id, count(*) as copies
            from {RAW_SCHEMA}.events group by 1, 2, 3
        )
        select
            coalesce(sum(copies), 0) as raw_rows,
            count(distinct (project_id, uuid)) as distinct_events,
            coalesce(sum(case when copies > 1 then 1 else 0 end), 0) as duplicates_within_a_load,
            coalesce(sum(case when _dlt_load_id is null then copies else 0 end), 0) as rows_without_load_id
        from per_load
    """
    try:
        row = read_table(ws, sql).to_pylist()[0]
    except Exception as error:  # no events folder before the first load
        if _missing_relation(error):
            names = ("raw_rows", "distinct_events", "duplicates_within_a_load", "rows_without_load_id")
            row = dict.fromkeys(names, 0)
        else:
            raise
    counts = {k: int(v or 0) for k, v in row.items()}
    return dg.AssetCheckResult(
        passed=counts["duplicates_within_a_load"] == 0 and counts["rows_without_load_id"] == 0,
        description=(
            f"{counts['raw_rows']} raw rows hold {counts['distinct_events']} distinct events; the extra "
            "copies come from look-back re-reads and are resolved in staging by _dlt_load_id."
        ),
        metadata={
            "duplicate_uuids": dg.MetadataValue.int(counts["duplicates_within_a_load"]),
            "rows_without_load_id": dg.MetadataValue.int(counts["rows_without_load_id"]),
            "raw_rows": dg.MetadataValue.int(counts["raw_rows"]),
            "distinct_events": dg.MetadataValue.int(counts["distinct_events"]),
            "superseded_copies": dg.MetadataValue.int(counts["raw_rows"] - counts["distinct_events"]),
        },
    )


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A small markdown table; cell text is flattened and shortened so previews stay readable."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 80 else text[:77] + "..."

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def events_per_hour(ws: WarehouseSettings, hours: int = 24) -> str:
    """Markdown table of raw events per hour for the newest `hours` hours that have data."""
    from ingestion.warehouse import read_table

    sql = (
        f"select date_trunc('hour', timestamp) as hour, count(*) as events "
        f"from {RAW_SCHEMA}.events group by 1 order by 1 desc limit {int(hours)}"
    )
    try:
        table = read_table(ws, sql)
    except Exception:
        return "(no events yet)"
    rows = [[r["hour"], r["events"]] for r in table.to_pylist()]
    return markdown_table(["hour (UTC)", "events"], rows) if rows else "(no events yet)"


def events_from_api(env: Mapping[str, str] | None = None) -> bool:
    """Whether the API load pages events: not when batch-export files bring them (BATCH_EXPORT_URL set),
    unless POSTHOG_EVENTS_FROM_API=true asks for both (files for history, the API for the newest)."""
    env = os.environ if env is None else env
    if not (env.get("BATCH_EXPORT_URL") or "").strip():
        return True
    return (env.get("POSTHOG_EVENTS_FROM_API") or "").strip().lower() in ("1", "true", "yes")


def run_posthog(
    posthog: PostHogSettings,
    ws: WarehouseSettings,
    time_range: tuple[datetime, datetime] | None = None,
    with_events: bool = True,
) -> tuple[Any, dict[str, dict[str, Any]]]:
    """Run the dlt load and return its summary plus per-table materialization metadata.

    `with_events=False` loads persons, distinct ids and cohorts only (events come from files).
    """
    from ingestion.pipeline import RESOURCE_NAMES, run_posthog_load

    resources = None if with_events else [r for r in RESOURCE_NAMES if not r.startswith("events")]
    before = table_counts(ws, RAW_SCHEMA, list(RAW_TABLES))
    summary = run_posthog_load(posthog, ws, time_range=time_range, resources=resources)
    per_table: dict[str, dict[str, Any]] = {}
    counts = table_counts(ws, RAW_SCHEMA, list(RAW_TABLES))
    for table in RAW_TABLES:
        after = counts[table]
        per_table[table] = {
            "rows_loaded": dg.MetadataValue.int(int(summary.rows_by_table.get(table, 0))),
            "rows_inserted": dg.MetadataValue.int(after - before[table]),
            "row_count": dg.MetadataValue.int(after),
        }
    newest = summary.newest_event_at
    per_table["events"].update(
        {
            "events_loaded": dg.MetadataValue.int(int(summary.events_loaded)),
            "events_quarantined": dg.MetadataValue.int(int(summary.events_quarantined)),
            "newest_event_at": dg.MetadataValue.text(newest.isoformat() if newest else "none"),
            "http_requests": dg.MetadataValue.int(int(summary.http_requests)),
            "projects": dg.MetadataValue.text(", ".join(str(p) for p in summary.projects)),
            "source": dg.MetadataValue.text("demo API" if posthog.uses_demo else str(posthog.host)),
            "events_per_hour": dg.MetadataValue.md(events_per_hour(ws)),
        }
    )
    if time_range:
        per_table["events"]["time_range"] = dg.MetadataValue.text(
            f"{time_range[0].isoformat()} .. {time_range[1].isoformat()}"
        )
    if ws.kind == "spark":
        # The lake appends: row_count counts every copy, distinct_events what staging will keep.
        distinct = scalar(ws, f"select count(distinct (project_id, uuid)) from {RAW_SCHEMA}.events")
        per_table["events"]["distinct_events"] = dg.MetadataValue.int(int(distinct or 0))
    per_table["events_quarantine"]["reasons"] = dg.MetadataValue.json(dict(summary.quarantine_reasons))
    return summary, per_table


def quarantine_check(summary: Any, max_rate: float) -> dg.AssetCheckResult:
    """Share of the last load's events that went to quarantine, against QUARANTINE_MAX_RATE."""
    loaded, bad = int(summary.events_loaded), int(summary.events_quarantined)
    rate = bad / (loaded + bad) if loaded + bad else 0.0
    return dg.AssetCheckResult(
        check_name="quarantine_rate",
        asset_key=dg.AssetKey([RAW_SCHEMA, "events"]),
        passed=rate <= max_rate,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{bad} of {loaded + bad} events quarantined in the last load (max rate {max_rate}).",
        metadata={
            "quarantine_rate": dg.MetadataValue.float(rate),
            "max_rate": dg.MetadataValue.float(max_rate),
            "reasons": dg.MetadataValue.json(dict(summary.quarantine_reasons)),
        },
    )


def run_rules(rules_dir: Path, ws: WarehouseSettings) -> dict[str, int]:
    """Validate the rule files and replace the posthog_rules tables; bad rules fail with the loader's text."""
    from rules.load import load_rules_to_warehouse
    from rules.loader import RulesError, load_rules

    try:
        ruleset = load_rules(rules_dir)
    except RulesError as error:
        raise dg.Failure(description=f"invalid rules in {rules_dir}: {error}") from error
    return dict(load_rules_to_warehouse(ruleset, ws))


def export_context(ws: WarehouseSettings, export_dir: Path, keep_versions: int) -> dict[str, Any]:
    """Read analytics.user_context and the privacy keys, then publish a new export version."""
    import pyarrow.compute as pc

    from ingestion.warehouse import read_table
    from serving.export_writer import write_export

    # ordered, so the same warehouse always gives byte-identical export files
    table = read_table(ws, f"select * from {USER_CONTEXT_TABLE} order by project_id, person_id")
    keys_table = read_table(ws, f"select property_key from {RULES_SCHEMA}.privacy_redactions")
    redact_keys = {str(k) for k in keys_table.column("property_key").to_pylist() if k}
    as_of = None
    if "context_as_of" in table.column_names and table.num_rows:
        as_of = pc.max(table.column("context_as_of")).as_py()
    as_of = as_of or datetime.now(UTC)
    manifest = write_export(
        table,
        export_dir,
        redact_keys=redact_keys,
        as_of=as_of,
        keep_versions=keep_versions,
        source={"warehouse": ws.kind, "table": USER_CONTEXT_TABLE},
    )
    return {"manifest": manifest, "table": table}


def export_metadata(result: dict[str, Any], export_dir: Path) -> dict[str, Any]:
    manifest, table = result["manifest"], result["table"]
    preview_cols = [
        c
        for c in ("person_id", "event_count", "session_count", "last_seen", "prompt_text")
        if c in table.column_names
    ]
    preview = table.select(preview_cols).slice(0, 5).to_pylist()
    return {
        "row_count": dg.MetadataValue.int(int(manifest["row_count"])),
        "as_of": dg.MetadataValue.text(str(manifest["as_of"])),
        "version": dg.MetadataValue.text(str(manifest["version"])),
        "path": dg.MetadataValue.path(str(export_dir / "current")),
        "redacted_keys": dg.MetadataValue.json(manifest.get("redacted_keys", [])),
        "preview": dg.MetadataValue.md(markdown_table(preview_cols, [list(r.values()) for r in preview])),
    }


def quarantine_check_evaluation(summary: Any, max_rate: float) -> dg.AssetCheckEvaluation:
    """The quarantine check as an event an op (backfill job) can report."""
    result = quarantine_check(summary, max_rate)
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey([RAW_SCHEMA, "events"]),
        check_name="quarantine_rate",
        passed=result.passed,
        severity=result.severity,
        description=result.description,
        metadata=result.metadata,
    )
