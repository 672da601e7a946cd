"""HTTP access to PostHog: bearer auth, retries with backoff, Retry-After, clear errors, request counts.

Only this module talks HTTP. It never puts the API key into a message: every error text goes through
`scrub` before it is raised.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import orjson
import requests

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
FATAL_AUTH_STATUSES = frozenset({401, 403, 404})
MAX_RETRY_AFTER_SECONDS = 600.0


class PostHogError(RuntimeError):
    """A PostHog request failed for good; the message names host and project, never the key."""


class PostHogAuthError(PostHogError):
    """The key or the project id was refused (401/403/404): retrying cannot help."""


class PostHogClient:
    """A small synchronous PostHog client shared by all resources of one run."""

    def __init__(
        self,
        host: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        max_retries: int = 6,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.host = host.rstrip("/")
        self._key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.requests: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": "posthog-context-dlt/0.1",
            }
        )

    # -- helpers -----------------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """Remove the key from any text that might end up in a log or exception."""
        if self._key:
            text = text.replace(self._key, "***")
        return text

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> PostHogClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def project_url(self, project_id: int, path: str) -> str:
        return f"{self.host}/api/projects/{project_id}/{path.lstrip('/')}"

    def _sleep_for(self, attempt: int, response: requests.Response | None) -> float:
        if response is not None and response.status_code == 429:
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                return retry_after
        delay = min(self.backoff * (2**attempt), self.max_backoff)
        return delay * (0.75 + random.random() * 0.5)

    # -- requests ----------------------------------------------------------------------------------
    def request_json(
        self,
        method: str,
        url: str,
        *,
        project_id: int,
        kind: str,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Send one logical request, retrying transient failures, and return the decoded JSON body."""
        where = f"PostHog at {self.host}, project {project_id}"
        last_problem = "no attempt made"
        for attempt in range(self.max_retries + 1):
            response: requests.Response | None = None
            self.requests[kind] += 1
            try:
                response = self._session.request(
                    method,
                    url,
                    data=orjson.dumps(json_body) if json_body is not None else None,
                    headers={"Content-Type": "application/json"} if json_body is not None else None,
                    params=params,
                    timeout=self.timeout,
                )
                status = response.status_code
                if status in FATAL_AUTH_STATUSES:
                    raise PostHogAuthError(
                        self.scrub(
                            f"{where} refused the request to {_path_of(url)} with HTTP {status}"
                            f" ({_reason(status)}). Check POSTHOG_HOST, POSTHOG_PROJECT_ID and"
                            f" POSTHOG_PERSONAL_API_KEY (the key needs read access to this project)."
                        )
                    )
                if status in RETRY_STATUSES:
                    last_problem = f"HTTP {status}"
                    if status == 429:
                        wait = _parse_retry_after(response.headers.get("Retry-After"))
                        if wait is not None and wait > MAX_RETRY_AFTER_SECONDS:
                            raise PostHogError(
                                f"{where} is rate limiting us for {wait:.0f}s (Retry-After); try again later"
                            )
                elif status >= 400:
                    raise PostHogError(
                        self.scrub(
                            f"{where} answered HTTP {status} to {method} {_path_of(url)}: "
                            f"{response.text[:500]}"
                        )
                    )
                else:
                    try:
                        return orjson.loads(response.content)
                    except orjson.JSONDecodeError as exc:
                        last_problem = f"invalid or truncated JSON body ({exc})"
            except (requests.Timeout, requests.ConnectionError) as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            except requests.exceptions.ChunkedEncodingError as exc:
                last_problem = f"connection broken mid-body: {exc}"
            if attempt >= self.max_retries:
                break
            self.retries[kind] += 1
            time.sleep(self._sleep_for(attempt, response))
        raise PostHogError(
            self.scrub(
                f"{where}: {method} {_path_of(url)} failed after {self.max_retries + 1} attempts;"
                f" last problem: {last_problem}"
            )
        )

    def query(self, project_id: int, hogql: str, kind: str = "query") -> dict[str, Any]:
        """Run one HogQL query through the query API (`kind` only labels the request counter)."""
        body = {"query": {"kind": "HogQLQuery", "query": hogql}}
        result = self.request_json(
            "POST",
            self.project_url(project_id, "query/"),
            project_id=project_id,
            kind=kind,
            json_body=body,
        )
        if not isinstance(result, dict) or not isinstance(result.get("results"), list):
            raise PostHogError(
                f"PostHog at {self.host}, project {project_id}: query answer has no 'results' list"
            )
        return result

    def follow_pages(
        self, project_id: int, path: str, params: dict[str, Any], kind: str
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield `results` lists of a `{results, next}` endpoint, following `next` until it runs out."""
        url: str | None = self.project_url(project_id, path)
        first = True
        seen: set[str] = set()
        while url:
            page = self.request_json(
                "GET", url, project_id=project_id, kind=kind, params=params if first else None
            )
            first = False
            results = page.get("results") if isinstance(page, dict) else None
            if not isinstance(results, list):
                raise PostHogError(
                    f"PostHog at {self.host}, project {project_id}: {path} page has no 'results' list"
                )
            if not results:
                return
            yield results
            nxt = page.get("next")
            if not nxt:
                return
            url = urljoin(url, nxt)
            if url in seen:
                raise PostHogError(
                    f"PostHog at {self.host}, project {project_id}: {path} pagination loops"
                    f" on {_path_of(url)}"
                )
            seen.add(url)


def _path_of(url: str) -> str:
    """The path (and query) of a URL, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _reason(status: int) -> str:
    return {
        401: "the personal API key is missing, wrong or expired",
        403: "the key has no access to this project or lacks the read scopes",
        404: "no such project on this host",
    }.get(status, "refused")


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
