"""Editing a rule file changes the next ordinary `dbt build` for every event, old ones included.

The drone shop plus a few recent events on pricing pages is built once, then a label template, a
page-name rule and an element rule are edited and reloaded, and a normal (incremental) build must
relabel the events that were already in the warehouse, exactly as a `--full-refresh` would.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dbt_harness import DRONE_SHOP_EXPORT, RULES_DIR, dbt_env, run_dbt, write_export

PERSON_A = "019aff19-86cb-7abd-b27e-5e3a34fc85f2"
LAST_SESSION_A = "019affef-35d2-7660-86dc-8e9873937f61"  # ends 2025-12-08 21:48:08.975
EXPORT_END = datetime(2025, 12, 8, 21, 48, 8, 975000)

ENRICHED = "select * exclude (refreshed_at) from analytics.fct_enriched_events order by event_uuid"
CONTEXT = "select * exclude (context_as_of) from analytics.user_context order by person_id"


def _pricing_events() -> list[dict]:
    """Events with page paths (the drone-shop export has none), newest in person A's last session."""
    props = {"token": "sample_token", "$session_id": LAST_SESSION_A}
    return [
        {"event": "$pageview", "timestamp": EXPORT_END + timedelta(minutes=1), "distinct_id": PERSON_A,
         "properties": {**props, "$pathname": "/pricing"}},
        {"event": "$autocapture", "timestamp": EXPORT_END + timedelta(minutes=2), "distinct_id": PERSON_A,
         "elements_chain": 'button.cta:attr__class="cta"text="Upgrade"',
         "properties": {**props, "$pathname": "/pricing/plans", "$event_type": "click"}},
        {"event": "product_clicked", "timestamp": EXPORT_END + timedelta(minutes=3), "distinct_id": PERSON_A,
         "properties": {**props, "$pathname": "/pricing/plans"}},
    ]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer contains {old!r}; update this test"
    path.write_text(text.replace(old, new, 1))


@dataclass
class RuleEditRuns:
    before: dict[str, list[tuple]]
    after_edit: dict[str, list[tuple]]
    after_rerun: dict[str, list[tuple]]
    full_refresh: dict[str, list[tuple]]
    fingerprints: list[tuple[str, str]]


def _snapshot(db_path: Path) -> tuple[dict[str, list[tuple]], tuple[str, str]]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = {"fct_enriched_events": con.execute(ENRICHED).fetchall(),
                  "user_context": con.execute(CONTEXT).fetchall()}
        fingerprint = con.execute(
            "select rules_fingerprint, element_rules_fingerprint from intermediate.int_rules_fingerprint"
        ).fetchone()
    finally:
        con.close()
    return tables, fingerprint


@pytest.fixture(scope="module")
def rule_edit_runs(tmp_path_factory: pytest.TempPathFactory) -> RuleEditRuns:
    from ingestion.batch_files import load_json_export
    from ingestion.settings import WarehouseSettings
    from rules.load import load_rules_to_warehouse
    from rules.loader import load_rules

    work = tmp_path_factory.mktemp("rule_edits")
    db_path = work / "warehouse.duckdb"
    ws = WarehouseSettings(kind="duckdb", duckdb_path=db_path)
    rules_dir = work / "rules"
    shutil.copytree(RULES_DIR, rules_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))

    load_json_export(DRONE_SHOP_EXPORT, 1, ws)
    load_json_export(write_export(work / "pricing.json", _pricing_events()), 1, ws)
    load_rules_to_warehouse(load_rules(rules_dir), ws)
    env = dbt_env(work, {"WAREHOUSE": "duckdb", "DUCKDB_PATH": str(db_path)})
    run_dbt(["build"], env)
    before, first_fingerprint = _snapshot(db_path)

    _edit(rules_dir / "labels.yaml", '"Selected product: {product_name}"', '"Picked a drone"')
    _edit(rules_dir / "pages.yaml", "{prefix: /pricing, name: pricing page}",
          "{prefix: /pricing, name: plans page}")
    _edit(rules_dir / "elements.yaml", 'description: "navigation {base_type}"',
          'description: "menu {base_type}"')
    load_rules_to_warehouse(load_rules(rules_dir), ws)
    run_dbt(["build"], env)
    after_edit, edited_fingerprint = _snapshot(db_path)

    # The same rules loaded again (new dlt load ids, same content): nothing may change.
    load_rules_to_warehouse(load_rules(rules_dir), ws)
    run_dbt(["run"], env)
    after_rerun, rerun_fingerprint = _snapshot(db_path)

    run_dbt(["run", "--full-refresh"], env)
    full_refresh, _ = _snapshot(db_path)
    return RuleEditRuns(before, after_edit, after_rerun, full_refresh,
                        [first_fingerprint, edited_fingerprint, rerun_fingerprint])


