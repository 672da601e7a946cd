"""A PostHog-compatible HTTP server over a `DemoStore`, run in a background thread.

Speaks the endpoints the dlt source uses: the HogQL query API, the legacy events list, persons and
cohorts, with bearer auth, PostHog's page limits and error bodies, and an optional `FaultPlan`.
"""

from __future__ import annotations

import hmac
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import orjson

from ingestion.demo_api.faults import Fault, FaultPlan
from ingestion.demo_api.hogql import HogQLError, compile_query
from ingestion.demo_api.render import table_rows
from ingestion.demo_api.store import DemoStore

LEGACY_MAX_LIMIT = 1000
LEGACY_DEFAULT_LIMIT = 100
LEGACY_MAX_OFFSET = 50_000
LIST_DEFAULT_LIMIT = 100
LIST_MAX_LIMIT = 1000


class _ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("detail"))
        self.status, self.body, self.headers = status, body, headers or {}


def _error(status: int, type_: str, code: str, detail: str) -> _ApiError:
    return _ApiError(status, {"type": type_, "code": code, "detail": detail, "attr": None})


class DemoPostHog:
    """Context manager running the demo API on `host:port` (port 0 picks a free one)."""

    def __init__(
        self,
        store: DemoStore,
        api_key: str = "phx_demo_key",
        project_ids: Iterable[int] = (1,),
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        timezone: str = "UTC",
    ) -> None:
        self.store = store
        self._api_key = api_key
        self.project_ids = tuple(int(p) for p in project_ids)
        self.host, self.port = host, port
        self.faults = faults
        ZoneInfo(timezone)  # fail early on an unknown zone
        self.timezone = timezone
        self.request_count: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self._last_rows: dict[str, list] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> DemoPostHog:
        handler = type("_BoundHandler", (_Handler,), {"app": self})
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo-posthog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> DemoPostHog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _count(self, kind: str) -> int:
        with self._count_lock:
            self.request_count[kind] += 1
            return self.request_count[kind]

    # --- auth ---------------------------------------------------------------------------------
    def check_auth(self, header: str | None, project: str) -> int:
        if not header or not header.lower().startswith("bearer ") or not header[7:].strip():
            raise _error(
                401,
                "authentication_error",
                "not_authenticated",
                "Authentication credentials were not provided.",
            )
        if not hmac.compare_digest(header[7:].strip().encode(), self._api_key.encode()):
            raise _error(
                401,
                "authentication_error",
                "authentication_failed",
                "Personal API key found in request Authorization header is invalid.",
            )
        try:
            project_id = int(project)
        except ValueError:
            raise _error(404, "invalid_request", "not_found", "Not found.") from None
        if project_id not in self.project_ids:
            raise _error(
                403, "authentication_error", "permission_denied", "You don't have access to the project."
            )
        return project_id

    # --- endpoints ------------------------------------------------------------------------------
    def fmt_dt(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        return value.astimezone(ZoneInfo(self.timezone)).isoformat()

    def query(self, project_id: int, body: Any, fault: Fault | None) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("query"), dict):
            raise _error(400, "validation_error", "parse_error", 'Request body must be {"query": {...}}.')
        query = body["query"]
        if query.get("kind") != "HogQLQuery":
            raise _error(
                400,
                "validation_error",
                "invalid_input",
                f"Unsupported query kind {query.get('kind')!r}; this server answers HogQLQuery.",
            )
        text = query.get("query")
        try:
            compiled = compile_query(text, project_id, self.timezone)
        except HogQLError as exc:
            raise _error(400, "validation_error", "query_error", str(exc)) from None
        try:
            rows = self._run_query(compiled)
        except Exception as exc:  # a query the translation got wrong: PostHog answers 400 too
            raise _error(400, "validation_error", "query_error", f"Query failed: {exc}") from None
        has_more = len(rows) > compiled.limit
        rows = rows[: compiled.limit]
        # Repeated rows come from the previous page of the same query shape, never from another table.
        shape = "query:" + ",".join(compiled.columns)
        if fault is not None:
            rows, forced_more = self._page_fault(fault, shape, rows, compiled.limit)
            has_more = has_more or forced_more
        self._last_rows[shape] = rows[-3:]
        return {
            "columns": compiled.columns,
            "types": compiled.types,
            "results": rows,
            "hasMore": has_more,
            "limit": compiled.limit,
            "offset": compiled.offset,
            "hogql": text,
            "timezone": self.timezone,
            "is_cached": False,
            "query_status": None,
        }

    def _run_query(self, compiled: Any) -> list[tuple[Any, ...]]:
        """Execute (two-phase when possible) and render rows; dt columns get the project's offset."""
        utc = self.timezone in ("UTC", "Etc/UTC")
        outer = []
        for n, kind in enumerate(compiled.kinds):
            outer.append(f"c{n}")
            if kind == "dt" and not utc:
                outer.append(
                    f"CAST((epoch_us(timezone($tz, c{n})) - epoch_us(c{n})) // 1000000 AS BIGINT) AS o{n}"
                )
        cur = self.store.cursor()
        sql, params = compiled.sql, list(compiled.params)
        if compiled.bound_sql is not None:
            bound = cur.execute(compiled.bound_sql, params).fetchall()[0][0]
            if bound is None:
                return []
            sql, params = compiled.bounded_sql, [*params, bound]
        wrapped = f"SELECT {', '.join(outer)} FROM ({sql}) q"
        if not utc:  # the zone name is bound, never pasted
            wrapped = wrapped.replace("$tz", "?")
            tz_count = wrapped.count("?") - len(params)
            params = [self.timezone] * tz_count + params
        table = cur.sql(wrapped, params=params).to_arrow_table()
        return table_rows(table, compiled.kinds, has_offsets=not utc)

    def _page_fault(self, fault: Fault, kind: str, rows: list, limit: int) -> tuple[list, bool]:
        """Apply data faults that reshape a page; returns rows and whether to claim more exist."""
        if fault.kind == "empty_page":
            return [], True
        if fault.kind == "short_page" and rows:
            return rows[: max(1, len(rows) // 2)], True
        if fault.kind == "repeat_rows":
            previous = self._last_rows.get(kind) or []
            return (list(previous) + list(rows))[: max(limit, len(previous))], False
        return rows, False

    def legacy_events(
        self, project_id: int, params: dict[str, str], path: str, fault: Fault | None
    ) -> dict[str, Any]:
        try:
            limit = min(int(params.get("limit", LEGACY_DEFAULT_LIMIT)), LEGACY_MAX_LIMIT)
            offset = int(params.get("offset", 0))
        except ValueError:
            raise _error(
                400, "validation_error", "invalid_input", "limit and offset must be integers"
            ) from None
        if offset > LEGACY_MAX_OFFSET:
            raise _error(
                400,
                "validation_error",
                "invalid_input",
                f"offset must be <= {LEGACY_MAX_OFFSET}; use after/before instead",
            )
        order_raw = params.get("orderBy", '["-timestamp"]')
        try:
            order = json.loads(order_raw)
        except ValueError:
            order = [order_raw]
        ascending = isinstance(order, list) and "timestamp" in order
        after = self._param_dt(params, "after")
        before = self._param_dt(params, "before")
        if after is None:
            after = (before or datetime.now(UTC)) - timedelta(hours=24)
        where = ["e.project_id = ?", 'e."timestamp" > ?']
        args: list[Any] = [project_id, after]
        if before is not None:
            where.append('e."timestamp" < ?')
            args.append(before)
        for key in ("event", "distinct_id"):
            if params.get(key):
                where.append(f"e.{key} = ?")
                args.append(params[key])
        direction = "ASC" if ascending else "DESC"
        sql = f"""
            SELECT e.uuid, e.distinct_id, e.properties, e.event, e."timestamp", e.elements_chain,
                   p.properties, p.is_identified
            FROM events e LEFT JOIN persons p ON p.project_id = e.project_id AND p.id = e.person_id
            WHERE {" AND ".join(where)}
            ORDER BY e."timestamp" {direction}, e.uuid {direction} LIMIT {limit} OFFSET {offset}"""
        rows = self.store.cursor().execute(sql, args).fetchall()
        more = len(rows) >= limit
        if fault is not None:
            rows, forced_more = self._page_fault(fault, "events", rows, limit)
            more = more or forced_more
        self._last_rows["events"] = rows[-3:]
        results = []
        for uuid_, did, props, event, ts, chain, pprops, identified in rows:
            person = None
            if pprops is not None:
                person = {
                    "is_identified": bool(identified),
                    "distinct_ids": [did],
                    "properties": orjson.Fragment(pprops),
                }
            results.append(
                {
                    "id": uuid_,
                    "distinct_id": did,
                    "properties": orjson.Fragment(props or "{}"),
                    "event": event,
                    "timestamp": self.fmt_dt(ts),
                    "person": person,
                    "elements": [],
                    "elements_chain": chain or "",
                }
            )
        next_url = None
        if more:  # an empty faulty page points at itself, so a client can ask again
            nxt = dict(params)
            if rows:
                nxt.pop("offset", None)
                nxt["after" if ascending else "before"] = self.fmt_dt(rows[-1][4])
            next_url = f"{self.url}{path}?{urlencode(nxt)}"
        return {"next": next_url, "results": results}

    def _param_dt(self, params: dict[str, str], name: str) -> datetime | None:
        raw = params.get(name)
        if not raw:
            return None
        text = raw.strip().replace(" ", "T", 1)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise _error(400, "validation_error", "invalid_input", f"{name} is not an ISO datetime") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(self.timezone))
        return value.astimezone(UTC)

    def _page_args(self, params: dict[str, str]) -> tuple[int, int]:
        try:
            limit = min(max(int(params.get("limit", LIST_DEFAULT_LIMIT)), 1), LIST_MAX_LIMIT)
            offset = max(int(params.get("offset", 0)), 0)
        except ValueError:
            raise _error(
                400, "validation_error", "invalid_input", "limit and offset must be integers"
            ) from None
        return limit, offset

    def _links(self, path: str, params: dict[str, str], limit: int, offset: int, more: bool) -> tuple:
        def link(new_offset: int) -> str:
            return f"{self.url}{path}?{urlencode({**params, 'limit': limit, 'offset': new_offset})}"

        return (link(offset + limit) if more else None), (
            link(max(offset - limit, 0)) if offset > 0 else None
        )

    def persons(self, project_id: int, params: dict[str, str], path: str) -> dict[str, Any]:
        limit, offset = self._page_args(params)
        where, args = "p.project_id = ?", [project_id]
        if params.get("distinct_id"):
            where += (
                " AND p.id IN (SELECT person_id FROM person_distinct_ids"
                " WHERE project_id = ? AND distinct_id = ?)"
            )
            args += [project_id, params["distinct_id"]]
        sql = f"""
            SELECT p.id, p.created_at, p.properties, p.is_identified,
                   (SELECT list(d.distinct_id ORDER BY d.distinct_id) FROM person_distinct_ids d
                    WHERE d.project_id = p.project_id AND d.person_id = p.id) AS distinct_ids
            FROM persons p WHERE {where} ORDER BY p.created_at DESC, p.id LIMIT {limit + 1} OFFSET {offset}"""
        rows = self.store.cursor().execute(sql, args).fetchall()
        more = len(rows) > limit
        results = []
        for pid, created, props, identified, dids in rows[:limit]:
            parsed = json.loads(props or "{}")
            results.append(
                {
                    "id": pid,
                    "uuid": pid,
                    "name": parsed.get("email") or (dids or [pid])[0],
                    "distinct_ids": dids or [],
                    "properties": parsed,
                    "created_at": self.fmt_dt(created),
                    "is_identified": bool(identified),
                    "last_seen_at": None,
                }
            )
        nxt, prev = self._links(path, params, limit, offset, more)
        return {"next": nxt, "previous": prev, "results": results}

    def cohorts(self, project_id: int, params: dict[str, str], path: str) -> dict[str, Any]:
        limit, offset = self._page_args(params)
        items = list(self.store.cohorts.get(project_id, []))
        page = items[offset : offset + limit]
        nxt, prev = self._links(path, params, limit, offset, offset + limit < len(items))
        return {"count": len(items), "next": nxt, "previous": prev, "results": page}


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the owning `DemoPostHog` (set as the class attribute `app`)."""

    app: DemoPostHog
    protocol_version = "HTTP/1.1"
    server_version = "DemoPostHog/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet; tests read counters
        return

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        segments = [s for s in parts.path.split("/") if s]
        app = self.app
        if (
            len(segments) != 4
            or segments[0] != "api"
            or segments[1] not in ("projects", "environments")
            or segments[3] not in ("query", "events", "persons", "cohorts")
        ):
            self._send_json(
                404, {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}
            )
            return
        kind = segments[3]
        expected = "POST" if kind == "query" else "GET"
        number = app._count(kind)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            if method != expected:
                raise _error(405, "invalid_request", "method_not_allowed", f'Method "{method}" not allowed.')
            project_id = app.check_auth(self.headers.get("Authorization"), segments[2])
            fault = app.faults.pick(kind, number) if app.faults is not None else None
            if fault is not None:
                self._before(fault, project_id)
            if kind == "query":
                try:
                    body = orjson.loads(raw_body or b"null")
                except orjson.JSONDecodeError:
                    raise _error(
                        400, "validation_error", "parse_error", "Request body is not valid JSON."
                    ) from None
                payload = app.query(project_id, body, fault)
            elif kind == "events":
                payload = app.legacy_events(project_id, params, parts.path, fault)
            elif kind == "persons":
                payload = app.persons(project_id, params, parts.path)
            else:
                payload = app.cohorts(project_id, params, parts.path)
        except _ApiError as exc:
            self._send_json(exc.status, exc.body, exc.headers)
            return
        data = orjson.dumps(payload)
        if fault is not None and fault.kind in ("reset", "truncated_json", "invalid_json"):
            self._send_broken(fault, data)
            return
        self._send_bytes(200, data)

    def _before(self, fault: Fault, project_id: int) -> None:
        """Faults that act before the answer is computed."""
        if fault.kind == "status":
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(
                    int(fault.retry_after) if fault.retry_after.is_integer() else fault.retry_after
                )
            if fault.status == 429:
                raise _ApiError(
                    429,
                    {
                        "type": "throttled_error",
                        "code": "throttled",
                        "detail": "Request was throttled.",
                        "attr": None,
                    },
                    headers,
                )
            raise _ApiError(
                fault.status,
                {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None},
                headers,
            )
        if fault.kind == "slow":
            time.sleep(fault.delay_seconds)
        if fault.kind == "backwards_events":
            self.app.store.add_backwards_events(project_id, fault.new_events, fault.backwards_seconds)

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, orjson.dumps(body), headers)

    def _send_broken(self, fault: Fault, data: bytes) -> None:
        if fault.kind == "truncated_json":
            self._send_bytes(200, data[: max(1, len(data) // 2)])
            return
        if fault.kind == "invalid_json":
            self._send_bytes(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
            return
        # reset: promise the full body, send half, then abort the TCP connection (RST)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass
