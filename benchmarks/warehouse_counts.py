"""Row counts the benchmark reports, read from a finished run's DuckDB file (read-only)."""

from __future__ import annotations

from pathlib import Path

import duckdb

TABLES = {
    "raw_events": "posthog_raw.events",
    "quarantined": "posthog_raw.events_quarantine",
    "fct_enriched_events": "analytics.fct_enriched_events",
    "fct_sessions": "analytics.fct_sessions",
    "fct_user_patterns": "analytics.fct_user_patterns",
    "user_context": "analytics.user_context",
}


def row_counts(duckdb_path: Path) -> dict[str, int | None]:
    """Count rows of the tables that exist; missing tables are reported as None."""
    counts: dict[str, int | None] = {}
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        for name, table in TABLES.items():
            try:
                counts[name] = con.execute(f"select count(*) from {table}").fetchone()[0]
            except duckdb.Error:
                counts[name] = None
        if counts["quarantined"] is None and counts["raw_events"] is not None:
            counts["quarantined"] = 0  # dlt creates the table only once a row is quarantined
        try:
            counts["raw_distinct_uuids"] = con.execute(
                "select count(distinct uuid) from posthog_raw.events"
            ).fetchone()[0]
        except duckdb.Error:
            counts["raw_distinct_uuids"] = None
    finally:
        con.close()
    return counts