def _labels(rows: list[tuple], event_name: str | None = None) -> list[str]:
    """semantic_label of fct_enriched_events rows (column positions as in the contract)."""
    return [row[20] for row in rows if event_name is None or row[4] == event_name]


def test_old_events_get_the_edited_labels(rule_edit_runs):
    before = rule_edit_runs.before["fct_enriched_events"]
    after = rule_edit_runs.after_edit["fct_enriched_events"]
    assert len(after) == len(before) == 372 + 3

    # Some product_clicked events sit in sessions that ended more than the 24-hour look-back before
    # the newest event, so only the rule change can make the incremental run recompute them.
    newest = max(row[5] for row in before)
    session_end: dict[str, datetime] = {}
    for row in before:
        session_end[row[6]] = max(session_end.get(row[6], row[5]), row[5])
    untouched = [row for row in before
                 if row[4] == "product_clicked" and session_end[row[6]] < newest - timedelta(hours=24)]
    assert untouched

    # label template: every product_clicked event, the drone-shop ones included
    assert set(_labels(before, "product_clicked")) == {"Product clicked"}
    assert set(_labels(after, "product_clicked")) == {"Picked a drone"}
    assert len(_labels(after, "product_clicked")) == 38 + 1

    # page-name rule and element enrichment rule
    assert "Viewed pricing page" in _labels(before)
    assert "Clicked 'Upgrade' button on pricing page" in _labels(before)
    assert "Viewed plans page" in _labels(after)
    assert "Clicked 'Upgrade' button on plans page" in _labels(after)
    assert not [label for label in _labels(after) if "pricing page" in label]
    shop_before = [label for label in _labels(before) if label.startswith("Clicked 'Shop' ")]
    shop_after = [label for label in _labels(after) if label.startswith("Clicked 'Shop' ")]
    assert shop_before and {"Clicked 'Shop' navigation button"} == set(shop_before)
    assert len(shop_after) == len(shop_before) and {"Clicked 'Shop' menu button"} == set(shop_after)
    assert not [label for label in _labels(after) if "navigation button" in label]

    # nothing else moved: same events, sessions and sequence numbers
    def keys(rows: list[tuple]) -> list[tuple]:
        return [row[:8] for row in rows]

    assert keys(after) == keys(before)


def test_user_context_prompt_shows_the_new_wording(rule_edit_runs):
    def prompt(snapshot: dict[str, list[tuple]]) -> str:
        rows = [row for row in snapshot["user_context"] if PERSON_A in row[2]]  # distinct_ids
        assert len(rows) == 1
        return rows[0][-1]

    before, after = prompt(rule_edit_runs.before), prompt(rule_edit_runs.after_edit)
    assert "pricing page" in before and "Product clicked" in before
    assert "Viewed plans page" in after and "Picked a drone" in after
    assert not re.search(r"pricing page|Product clicked|navigation button", after)


