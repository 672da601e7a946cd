"""Read API for chatbots: `GET /context/{person_or_distinct_id}` and `GET /health`.

Serves from the atomic export (serving.store.ExportStore), never from the warehouse file, so it keeps
answering while the pipeline rebuilds. Every request except /health needs SERVING_API_KEY, sent as
`Authorization: Bearer <key>` or `X-API-Key: <key>` and compared in constant time.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from serving.store import ExportNotFound, ExportStore, ExportStoreError, InvalidUserId, validate_user_id

PROFILE_FIELDS = (
    "first_seen",
    "last_seen",
    "session_count",
    "event_count",
    "device_type",
    "browser",
    "country",
)


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def context_response(row: dict[str, Any], requested_id: str, as_of: str) -> dict[str, Any]:
    """The context shape chatbots consume: labelled recent events, last session, patterns, cohorts, prompt."""
    return {
        "user_id": requested_id,
        "person_id": row.get("person_id"),
        "project_id": row.get("project_id"),
        "distinct_ids": row.get("distinct_ids") or [],
        "recent_events": row.get("recent_events") or [],
        "last_session_id": row.get("last_session_id"),
        "last_session_summary": row.get("last_session_summary"),
        "patterns": row.get("patterns") or [],
        "cohorts": row.get("cohorts") or [],
        "profile": {name: row.get(name) for name in PROFILE_FIELDS if name in row},
        "prompt_text": row.get("prompt_text"),
        "context_as_of": row.get("context_as_of"),
        "as_of": as_of,
    }


def create_app(export_dir: Path | str | None = None, api_key: str | None = None) -> FastAPI:
    """Build the app; defaults come from EXPORT_DIR and SERVING_API_KEY."""
    store = ExportStore(export_dir or os.environ.get("EXPORT_DIR") or "./data/export")
    key = api_key if api_key is not None else (os.environ.get("SERVING_API_KEY") or "").strip()
    app = FastAPI(
        title="posthog-context read API",
        description="LLM-ready user context from PostHog, served from the atomic export.",
        version="1",
    )

    def require_key(request: Request) -> None:
        if not key:
            raise HTTPException(503, "SERVING_API_KEY is not set on the server; only /health is available")
        presented = _presented_key(request)
        if presented is None or not hmac.compare_digest(presented.encode(), key.encode()):
            raise HTTPException(
                401,
                "missing or wrong API key (Authorization: Bearer or X-API-Key)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @app.get("/health")
    def health() -> JSONResponse:
        try:
            snap = store.snapshot()
        except ExportNotFound as error:
            return JSONResponse({"status": "no_export", "detail": str(error)}, status_code=503)
        except ExportStoreError as error:
            return JSONResponse({"status": "export_unreadable", "detail": str(error)}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "as_of": snap.as_of_iso,
                "row_count": snap.row_count,
                "version": snap.version,
                "schema_version": snap.manifest.get("schema_version"),
                "auth_configured": bool(key),
            }
        )

    @app.get("/context/{user_id}", dependencies=[Depends(require_key)])
    def get_context(user_id: str, project_id: int | None = None) -> dict[str, Any]:
        try:
            validate_user_id(user_id)
        except InvalidUserId as error:
            raise HTTPException(400, str(error)) from None
        try:
            snap = store.snapshot()
        except ExportStoreError as error:
            raise HTTPException(503, f"no export to serve: {error}") from None
        try:
            row = snap.get(user_id, project_id)
        except InvalidUserId as error:
            raise HTTPException(400, str(error)) from None
        except LookupError as error:
            raise HTTPException(409, str(error)) from None
        if row is None:
            shown = user_id if len(user_id) <= 64 else user_id[:64] + "…"
            raise HTTPException(404, f"unknown user {shown!r}: no person or distinct id with this value")
        return context_response(row, user_id, snap.as_of_iso)

    return app


def main() -> None:
    """Run the API with uvicorn (SERVING_HOST / SERVING_PORT, default 127.0.0.1:8000)."""
    import uvicorn

    uvicorn.run(
        create_app(),
        host=os.environ.get("SERVING_HOST", "127.0.0.1"),
        port=int(os.environ.get("SERVING_PORT", "8000")),
        log_level=os.environ.get("SERVING_LOG_LEVEL", "info"),
    )
