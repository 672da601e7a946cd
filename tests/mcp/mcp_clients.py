"""Real MCP client connections (the SDK's ClientSession) to a server process, over stdio or HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

REPO_ROOT = Path(__file__).resolve().parents[2]


def server_env(export_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "EXPORT_DIR": str(export_dir),
        "EXPORT_RELOAD_CHECK_MS": "0",  # tests swap the export and expect the very next call to see it
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.update(extra)
    return env


@asynccontextmanager
async def stdio_session(
    export_dir: Path, log_path: Path, *, via_cli: bool = False
) -> AsyncIterator[ClientSession]:
    """Spawn `python -m serving.mcp_server --transport stdio` (or the console script's `mcp`
    subcommand) and hand back an initialized session."""
    entry = ["-m", "orchestration.cli", "mcp"] if via_cli else ["-m", "serving.mcp_server"]
    params = StdioServerParameters(
        command=sys.executable,
        args=[*entry, "--transport", "stdio"],
        env=server_env(export_dir),
        cwd=str(REPO_ROOT),
    )
    with open(log_path, "a", encoding="utf-8") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


@asynccontextmanager
async def http_session(url: str, api_key: str) -> AsyncIterator[ClientSession]:
    """Connect to a running streamable-HTTP server with the bearer key."""
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {api_key}"}) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_server(export_dir: Path, api_key: str, log_path: Path) -> Iterator[str]:
    """Start the HTTP transport on a free loopback port; yield its /mcp URL; stop it afterwards."""
    port = free_port()
    env = {**os.environ, **server_env(export_dir, SERVING_API_KEY=api_key)}
    with open(log_path, "a", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "serving.mcp_server", "--transport", "http", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"MCP HTTP server exited early: {Path(log_path).read_text()}")
                try:
                    if httpx.get(base + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("MCP HTTP server did not start within 30 s")
                time.sleep(0.1)
            yield base + "/mcp"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def json_of_resource(result: Any) -> dict[str, Any]:
    return json.loads(result.contents[0].text)
