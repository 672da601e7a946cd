"""The scripted demo personas through the real pipeline: demo API over HTTP → dlt → DuckDB → rules →
`dbt build`, then each persona must get exactly its expected patterns and cohorts.

The demo data ends at END; persona events sit on the day before, and cohorts are evaluated at END
(COHORT_REFERENCE_TIME) so the run is reproducible.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from dbt_harness import RULES_DIR, DbtResult, dbt_env, run_dbt

from ingestion.demo_api.demo_cohorts import demo_cohorts
from ingestion.demo_api.personas import PERSONAS

END = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
RANDOM_USERS = 12


@dataclass
class PersonaRun:
    work_dir: Path
    db_path: Path
    build: DbtResult
    seconds: float


def _load_demo(ws) -> None:
    """Random traffic plus personas from the demo API, and the repo's rules, with the real loaders."""
    from ingestion.demo_api.server import DemoPostHog
    from ingestion.demo_api.store import DemoStore
    from ingestion.pipeline import run_posthog_load
    from ingestion.settings import PostHogSettings
    from rules.load import load_rules_to_warehouse
    from rules.loader import load_rules

    store = DemoStore.generate(seed=11, users=RANDOM_USERS, days=2, end=END)
    with DemoPostHog(store) as demo:
        run_posthog_load(PostHogSettings(max_retries=2), ws, demo=demo)
    load_rules_to_warehouse(load_rules(RULES_DIR), ws)


@pytest.fixture(scope="module")
def persona_run(tmp_path_factory: pytest.TempPathFactory) -> PersonaRun:
    from ingestion.settings import WarehouseSettings

    work = tmp_path_factory.mktemp("personas")
    db_path = work / "warehouse.duckdb"
    started = time.monotonic()
    _load_demo(WarehouseSettings(kind="duckdb", duckdb_path=db_path))
    env = dbt_env(
        work,
        {
            "WAREHOUSE": "duckdb",
            "DUCKDB_PATH": str(db_path),
            "COHORT_REFERENCE_TIME": END.isoformat(),
        },
    )
    build = run_dbt(["build"], env)
    return PersonaRun(work, db_path, build, time.monotonic() - started)


@pytest.fixture(scope="module")
def con(persona_run: PersonaRun):
    connection = duckdb.connect(str(persona_run.db_path), read_only=True)
    yield connection
    connection.close()


def _patterns(con, person_id: str) -> set[str]:
    found = con.execute(
        "select pattern_code from analytics.fct_user_patterns where person_id = ?", [person_id]
    ).fetchall()
    return {code for (code,) in found}


def _cohorts(con, person_id: str) -> set[str]:
    found = con.execute(
        "select cohort_name from analytics.fct_cohort_membership where person_id = ? and status = 'member'",
        [person_id],
    ).fetchall()
    return {name for (name,) in found}


def test_build_has_no_failures(persona_run: PersonaRun) -> None:
    assert not persona_run.build.failures()
    print(f"personas: load + dbt build {persona_run.seconds:.1f}s")


@pytest.mark.parametrize("key", sorted(PERSONAS))
def test_persona_gets_exactly_its_patterns(con, key: str) -> None:
    persona = PERSONAS[key]
    assert _patterns(con, persona.person_id) == persona.expected_patterns


@pytest.mark.parametrize("key", sorted(PERSONAS))
def test_persona_gets_exactly_its_cohorts(con, key: str) -> None:
    persona = PERSONAS[key]
    assert _cohorts(con, persona.person_id) == persona.expected_cohorts


def test_anonymous_and_identified_ids_are_one_person(con) -> None:
    persona = PERSONAS["identified_after_pricing"]
    people = con.execute(
        "select distinct person_id from analytics.fct_enriched_events where distinct_id in (?, ?)",
        list(persona.distinct_ids),
    ).fetchall()
    assert people == [(persona.person_id,)]
    # the pricing loop happened before identification and still belongs to the person
    sessions = con.execute(
        "select session_id, matched_count from analytics.fct_user_patterns "
        "where person_id = ? and pattern_code = 'price_comparison_loop'",
        [persona.person_id],
    ).fetchall()
    assert len(sessions) == 1 and sessions[0][1] == 3


