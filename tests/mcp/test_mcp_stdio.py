"""The MCP server over stdio, driven by the SDK's real client in a separate process."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import anyio
from mcp_clients import stdio_session, text_of
from sample_export import ALICE, AS_OF, sample_table, write_sample_export
from scenarios import check_answers, check_errors, check_listings


def test_stdio_tools_resources_prompt_match_export(export_dir: Path, tmp_path: Path) -> None:
    async def run() -> None:
        async with stdio_session(export_dir, tmp_path / "server.log") as session:
            await check_listings(session)
            await check_answers(session, export_dir)

    anyio.run(run)


def test_stdio_bad_input_gives_tool_errors_and_server_keeps_serving(export_dir: Path, tmp_path: Path) -> None:
    async def run() -> None:
        async with stdio_session(export_dir, tmp_path / "server.log") as session:
            await check_errors(session)
            res = await session.call_tool("get_user_context", {"user_id": ALICE})
            assert not res.is_error

    anyio.run(run)
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_redacted_keys_never_reach_answers(export_dir: Path, tmp_path: Path) -> None:
    """Alice's exported events carry a nested `email` property; the manifest lists `email` as redacted."""

    async def run() -> None:
        async with stdio_session(export_dir, tmp_path / "server.log") as session:
            answers = [
                await session.call_tool("get_user_context", {"user_id": ALICE, "format": "json"}),
                await session.call_tool("get_user_context", {"user_id": ALICE}),
                await session.call_tool("explain_pattern", {"user_id": ALICE, "code": "checkout_abandoned"}),
                await session.call_tool("find_users", {"limit": 50}),
            ]
            for res in answers:
                assert not res.is_error
                assert '"email"' not in json.dumps(res.structured_content)
            resource = await session.read_resource(f"context://{ALICE}")
            assert '"email"' not in resource.contents[0].text

    anyio.run(run)


def test_new_export_mid_session_is_seen_by_the_next_call(export_dir: Path, tmp_path: Path) -> None:
    later = AS_OF + timedelta(minutes=15)

    async def run() -> None:
        async with stdio_session(export_dir, tmp_path / "server.log") as session:
            first = await session.call_tool("get_user_context", {"user_id": ALICE})
            assert first.structured_content["as_of"] == "2026-11-23T18:00:00Z"
            write_sample_export(export_dir, sample_table(later), as_of=later)
            second = await session.call_tool("get_user_context", {"user_id": ALICE})
            assert second.structured_content["as_of"] == "2026-11-23T18:15:00Z"
            assert "2026-11-23T18:15:00Z" in text_of(second).splitlines()[0]
            assert second.structured_content["export_version"] != first.structured_content["export_version"]
            listed = await session.call_tool("list_patterns", {})
            assert listed.structured_content["as_of"] == "2026-11-23T18:15:00Z"

    anyio.run(run)


def test_no_export_yet_is_a_clear_tool_error(tmp_path: Path) -> None:
    """Started through the console script (`posthog-context mcp --transport stdio`) before any export."""

    async def run() -> None:
        async with stdio_session(tmp_path / "empty-export", tmp_path / "server.log", via_cli=True) as session:
            res = await session.call_tool("get_user_context", {"user_id": ALICE})
            assert res.is_error and "not available yet" in text_of(res)
            write_sample_export(tmp_path / "empty-export")
            res = await session.call_tool("get_user_context", {"user_id": ALICE})
            assert not res.is_error

    anyio.run(run)
