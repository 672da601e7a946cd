"""Streamable-HTTP deployment of the MCP server behind the shared SERVING_API_KEY.

Every request except GET /health must carry `Authorization: Bearer <key>`; the key is compared in
constant time and never logged. Anything else gets 401 before it reaches the MCP session layer.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = frozenset({"/health"})


class BearerKeyMiddleware:
    """ASGI wrapper: 401 unless the request presents the API key as a bearer token."""

    def __init__(self, app: ASGIApp, api_key: str, open_paths: frozenset[str] = OPEN_PATHS) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        self.app = app
        self._key = api_key.encode("utf-8")
        self.open_paths = open_paths

    def _authorized(self, scope: Scope) -> bool:
        header = b""
        for name, value in scope.get("headers") or []:
            if name.lower() == b"authorization":
                header = value
                break
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer":
            token = b""
        # compare_digest on equal-type bytes; a wrong length still takes the constant-time path.
        return hmac.compare_digest(token.strip(), self._key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.open_paths or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {"error": "unauthorized", "detail": "send 'Authorization: Bearer <SERVING_API_KEY>'"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="posthog-context"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def bearer_protected_app(server: MCPServer, api_key: str, *, host: str = "127.0.0.1") -> Any:
    """The SDK's streamable-HTTP app (MCP endpoint at /mcp, plus /health) wrapped in the key check."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    @server.custom_route("/health", methods=["GET"])
    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return BearerKeyMiddleware(server.streamable_http_app(host=host), api_key)