def test_pattern_rows_carry_evidence_of_the_matching_events(con) -> None:
    persona = PERSONAS["payment_rage"]
    code, severity, count, first_at, last_at, evidence = con.execute(
        "select pattern_code, severity, matched_count, first_matched_at, last_matched_at, evidence "
        "from analytics.fct_user_patterns where person_id = ?",
        [persona.person_id],
    ).fetchone()
    assert (code, severity, count) == ("payment_failure_frustration", "HIGH", 3)
    items = json.loads(evidence)
    assert len(items) == 3
    assert {"uuid", "at", "label"} <= set(items[0])
    assert [item["at"] for item in items] == sorted(item["at"] for item in items)
    uuids = [item["uuid"] for item in items]
    names = con.execute(
        f"select event_name from analytics.fct_enriched_events where event_uuid in ({','.join('?' * 3)}) "
        "order by event_at",
        uuids,
    ).fetchall()
    assert [n for (n,) in names] == ["payment_failed", "$rageclick", "$rageclick"]
    assert first_at < last_at


def test_cohorts_that_cannot_be_evaluated_say_why(con) -> None:
    statuses = dict(
        con.execute(
            "select cohort_name, status || ': ' || status_reason from analytics.fct_cohort_membership "
            "where status <> 'member'"
        ).fetchall()
    )
    assert statuses["Beta testers (static)"].startswith("static_not_evaluated: static cohort")
    assert statuses["Purchasers (action)"].startswith("unsupported: action_filter")
    assert len(statuses) == 2


def _column(con, sql: str) -> set:
    return {value for (value,) in con.execute(sql).fetchall()}


def test_every_cohort_has_members_or_a_status_and_one_reference_time(con) -> None:
    known = {c["name"] for c in demo_cohorts(1)} | _column(
        con, "select name from posthog_rules.cohort_definitions"
    )
    seen = _column(con, "select distinct cohort_name from analytics.fct_cohort_membership")
    assert {"Beta testers (static)", "Purchasers (action)"} <= seen <= known
    expected_somewhere = set().union(*(p.expected_cohorts for p in PERSONAS.values()))
    assert expected_somewhere <= seen
    assert _column(con, "select distinct reference_time from analytics.fct_cohort_membership") == {END}


def test_match_log_lists_the_events_that_made_people_match(con) -> None:
    persona = PERSONAS["checkout_abandoner"]
    log = con.execute(
        "select cohort_name, event_name, distinct_id from analytics.fct_cohort_matches "
        "where person_id = ? order by cohort_name, event_at",
        [persona.person_id],
    ).fetchall()
    by_cohort: dict[str, set[str]] = {}
    for cohort, event, distinct_id in log:
        by_cohort.setdefault(cohort, set()).add(event)
        assert distinct_id in persona.distinct_ids
    assert by_cohort["Checkout starters (30d)"] == {"checkout_started"}
    assert by_cohort["Lapsed buyers"] == {"order_completed"}
    # person-property cohorts have no behavioral evidence
    assert "Gmail users" not in by_cohort
    members = _column(
        con, "select distinct cohort_name from analytics.fct_cohort_membership where status = 'member'"
    )
    assert _column(con, "select distinct cohort_name from analytics.fct_cohort_matches") <= members


def _expected_header(person_id, first_seen, last_seen, sessions, events, device, browser, country) -> str:
    """The prompt's first line, derived in Python from the row's own columns."""
    first, last = first_seen.strftime("%Y-%m-%d %H:%M"), last_seen.strftime("%Y-%m-%d %H:%M")
    if first == last:
        span = f"seen {first}"
    elif first[:10] == last[:10]:
        span = f"active {first} to {last[11:]}"
    else:
        span = f"active {first} to {last}"
    counts = f"{sessions} session{'' if sessions == 1 else 's'}, {events} event{'' if events == 1 else 's'}"
    facts = "".join(f" | {value}" for value in (device, browser, country) if value is not None)
    return f"User {person_id} | {span} UTC | {counts}{facts}"


def test_prompt_header_states_span_and_counts_compactly(con) -> None:
    con.execute("set TimeZone = 'UTC'")
    found = con.execute("""
        select person_id, first_seen, last_seen, session_count, event_count, device_type, browser, country,
            prompt_text
        from analytics.user_context
    """).fetchall()
    assert len(found) > len(PERSONAS)
    spans = set()
    for *facts, prompt in found:
        header = prompt.split("\n", 1)[0]
        assert header == _expected_header(*facts), prompt
        spans.add(header.split(" | ")[1].split(" ")[0])
        assert "\nRecent events, newest first:\n" in prompt
    assert {"active"} <= spans, spans
