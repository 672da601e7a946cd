"""Bearer auth and project checks answer like PostHog and never echo the key."""

from __future__ import annotations

import requests

from ingestion.demo_api.server import DemoPostHog
from tests.demo_api.conftest import API_KEY

QUERY = {"query": {"kind": "HogQLQuery", "query": "select count() from events"}}


def test_missing_and_wrong_keys_are_401(server: DemoPostHog) -> None:
    url = f"{server.url}/api/projects/1/query/"
    missing = requests.post(url, json=QUERY, timeout=10)
    assert missing.status_code == 401 and missing.json()["code"] == "not_authenticated"
    wrong_key = "phx_wrong_key_abcdef"
    wrong = requests.post(url, json=QUERY, headers={"Authorization": f"Bearer {wrong_key}"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["code"] == "authentication_failed"
    assert wrong_key not in wrong.text and API_KEY not in wrong.text
    for path in ("events/", "persons/", "cohorts/"):
        r = requests.get(
            f"{server.url}/api/projects/1/{path}", headers={"Authorization": "Basic abc"}, timeout=10
        )
        assert r.status_code == 401


def test_unknown_project(server: DemoPostHog, http: requests.Session) -> None:
    forbidden = http.post(f"{server.url}/api/projects/999/query/", json=QUERY, timeout=10)
    assert forbidden.status_code == 403 and forbidden.json()["type"] == "authentication_error"
    assert http.get(f"{server.url}/api/projects/abc/persons/", timeout=10).status_code == 404
    assert http.get(f"{server.url}/api/nothing/", timeout=10).status_code == 404
    ok = http.post(f"{server.url}/api/projects/1/query/", json=QUERY, timeout=10)
    assert ok.status_code == 200 and API_KEY not in ok.text


def test_wrong_method_and_counts(server: DemoPostHog, http: requests.Session) -> None:
    before = server.request_count["query"]
    assert http.get(f"{server.url}/api/projects/1/query/", timeout=10).status_code == 405
    http.get(f"{server.url}/api/projects/1/persons/", timeout=10)
    http.get(f"{server.url}/api/projects/1/cohorts/", timeout=10)
    assert server.request_count["query"] == before + 1
    assert server.request_count["persons"] >= 1 and server.request_count["cohorts"] >= 1
