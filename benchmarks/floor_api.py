"""Floor (a): the least work any client can do to page every event out of the (demo) PostHog API.

A bare keyset loop over the query API on (timestamp, uuid), pages of up to 50,000 rows, each page's
JSON parsed and thrown away. Run as its own process (`python -m benchmarks.floor_api ...`) so it does
not share an interpreter lock with the demo server, just like the pipeline does not.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import httpx
import orjson

# The same columns the pipeline asks for, so both move the same bytes.
_COLUMNS = ("uuid, event, distinct_id, timestamp, created_at, properties, elements_chain, person_id, "
            "person.properties AS person_properties")
_NAMES = ["uuid", "event", "distinct_id", "timestamp", "created_at", "properties", "elements_chain",
          "person_id", "person_properties"]


def keyset_query(after_ts: str | None, after_uuid: str | None, limit: int) -> str:
    """HogQL for the page after the cursor, ascending on (timestamp, uuid)."""
    where = ""
    if after_ts is not None:
        where = (
            f" where timestamp > toDateTime('{after_ts}') or "
            f"(timestamp = toDateTime('{after_ts}') and uuid > '{after_uuid}')"
        )
    return f"select {_COLUMNS} from events{where} order by timestamp, uuid limit {limit}"


def page_all(url: str, project_id: int, api_key: str, page_size: int = 50_000) -> dict[str, Any]:
    """Page through every event; return counts and timing (seconds spent inside the loop)."""
    endpoint = f"{url.rstrip('/')}/api/projects/{project_id}/query/"
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    rows = pages = response_bytes = 0
    after_ts: str | None = None
    after_uuid: str | None = None
    started = time.perf_counter()
    with httpx.Client(timeout=300) as client:
        while True:
            body = {"query": {"kind": "HogQLQuery", "query": keyset_query(after_ts, after_uuid, page_size)}}
            response = client.post(endpoint, headers=headers, content=orjson.dumps(body))
            response.raise_for_status()
            payload = orjson.loads(response.content)
            pages += 1
            response_bytes += len(response.content)
            results = payload.get("results") or []
            rows += len(results)
            # PostHog says whether more rows exist (`hasMore`), so a full last page needs no extra request.
            more = payload.get("hasMore")
            if not results or (more is False) or (more is None and len(results) < page_size):
                break
            columns = payload.get("columns") or _NAMES
            last = results[-1]
            after_ts = str(last[columns.index("timestamp")])
            after_uuid = str(last[columns.index("uuid")])
    seconds = time.perf_counter() - started
    return {"rows": rows, "pages": pages, "response_bytes": response_bytes, "seconds": round(seconds, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--project-id", type=int, default=1)
    parser.add_argument("--api-key", default="phx_demo_key")
    parser.add_argument("--page-size", type=int, default=50_000)
    args = parser.parse_args(argv)
    result = page_all(args.url, args.project_id, args.api_key, args.page_size)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
