"""Bad input over the real HTTP path and in batch-export files: each row is quarantined with a reason or
loaded (repaired), counted, never dropped; what loads goes through `dbt build` and still gets a label."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hostile_data import FILE_ROWS, GARBAGE_CHAINS, NO_EVENTS_PERSON
from reliability_helpers import scalar

from ingestion.posthog.normalize import RAW_PAYLOAD_LIMIT, TRUNCATION_MARKER
from ingestion.warehouse import read_table
from rules.loader import RulesError, load_rules


def test_build_passed(hostile_build) -> None:
    assert "Completed successfully" in hostile_build.dbt_output, hostile_build.dbt_output[-3000:]


def test_every_http_row_is_loaded_or_quarantined_with_its_reason(hostile_build) -> None:
    hb, ws = hostile_build, hostile_build.ws
    expected = Counter(reason for _, reason, _ in hb.cases if reason)
    assert hb.summary.quarantine_reasons == dict(expected)
    assert hb.summary.events_quarantined == sum(expected.values())
    q = read_table(
        ws, "SELECT uuid, reason, detail FROM posthog_raw.events_quarantine WHERE source = 'query_api'"
    )
    by_uuid = {(r["uuid"], r["reason"]) for r in q.to_pylist()}
    loaded = set(read_table(ws, "SELECT uuid FROM posthog_raw.events")["uuid"].to_pylist())
    for row, reason, what in hb.cases:
        if reason is None:
            assert row["uuid"] in loaded, what
        else:
            assert (row["uuid"], reason) in by_uuid, what
            if reason != "duplicate_uuid_conflict":
                assert row["uuid"] not in loaded, what
    assert all(r["detail"] for r in q.to_pylist())
    # Total in = loaded + quarantined, over everything the demo API served.
    served = hb.store.event_count()
    in_events = scalar(ws, "SELECT count(*) FROM posthog_raw.events WHERE source = 'query_api'")
    assert served == in_events + q.num_rows


def test_duplicate_uuid_keeps_the_first_payload(hostile_build) -> None:
    """Two payloads under one uuid on one page: the one served first is loaded, the other quarantined.

    Which comes first is the server's choice (they tie on the (timestamp, uuid) sort key), so the test
    reads the served order from the quarantine instead of assuming it.
    """
    dup = next(c[0]["uuid"] for c in hostile_build.cases if c[2].startswith("duplicate uuid"))
    loaded = read_table(hostile_build.ws, f"SELECT event FROM posthog_raw.events WHERE uuid = '{dup}'")
    quarantined = read_table(
        hostile_build.ws,
        "SELECT raw_payload, detail FROM posthog_raw.events_quarantine"
        f" WHERE uuid = '{dup}' AND reason = 'duplicate_uuid_conflict'",
    ).to_pylist()
    assert len(quarantined) == 1 and "appears earlier in the batch" in quarantined[0]["detail"]
    later = json.loads(quarantined[0]["raw_payload"])["event"]
    assert later in ("dup_first", "dup_second")
    first = "dup_second" if later == "dup_first" else "dup_first"
    assert loaded["event"].to_pylist() == [first]


def test_huge_payload_is_stored_truncated_with_a_marker(hostile_build) -> None:
    payload = read_table(
        hostile_build.ws,
        "SELECT raw_payload FROM posthog_raw.events_quarantine WHERE reason = 'properties_too_large'",
    )["raw_payload"][0].as_py()
    assert payload.endswith(TRUNCATION_MARKER) and len(payload) <= RAW_PAYLOAD_LIMIT + len(TRUNCATION_MARKER)


def test_text_repairs_are_counted_and_control_characters_kept_in_raw(hostile_build) -> None:
    hb = hostile_build
    assert hb.summary.repaired_text == {"properties:nul_escape": 1}
    events = read_table(hb.ws, "SELECT event FROM posthog_raw.events")["event"].to_pylist()
    assert "ctrl\x01\x1b[31mred\x7f" in events
    labels = read_table(
        hb.ws, "SELECT semantic_label FROM analytics.fct_enriched_events WHERE event_name LIKE 'ctrl%'"
    )["semantic_label"].to_pylist()
    assert labels and not any(ch in labels[0] for ch in "\x01\x1b\x7f")  # labels are printable text


def test_batch_export_files_bad_rows(hostile_build) -> None:
    hb = hostile_build
    assert hb.parquet_summary.quarantine_reasons == hb.file_reasons
    assert hb.parquet_summary.repaired_text == {
        "event:invalid_utf8": 1,
        "properties:invalid_utf8": 1,
        "event:nul": 1,
    }
    # One invalid byte in a JSONL file: the line is repaired and loaded, not the whole file refused.
    assert hb.jsonl_summary.repaired_text == {"file:invalid_utf8_lines": 1}
    loaded = hb.parquet_summary.events_loaded + hb.jsonl_summary.events_loaded
    quarantined = hb.parquet_summary.events_quarantined + hb.jsonl_summary.events_quarantined
    assert loaded + quarantined == FILE_ROWS
    counts = read_table(
        hb.ws,
        "SELECT (SELECT count(*) FROM posthog_raw.events WHERE source = 'batch_export') AS e,"
        " (SELECT count(*) FROM posthog_raw.events_quarantine WHERE source = 'batch_export') AS q",
    ).to_pylist()[0]
    assert counts["e"] + counts["q"] == FILE_ROWS


def test_garbage_element_chains_load_and_get_labels(hostile_build) -> None:
    rows = read_table(
        hostile_build.ws,
        "SELECT r.elements_chain, e.semantic_label FROM posthog_raw.events r"
        " JOIN analytics.fct_enriched_events e ON e.event_uuid = r.uuid"
        " WHERE r.distinct_id LIKE 'hostile-user-%' AND r.event = '$autocapture'",
    ).to_pylist()
    assert sorted(r["elements_chain"] for r in rows) == sorted(GARBAGE_CHAINS)
    assert all(r["semantic_label"] and len(r["semantic_label"]) <= 150 for r in rows)


def test_person_without_events_is_kept_in_dim_persons_but_has_no_context(hostile_build) -> None:
    """By design: a person with no events has nothing to tell a chatbot, so user_context leaves them out."""
    ws = hostile_build.ws
    dim = read_table(
        ws, f"SELECT event_count FROM analytics.dim_persons WHERE person_id = '{NO_EVENTS_PERSON}'"
    )
    assert dim["event_count"].to_pylist() == [0]
    assert (
        scalar(ws, f"SELECT count(*) FROM analytics.user_context WHERE person_id = '{NO_EVENTS_PERSON}'") == 0
    )


def test_cohorts_that_cannot_be_evaluated_get_status_rows(hostile_build) -> None:
    rows = read_table(
        hostile_build.ws,
        "SELECT cohort_id, status, status_reason, person_id FROM analytics.fct_cohort_membership"
        " WHERE cohort_id IN ('9001', '9002', '9003') ORDER BY cohort_id",
    ).to_pylist()
    assert [r["cohort_id"] for r in rows] == ["9001", "9002", "9003"]
    assert all(r["status"] == "unsupported" and r["person_id"] is None for r in rows)
    assert "flag" in rows[0]["status_reason"] and "filters" in rows[1]["status_reason"]
    assert "sounds_like" in rows[2]["status_reason"]


@pytest.mark.parametrize(
    ("file", "text", "names"),
    [
        ("labels.yaml", 'labels:\n  broken: "Bought {product_name\'; drop}"\n', ["labels.yaml", "broken"]),
        ("pages.yaml", "pages:\n  - {prefix: /x}\n", ["pages.yaml", "name"]),
        ("privacy.yaml", "redact:\n  - email\n", ["privacy.yaml", "redact"]),
    ],
)
def test_rule_file_mistakes_name_file_and_key(tmp_path: Path, file: str, text: str, names: list[str]) -> None:
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "rules", rules, ignore=shutil.ignore_patterns("*.py")
    )
    (rules / file).write_text(text)
    with pytest.raises(RulesError) as info:
        load_rules(rules)
    message = str(info.value)
    assert all(name in message for name in names), message


def test_quarantine_payloads_are_json(hostile_build) -> None:
    payloads = read_table(hostile_build.ws, "SELECT raw_payload FROM posthog_raw.events_quarantine")
    for text in payloads["raw_payload"].to_pylist():
        if not text.endswith(TRUNCATION_MARKER):
            assert isinstance(json.loads(text), dict)
