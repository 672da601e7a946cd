"""The MCP server over streamable HTTP on loopback, behind the SERVING_API_KEY bearer key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
from mcp_clients import REPO_ROOT, http_server, http_session, server_env
from sample_export import ALICE
from scenarios import check_answers, check_errors, check_listings

API_KEY = "test-mcp-key-7f3a9c"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_http_session_with_key(export_dir: Path, tmp_path: Path) -> None:
    with http_server(export_dir, API_KEY, tmp_path / "server.log") as url:

        async def run() -> None:
            async with http_session(url, API_KEY) as session:
                await check_listings(session)
                await check_answers(session, export_dir)
                await check_errors(session)
                res = await session.call_tool("get_user_context", {"user_id": ALICE})
                assert not res.is_error

        anyio.run(run)
    assert API_KEY not in (tmp_path / "server.log").read_text()


BAD_HEADERS = [
    {},
    {"Authorization": "Bearer wrong-key"},
    {"Authorization": f"Bearer {API_KEY}x"},
    {"Authorization": API_KEY},
    {"Authorization": "Basic " + API_KEY},
    {"Authorization": "bearer"},
]


def test_http_refuses_missing_or_wrong_key(export_dir: Path, tmp_path: Path) -> None:
    with http_server(export_dir, API_KEY, tmp_path / "server.log") as url:
        for headers in BAD_HEADERS:
            res = httpx.post(url, json=INIT, headers={**HEADERS, **headers}, timeout=10)
            assert res.status_code == 401, headers
            assert API_KEY not in res.text
        ok = httpx.post(url, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {API_KEY}"}, timeout=10)
        assert ok.status_code == 200
        assert httpx.get(url.removesuffix("/mcp") + "/health", timeout=10).status_code == 200


def test_http_refuses_to_start_without_key(export_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SERVING_API_KEY"}
    env.update(server_env(export_dir))
    proc = subprocess.run(
        [sys.executable, "-m", "serving.mcp_server", "--transport", "http", "--port", "1"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "SERVING_API_KEY" in proc.stderr and "Traceback" not in proc.stderr
