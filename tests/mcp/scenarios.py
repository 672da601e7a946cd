"""What every transport must do, written once and run over stdio and over streamable HTTP.

Expected values come from reading the export's Parquet directly (not through serving.store), so the
server is checked against the data it was given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from mcp import ClientSession
from mcp.shared.exceptions import MCPError
from mcp_clients import json_of_resource, text_of

TOOLS = {"get_user_context", "find_users", "explain_pattern", "list_patterns", "list_cohorts"}


def export_rows(export_dir: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(manifest, rows by person id) of the export `current` points at, JSON columns parsed."""
    version = (export_dir / "current").resolve()
    manifest = json.loads((version / "manifest.json").read_text())
    rows = {}
    for row in pq.read_table(version / "user_context.parquet").to_pylist():
        for col in ("distinct_ids", "recent_events", "patterns", "cohorts"):
            row[col] = json.loads(row[col]) if row[col] else []
        rows[row["person_id"]] = row
    return manifest, rows


async def check_listings(session: ClientSession) -> None:
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.description and len(tool.description) > 60, tool.name
    props = tools["get_user_context"].input_schema["properties"]
    assert {"user_id", "format", "max_events"} <= set(props)
    templates = (await session.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == ["context://{user_id}"]
    prompts = (await session.list_prompts()).prompts
    assert [p.name for p in prompts] == ["user_briefing"]
    assert [a.name for a in prompts[0].arguments or []] == ["user_id"]


async def check_answers(session: ClientSession, export_dir: Path) -> None:
    """Each tool, the resource and the prompt, compared with the export's rows."""
    manifest, rows = export_rows(export_dir)
    as_of = manifest["as_of"]
    as_of_prefix = as_of.replace("Z", "")[:19]

    # get_user_context by person id and by every distinct id, both formats
    for person_id, row in rows.items():
        for user_id in [person_id, *row["distinct_ids"]]:
            res = await session.call_tool("get_user_context", {"user_id": user_id, "format": "json"})
            assert not res.is_error, text_of(res)
            data = res.structured_content
            assert data["person_id"] == person_id
            assert data["as_of"].startswith(as_of_prefix)
            assert [e["uuid"] for e in data["recent_events"]] == [
                e["uuid"] for e in row["recent_events"][:20]
            ]
            assert [e["label"] for e in data["recent_events"]] == [
                e["label"] for e in row["recent_events"][:20]
            ]
            assert data["last_session_summary"] == row["last_session_summary"]
            assert sorted(p["code"] for p in data["patterns"]) == sorted(p["code"] for p in row["patterns"])
            assert sorted(str(c["id"]) for c in data["cohorts"]) == sorted(
                str(c["id"]) for c in row["cohorts"]
            )
        res = await session.call_tool("get_user_context", {"user_id": person_id})
        assert not res.is_error
        text = text_of(res)
        assert as_of_prefix in text.splitlines()[0]
        assert row["prompt_text"] in text
        assert res.structured_content["prompt_text"] == row["prompt_text"]

    # max_events trims both formats
    busiest = max(rows.values(), key=lambda r: len(r["recent_events"]))
    if len(busiest["recent_events"]) > 1:
        res = await session.call_tool(
            "get_user_context", {"user_id": busiest["person_id"], "format": "json", "max_events": 1}
        )
        assert [e["uuid"] for e in res.structured_content["recent_events"]] == [
            busiest["recent_events"][0]["uuid"]
        ]
        res = await session.call_tool("get_user_context", {"user_id": busiest["person_id"], "max_events": 1})
        assert busiest["recent_events"][0]["label"] in text_of(res)
        assert busiest["recent_events"][1]["label"] not in res.structured_content["prompt_text"]

    # list_patterns / list_cohorts: member counts equal the export's
    expected_patterns: dict[str, set[str]] = {}
    expected_cohorts: dict[str, set[str]] = {}
    for person_id, row in rows.items():
        for p in row["patterns"]:
            expected_patterns.setdefault(p["code"], set()).add(person_id)
        for c in row["cohorts"]:
            expected_cohorts.setdefault(str(c["id"]), set()).add(person_id)
    res = await session.call_tool("list_patterns", {})
    assert not res.is_error
    got = {p["code"]: p["member_count"] for p in res.structured_content["patterns"]}
    assert got == {code: len(people) for code, people in expected_patterns.items()}
    assert res.structured_content["as_of"].startswith(as_of_prefix)
    res = await session.call_tool("list_cohorts", {})
    got = {str(c["id"]): c["member_count"] for c in res.structured_content["cohorts"]}
    assert got == {cid: len(people) for cid, people in expected_cohorts.items()}

    # find_users per pattern and per cohort: same people, newest activity first
    def newest_first(people: set[str]) -> list[str]:
        return sorted(people, key=lambda pid: rows[pid]["last_seen"], reverse=True)

    for code, people in expected_patterns.items():
        res = await session.call_tool("find_users", {"pattern": code, "limit": 500})
        assert not res.is_error, text_of(res)
        found = [u["person_id"] for u in res.structured_content["users"]]
        assert found == newest_first(people)
    for cid, people in expected_cohorts.items():
        res = await session.call_tool("find_users", {"cohort": cid, "limit": 500})
        assert sorted(u["person_id"] for u in res.structured_content["users"]) == sorted(people)
    res = await session.call_tool("find_users", {"limit": 2})
    assert [u["person_id"] for u in res.structured_content["users"]] == newest_first(set(rows))[:2]

    # explain_pattern: evidence events with labels and times
    for code, people in expected_patterns.items():
        person_id = sorted(people)[0]
        res = await session.call_tool("explain_pattern", {"user_id": person_id, "code": code})
        assert not res.is_error, text_of(res)
        want = [e for p in rows[person_id]["patterns"] if p["code"] == code for e in p["evidence"]]
        got_events = [e for occ in res.structured_content["occurrences"] for e in occ["events"]]
        assert [(e["uuid"], e["label"]) for e in got_events] == [(e["uuid"], e["label"]) for e in want]
        assert all(e["at"] for e in got_events)
        for e in want:
            assert e["label"] in text_of(res)

    # resource template and prompt
    some_person, some_row = next(iter(rows.items()))
    res = await session.read_resource(f"context://{some_person}")
    data = json_of_resource(res)
    assert data["person_id"] == some_person and data["as_of"].startswith(as_of_prefix)
    assert len(data["recent_events"]) == len(some_row["recent_events"])
    prompt = await session.get_prompt("user_briefing", {"user_id": some_person})
    body = prompt.messages[0].content.text
    assert some_row["prompt_text"] in body and as_of_prefix in body
    assert "support assistant" in body


BAD_IDS = [
    "../../etc/passwd",
    "a/b",
    "..",
    "x" * 5000,
    "line\nbreak",
    "nul\x00byte",
    "",
    "   ",
]


async def check_errors(session: ClientSession) -> None:
    """Bad input gives tool errors (isError) with a readable message, and the session keeps working."""
    for bad in BAD_IDS:
        res = await session.call_tool("get_user_context", {"user_id": bad})
        assert res.is_error, repr(bad[:20])
        message = text_of(res)
        assert "user" in message.lower() and "Traceback" not in message
        assert len(message) < 600  # a huge id is not echoed back
        ok = await session.call_tool("list_patterns", {})
        assert not ok.is_error
    for unknown in ["no-such-user", "1' OR '1'='1", "'; DROP TABLE user_context; --", "{{ config }}"]:
        res = await session.call_tool("get_user_context", {"user_id": unknown})
        assert res.is_error and "No person" in text_of(res)
    bad_calls: list[tuple[str, dict[str, Any]]] = [
        ("get_user_context", {"user_id": "x", "format": "xml"}),
        ("get_user_context", {"user_id": "x", "max_events": 0}),
        ("get_user_context", {"user_id": "x", "max_events": "many"}),
        ("get_user_context", {}),
        ("find_users", {"limit": 0}),
        ("find_users", {"limit": 100000}),
        ("find_users", {"pattern": "no_such_pattern"}),
        ("find_users", {"cohort": "no such cohort"}),
        ("find_users", {"active_within_minutes": -5}),
        ("explain_pattern", {"user_id": "no-such-user", "code": "checkout_abandoned"}),
        ("no_such_tool", {}),
    ]
    for name, args in bad_calls:
        res = await session.call_tool(name, args)
        assert res.is_error, (name, args)
        assert "Traceback" not in text_of(res)
    res = await session.call_tool("get_user_context", {"user_id": {"$ne": None}})
    assert res.is_error and text_of(res).startswith("Invalid arguments for get_user_context: user_id")
    assert "pydantic" not in text_of(res)
    for uri in ["context://no-such-user", "context://..%2F..%2Fetc%2Fpasswd"]:
        try:
            await session.read_resource(uri)
        except MCPError as exc:
            assert "Traceback" not in str(exc)
        else:
            raise AssertionError(f"{uri} should fail")
    try:
        await session.get_prompt("user_briefing", {"user_id": "no-such-user"})
    except MCPError as exc:
        assert "No person" in str(exc)
    else:
        raise AssertionError("user_briefing for an unknown user should fail")
    res = await session.call_tool("list_cohorts", {})
    assert not res.is_error
