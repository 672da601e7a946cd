"""Read API: auth, unknown users, hostile ids, and a real HTTP round trip through uvicorn on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
import uvicorn
from fastapi.testclient import TestClient

from serving.api import create_app
from serving.export_writer import write_export

KEY = "test-serving-key-123"
AS_OF = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def _table() -> pa.Table:
    rows = []
    for i in range(3):
        rows.append(
            {
                "person_id": f"p-{i}",
                "project_id": 1,
                "distinct_ids": json.dumps([f"anon-{i}", f"user{i}@example.com"]),
                "recent_events": json.dumps(
                    [
                        {
                            "label": "Clicked 'Upgrade to Pro' button on billing page",
                            "event_type": "click",
                            "action_type": "click",
                            "event_name": "$autocapture",
                            "timestamp": (AS_OF - timedelta(minutes=i)).isoformat(),
                            "page": "/billing",
                            "session_id": f"s-{i}",
                            "sequence_number": 3,
                            "uuid": f"u-{i}",
                            "properties": {"email": "secret@example.com"},
                        }
                    ]
                ),
                "last_session_id": f"s-{i}",
                "last_session_summary": "Viewed pricing and billing pages, clicked 'Upgrade to Pro'.",
                "patterns": json.dumps(
                    [
                        {
                            "code": "billing_hesitation",
                            "severity": "MEDIUM",
                            "description": "Visited billing twice",
                        }
                    ]
                ),
                "cohorts": json.dumps([{"id": "rules:power_users", "name": "Power users"}]),
                "first_seen": AS_OF - timedelta(days=2),
                "last_seen": AS_OF - timedelta(minutes=i),
                "session_count": 2,
                "event_count": 10 + i,
                "device_type": "Desktop",
                "browser": "Chrome",
                "country": "DE",
                "context_as_of": AS_OF,
                "prompt_text": f"User p-{i}: viewed billing, clicked Upgrade to Pro.",
            }
        )
    return pa.Table.from_pylist(rows)


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    write_export(_table(), tmp_path / "export", redact_keys={"email"}, as_of=AS_OF)
    return tmp_path / "export"


@pytest.fixture
def client(export_dir: Path) -> TestClient:
    return TestClient(create_app(export_dir, api_key=KEY))


def test_health_needs_no_key_and_reports_export(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["row_count"] == 3 and body["as_of"] == "2026-11-23T18:00:00Z"


def test_health_without_export(tmp_path: Path) -> None:
    response = TestClient(create_app(tmp_path / "nothing", api_key=KEY)).get("/health")
    assert response.status_code == 503 and response.json()["status"] == "no_export"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": "wrong"},
        {"Authorization": KEY},
        {"Authorization": "Bearer "},
    ],
)
def test_missing_or_wrong_key_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/context/p-0", headers=headers)
    assert response.status_code == 401
    assert KEY not in response.text


def test_no_key_configured_refuses(export_dir: Path) -> None:
    response = TestClient(create_app(export_dir, api_key="")).get("/context/p-0", headers={"X-API-Key": "x"})
    assert response.status_code == 503


def test_context_by_person_and_distinct_id(client: TestClient) -> None:
    by_person = client.get("/context/p-1", headers={"Authorization": f"Bearer {KEY}"})
    assert by_person.status_code == 200
    body = by_person.json()
    assert body["person_id"] == "p-1" and body["as_of"] == "2026-11-23T18:00:00Z"
    assert body["recent_events"][0]["label"].startswith("Clicked 'Upgrade to Pro'")
    assert body["patterns"][0]["code"] == "billing_hesitation"
    assert body["cohorts"] == [{"id": "rules:power_users", "name": "Power users"}]
    assert body["last_session_summary"].startswith("Viewed pricing")
    assert body["profile"]["event_count"] == 11 and body["prompt_text"].startswith("User p-1")
    assert "secret@example.com" not in by_person.text
    by_distinct = client.get("/context/user1@example.com", headers={"X-API-Key": KEY})
    assert by_distinct.status_code == 200 and by_distinct.json()["person_id"] == "p-1"


def test_unknown_user_is_clear_404(client: TestClient) -> None:
    response = client.get("/context/nobody-here", headers={"X-API-Key": KEY})
    assert response.status_code == 404 and "nobody-here" in response.json()["detail"]


@pytest.mark.parametrize(
    "user_id",
    [
        "..",
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E",
        "a%00b",
        "x" * 5000,
        "p-0'; drop table analytics.user_context; --",
        "%0d%0aSet-Cookie:x",
        "..%5C..%5Cwindows",
    ],
)
def test_hostile_ids_get_4xx(client: TestClient, user_id: str) -> None:
    response = client.get(f"/context/{user_id}", headers={"X-API-Key": KEY})
    assert 400 <= response.status_code < 500, (user_id, response.status_code, response.text)
    assert "Traceback" not in response.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_http_round_trip(export_dir: Path) -> None:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(export_dir, api_key=KEY), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health").json()["row_count"] == 3
        ok = httpx.get(f"{base}/context/anon-2", headers={"Authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200 and ok.json()["person_id"] == "p-2"
        assert httpx.get(f"{base}/context/anon-2").status_code == 401
        assert httpx.get(f"{base}/context/missing", headers={"X-API-Key": KEY}).status_code == 404
        # a new export is picked up without a restart
        newer = AS_OF + timedelta(hours=1)
        write_export(_table(), export_dir, redact_keys=set(), as_of=newer)
        deadline = time.monotonic() + 10
        while httpx.get(f"{base}/health").json()["as_of"] != "2026-11-23T19:00:00Z":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        server.should_exit = True
        thread.join(10)
