"""Own asset checks on real warehouse data: duplicates, freshness, quarantine threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingestion.pipeline import LoadSummary
from orchestration.config import OrchestrationSettings
from orchestration.defs import steps
from orchestration.defs.ingestion import raw_checks
from orchestration.defs.resources import WarehouseResource


def test_quarantine_threshold() -> None:
    ok = steps.quarantine_check(LoadSummary(events_loaded=995, events_quarantined=5), 0.01)
    assert ok.passed and ok.metadata["quarantine_rate"].value == pytest.approx(0.005)
    bad = steps.quarantine_check(
        LoadSummary(events_loaded=90, events_quarantined=10, quarantine_reasons={"missing_timestamp": 10}),
        0.01,
    )
    assert not bad.passed and "10 of 100" in (bad.description or "")
    assert steps.quarantine_check(LoadSummary(), 0.01).passed  # an empty load quarantines nothing


def _events_table(path: Path, rows: list[tuple[str, datetime]]) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema posthog_raw")
    con.execute('create table posthog_raw.events (project_id bigint, uuid varchar, "timestamp" timestamptz)')
    con.executemany("insert into posthog_raw.events values (1, ?, ?)", rows)
    con.close()


def _evaluate(check: dg.AssetChecksDefinition, path: Path) -> dg.AssetCheckResult:
    return check(warehouse=WarehouseResource(duckdb_path=str(path)))


def test_duplicate_and_freshness_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHNESS_MAX_HOURS", "2")
    duplicates, freshness = raw_checks(OrchestrationSettings.from_env())
    now = datetime.now(UTC)
    good = tmp_path / "good.duckdb"
    _events_table(good, [("a", now - timedelta(minutes=5)), ("b", now - timedelta(hours=1))])
    assert _evaluate(duplicates, good).passed
    assert _evaluate(freshness, good).passed
    bad = tmp_path / "bad.duckdb"
    _events_table(bad, [("a", now - timedelta(hours=5)), ("a", now - timedelta(hours=6))])
    dup = _evaluate(duplicates, bad)
    assert not dup.passed and dup.metadata["duplicate_uuids"].value == 1
    stale = _evaluate(freshness, bad)
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN


def test_raw_table_counts_in_one_query_and_before_tables_exist(tmp_path: Path) -> None:
    """The load step's before/after counts: all tables at once, and 0 for a table not created yet."""
    from ingestion.settings import WarehouseSettings

    ws = WarehouseSettings(kind="duckdb", duckdb_path=tmp_path / "warehouse.duckdb")
    assert steps.table_counts(ws, "posthog_raw", ["events", "persons"]) == {"events": 0, "persons": 0}
    with duckdb.connect(str(ws.duckdb_path)) as con:
        con.execute("create schema posthog_raw")
        con.execute("create table posthog_raw.events as select range as uuid from range(7)")
    assert steps.table_counts(ws, "posthog_raw", ["events", "persons"]) == {"events": 7, "persons": 0}
    with duckdb.connect(str(ws.duckdb_path)) as con:
        con.execute("create table posthog_raw.persons as select range as id from range(3)")
    assert steps.table_counts(ws, "posthog_raw", ["events", "persons"]) == {"events": 7, "persons": 3}