def test_fingerprint_follows_rule_content_only(rule_edit_runs):
    first, edited, rerun = rule_edit_runs.fingerprints
    assert first[0] != edited[0], "editing rules must change the fingerprint"
    assert first[1] != edited[1], "editing an element rule must change the element fingerprint"
    assert rerun == edited, "reloading identical rules must keep the fingerprint"


def test_incremental_run_with_unchanged_rules_changes_nothing(rule_edit_runs):
    assert rule_edit_runs.after_rerun == rule_edit_runs.after_edit


@pytest.mark.parametrize("table", ["fct_enriched_events", "user_context"])
def test_run_after_a_rule_edit_equals_a_full_refresh(rule_edit_runs, table):
    incremental = rule_edit_runs.after_edit[table]
    full = rule_edit_runs.full_refresh[table]
    differences = [(a, b) for a, b in zip(incremental, full, strict=True) if a != b]
    assert not differences, f"{table}: incremental vs full refresh differ, e.g. {differences[:2]}"


DATABASE = "rule_edits"


def test_rule_edit_relabels_old_events_on_postgres(pg_server, tmp_path_factory: pytest.TempPathFactory):
    """The same edit on PostgreSQL: two plain `dbt run`s, the second after the rules changed."""
    import psycopg2
    from pydantic import SecretStr

    from ingestion.batch_files import load_json_export
    from ingestion.settings import WarehouseSettings
    from rules.load import load_rules_to_warehouse
    from rules.loader import load_rules

    pg_env = {**pg_server.env(), "PGDATABASE": DATABASE}
    connect = {"host": pg_env["PGHOST"], "port": int(pg_env["PGPORT"]), "user": pg_env["PGUSER"],
               "password": pg_env["PGPASSWORD"]}
    admin = psycopg2.connect(**connect, dbname=pg_server.database)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"drop database if exists {DATABASE}")
        cur.execute(f"create database {DATABASE}")
    admin.close()

    work = tmp_path_factory.mktemp("rule_edits_pg")
    ws = WarehouseSettings(kind="postgres", duckdb_path=work / "unused.duckdb", pg_host=pg_env["PGHOST"],
                           pg_port=int(pg_env["PGPORT"]), pg_user=pg_env["PGUSER"],
                           pg_password=SecretStr(pg_env["PGPASSWORD"]), pg_database=DATABASE,
                           pipelines_dir=work / ".dlt_pipelines")
    rules_dir = work / "rules"
    shutil.copytree(RULES_DIR, rules_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    load_json_export(DRONE_SHOP_EXPORT, 1, ws)
    load_json_export(write_export(work / "pricing.json", _pricing_events()), 1, ws)
    load_rules_to_warehouse(load_rules(rules_dir), ws)
    env = dbt_env(work, {"WAREHOUSE": "postgres", **pg_env})
    env.pop("DUCKDB_PATH", None)
    run_dbt(["run"], env)

    _edit(rules_dir / "labels.yaml", '"Selected product: {product_name}"', '"Picked a drone"')
    _edit(rules_dir / "pages.yaml", "{prefix: /pricing, name: pricing page}",
          "{prefix: /pricing, name: plans page}")
    load_rules_to_warehouse(load_rules(rules_dir), ws)
    run_dbt(["run"], env)

    connection = psycopg2.connect(**connect, dbname=DATABASE)
    try:
        with connection.cursor() as cur:
            cur.execute("select semantic_label, count(*) from analytics.fct_enriched_events"
                        " where event_name = 'product_clicked' group by semantic_label")
            assert cur.fetchall() == [("Picked a drone", 39)]
            cur.execute("select count(*) from analytics.fct_enriched_events where semantic_label like %s",
                        ("%pricing page%",))
            assert cur.fetchone() == (0,)
            cur.execute("select count(*) from analytics.fct_enriched_events"
                        " where semantic_label = 'Viewed plans page'")
            assert cur.fetchone() == (1,)
            cur.execute("select count(distinct rules_fingerprint) from analytics.fct_enriched_events")
            assert cur.fetchone() == (1,)
    finally:
        connection.close()
