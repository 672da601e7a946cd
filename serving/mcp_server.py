"""MCP server: chat assistants ask for a user's context through tools, a resource and a prompt.

Built on the official `mcp` SDK (`MCPServer`). Reads only the atomic export in EXPORT_DIR via
`ExportStore`, so it picks up each new export without a restart and never touches the warehouse.

Run it with `python -m serving.mcp_server --transport stdio` (a desktop assistant launches it) or
`--transport http --host 127.0.0.1 --port 8765` (streamable HTTP at /mcp, bearer key required).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import ValidationError

from serving.context_view import (
    MAX_EVENTS_LIMIT,
    explain_text,
    pattern_evidence,
    prompt_for,
    trim_context,
    with_export_stamp,
)
from serving.store import (
    MAX_FIND_LIMIT,
    ExportNotFound,
    ExportSnapshot,
    ExportStore,
    ExportStoreError,
    InvalidUserId,
    validate_user_id,
)

log = logging.getLogger(__name__)

SERVER_NAME = "posthog-context"
SERVER_MS_META_KEY = "posthog-context/server_ms"
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

INSTRUCTIONS = (
    "Behavioural context about the end users of a product, built from PostHog analytics: what each "
    "person was just doing (recent events with readable labels), a summary of their last session, "
    "detected behaviour patterns (for example an abandoned checkout) and cohorts. Look a user up by "
    "PostHog person id or any of their distinct ids (often the app's user id or email). Every answer "
    "states the export's as-of time; events after it are not known yet."
)


class UserNotFound(ToolError):
    """Tool error for an id that is valid but not in the export."""


class ContextServer(MCPServer):
    """MCPServer whose argument-validation errors name the field and the rule, without pydantic's
    boilerplate or the rejected value (which may be huge or sensitive)."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ValidationError):
                raise
            problems = "; ".join(
                f"{'.'.join(str(part) for part in err['loc']) or 'arguments'}: {err['msg']}"
                for err in cause.errors()
            )
            raise ToolError(f"Invalid arguments for {name}: {problems}.") from cause


def _result(
    snapshot: ExportSnapshot, text: str, structured: dict[str, Any], started: float
) -> CallToolResult:
    """Text for the model (first line names the as-of time), structured data for programs."""
    header = f"[export as of {snapshot.as_of_iso}, version {snapshot.version}]"
    return CallToolResult(
        content=[TextContent(type="text", text=f"{header}\n{text}")],
        structured_content=with_export_stamp(snapshot, structured),
        _meta={SERVER_MS_META_KEY: round((time.perf_counter() - started) * 1000, 3)},
    )


@contextmanager
def _as_tool_errors() -> Iterator[None]:
    """Expected problems become readable tool errors (isError) instead of stack traces."""
    try:
        yield
    except ToolError:
        raise
    except InvalidUserId as exc:
        raise ToolError(f"Invalid user_id: {exc}.") from None
    except ExportNotFound as exc:
        raise ToolError(f"The user-context export is not available yet: {exc}") from None
    except ExportStoreError as exc:
        raise ToolError(f"The user-context export cannot be read: {exc}") from None
    except (ValueError, LookupError) as exc:
        raise ToolError(str(exc)) from None


def _people(n: int) -> str:
    return f"{n} person" if n == 1 else f"{n} people"


def _check_int(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolError(f"{name} must be a whole number between {low} and {high}, got {value!r}.")
    return value


def _lookup(snapshot: ExportSnapshot, user_id: str, project_id: int | None) -> dict[str, Any]:
    validate_user_id(user_id)
    context = snapshot.get(user_id, project_id)
    if context is None:
        shown = user_id if len(user_id) <= 80 else user_id[:80] + "…"
        raise UserNotFound(
            f"No person with person id or distinct id {shown!r} in the export as of {snapshot.as_of_iso}. "
            "The id may be wrong, or the person has no events yet; find_users lists known people."
        )
    return context


def build_server(store: ExportStore) -> MCPServer:
    """An MCPServer whose tools, resource template and prompt all answer from `store`."""
    server: MCPServer = ContextServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool(annotations=READ_ONLY, title="Get one user's behavioural context")
    def get_user_context(
        user_id: str, format: str = "prompt", max_events: int = 20, project_id: int | None = None
    ) -> CallToolResult:
        """What one end user was just doing in the product, ready to use in a reply.

        user_id: the PostHog person id or any of the person's distinct ids (app user id, email, anonymous id).
        format: "prompt" (default) returns a compact plain-text briefing: recent events newest first with
        readable labels and pages, the last session's summary, detected behaviour patterns with severity,
        and cohorts. "json" returns the same context as structured data (recent_events, last_session_summary,
        patterns with evidence, cohorts, first_seen/last_seen, counts, device).
        max_events: how many recent events to include (1-200, default 20).
        project_id: only needed when the same id exists in several PostHog projects.
        The answer starts with the export's as-of time; nothing after that time is known.
        """
        started = time.perf_counter()
        with _as_tool_errors():
            if format not in ("prompt", "json"):
                raise ToolError(f'format must be "prompt" or "json", got {format!r}.')
            _check_int("max_events", max_events, 1, MAX_EVENTS_LIMIT)
            snapshot = store.snapshot()
            context = _lookup(snapshot, user_id, project_id)
            if format == "json":
                data = trim_context(context, max_events)
                data.pop("prompt_text", None)
                payload = {"user_id": user_id, **data}
                return _result(snapshot, json.dumps(payload, ensure_ascii=False, indent=1), payload, started)
            text = prompt_for(context, max_events)
            payload = {"user_id": user_id, "person_id": context.get("person_id"), "prompt_text": text}
            return _result(snapshot, text, payload, started)

    @server.tool(annotations=READ_ONLY, title="Find users by pattern, cohort or recent activity")
    def find_users(
        pattern: str | None = None,
        cohort: str | None = None,
        active_within_minutes: float | None = None,
        limit: int = 20,
    ) -> CallToolResult:
        """List people, most recently active first, optionally filtered.

        pattern: a detected behaviour pattern code (see list_patterns), e.g. "checkout_abandoned".
        cohort: a cohort id or exact cohort name (see list_cohorts).
        active_within_minutes: only people whose last event is at most this many minutes before now.
        limit: 1-500, default 20.
        Filters combine with AND. Each person comes with ids, last_seen, counts, pattern codes, cohort
        names and the last session summary; call get_user_context for the full picture.
        """
        started = time.perf_counter()
        with _as_tool_errors():
            _check_int("limit", limit, 1, MAX_FIND_LIMIT)
            if active_within_minutes is not None and not active_within_minutes > 0:
                raise ToolError(
                    f"active_within_minutes must be a positive number, got {active_within_minutes!r}."
                )
            snapshot = store.snapshot()
            users = snapshot.find_users(pattern, cohort, active_within_minutes, limit)
            filters = {"pattern": pattern, "cohort": cohort, "active_within_minutes": active_within_minutes}
            used = ", ".join(f"{k}={v}" for k, v in filters.items() if v is not None) or "no filter"
            lines = [f"{_people(len(users))} ({used}), most recently active first:"]
            for u in users:
                extra = []
                if u["patterns"]:
                    extra.append("patterns " + ", ".join(u["patterns"]))
                if u["cohorts"]:
                    extra.append("cohorts " + ", ".join(str(c) for c in u["cohorts"]))
                ids = ", ".join(str(d) for d in u["distinct_ids"][:3])
                lines.append(f"- {u['person_id']} ({ids}) last seen {u['last_seen']}; " + "; ".join(extra))
            payload = {"filters": filters, "count": len(users), "users": users}
            return _result(snapshot, "\n".join(lines), payload, started)

    @server.tool(annotations=READ_ONLY, title="Show the evidence for one detected pattern")
    def explain_pattern(user_id: str, code: str, project_id: int | None = None) -> CallToolResult:
        """Why a behaviour pattern was detected for a user: each occurrence (session, severity, when,
        how many matches) with the matching events, their readable labels, pages and times.

        user_id: person id or any distinct id. code: the pattern code as shown by get_user_context or
        list_patterns (e.g. "checkout_abandoned").
        """
        started = time.perf_counter()
        with _as_tool_errors():
            if not isinstance(code, str) or not code.strip() or len(code) > 200:
                raise ToolError("code must be a non-empty pattern code (see list_patterns).")
            snapshot = store.snapshot()
            context = _lookup(snapshot, user_id, project_id)
            occurrences = pattern_evidence(context, code)
            if not occurrences:
                mine = sorted({p.get("code") for p in context.get("patterns") or [] if isinstance(p, dict)})
                raise ToolError(
                    f"Pattern {code[:80]!r} was not detected for this person. "
                    f"Their patterns: {', '.join(mine) if mine else 'none'}."
                )
            person_id = str(context.get("person_id"))
            payload = {"user_id": user_id, "person_id": person_id, "code": code, "occurrences": occurrences}
            return _result(
                snapshot, explain_text(person_id, code, occurrences, snapshot.as_of_iso), payload, started
            )

    @server.tool(annotations=READ_ONLY, title="List detected behaviour patterns")
    def list_patterns() -> CallToolResult:
        """Every behaviour pattern detected in the export: code, severity (HIGH/MEDIUM/LOW), description,
        and member_count (how many people show it). Use a code with find_users or explain_pattern."""
        started = time.perf_counter()
        with _as_tool_errors():
            snapshot = store.snapshot()
            patterns = snapshot.patterns()
            lines = [f"{len(patterns)} patterns detected:"] + [
                f"- {p['code']} ({p.get('severity')}): {p.get('description')} — {_people(p['member_count'])}"
                for p in patterns
            ]
            return _result(snapshot, "\n".join(lines), {"patterns": patterns}, started)

    @server.tool(annotations=READ_ONLY, title="List cohorts")
    def list_cohorts() -> CallToolResult:
        """Every cohort with at least one member in the export: id, name and member_count.
        Use the id or name with find_users."""
        started = time.perf_counter()
        with _as_tool_errors():
            snapshot = store.snapshot()
            cohorts = snapshot.cohorts()
            lines = [f"{len(cohorts)} cohorts:"] + [
                f"- {c.get('name')} (id {c.get('id')}): {_people(c['member_count'])}" for c in cohorts
            ]
            return _result(snapshot, "\n".join(lines), {"cohorts": cohorts}, started)

    @server.resource(
        "context://{user_id}",
        name="user_context",
        title="User context",
        description="One user's behavioural context as JSON (by person id or distinct id), with as_of.",
        mime_type="application/json",
    )
    def context_resource(user_id: str) -> str:
        try:
            snapshot = store.snapshot()
            context = _lookup(snapshot, user_id, None)
        except (ToolError, InvalidUserId, ExportStoreError, LookupError, ValueError) as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
        return json.dumps(with_export_stamp(snapshot, {"user_id": user_id, **context}), ensure_ascii=False)

    @server.prompt(
        name="user_briefing",
        title="Support briefing for one user",
        description="System-prompt text for a support assistant: what this user was just doing, and when.",
    )
    def user_briefing(user_id: str) -> str:
        try:
            snapshot = store.snapshot()
            context = _lookup(snapshot, user_id, None)
        except (ToolError, InvalidUserId, ExportStoreError, LookupError, ValueError) as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
        body = prompt_for(context, MAX_EVENTS_LIMIT)
        return (
            "You are a support assistant for this product. Below is what product analytics recorded "
            f"about the user you are talking to, as of {snapshot.as_of_iso} (later activity is not "
            "included). Use it to understand what they were trying to do and where they may be stuck; "
            "answer their question first, refer to their activity naturally, do not read the data back "
            "verbatim or mention internal pattern codes, and ask when the context does not settle "
            "something.\n\n"
            f'<user_context as_of="{snapshot.as_of_iso}">\n{body}\n</user_context>'
        )

    return server


def main(argv: list[str] | None = None) -> int:
    """Command line entry (also used by `posthog-context mcp ...`). Returns the process exit code."""
    parser = argparse.ArgumentParser(prog="posthog-context mcp", description="Serve user context over MCP.")
    parser.add_argument(
        "--transport", choices=("stdio", "http"), default=os.environ.get("MCP_TRANSPORT", "stdio")
    )
    parser.add_argument("--host", default=os.environ.get("MCP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MCP_PORT", "8765")))
    parser.add_argument("--export-dir", default=os.environ.get("EXPORT_DIR", "./data/export"))
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=os.environ.get("MCP_LOG_LEVEL", "WARNING").upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    api_key = os.environ.get("SERVING_API_KEY", "").strip()
    if args.transport == "http" and not api_key:
        print(
            "posthog-context mcp: refusing to start the HTTP transport: SERVING_API_KEY is not set. "
            "Set it to a long random secret; clients send it as 'Authorization: Bearer <key>'.",
            file=sys.stderr,
        )
        return 2

    store = ExportStore(args.export_dir)
    # Load in the background so the client's handshake is answered at once even for a large export;
    # the first tool call waits for the load. Without an export the server still starts: the pipeline
    # may publish one later, and tools say so until then.
    store.preload()
    if not os.path.lexists(os.path.join(args.export_dir, "current")):
        print(
            f"posthog-context mcp: warning: no export yet in {args.export_dir} (set EXPORT_DIR)",
            file=sys.stderr,
        )

    server = build_server(store)
    if args.transport == "stdio":
        server.run("stdio")
        return 0

    import uvicorn

    from serving.mcp_http import bearer_protected_app

    app = bearer_protected_app(server, api_key, host=args.host)
    print(f"posthog-context mcp: streamable HTTP on http://{args.host}:{args.port}/mcp", file=sys.stderr)
    uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
