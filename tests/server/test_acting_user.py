"""Who a request acts as, until authentication exists: the user ``X-Cairn-User`` names
(percent-encoded UTF-8), else "anonymous"; a name no user could have is a 400 envelope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cairn.client.connect import connect
from cairn.client.http import HttpTracking

API = "/api/v1"


@pytest.fixture
def http(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _actor_of_new_run(http: httpx.Client, headers: dict[str, str]) -> str:
    created = http.post(f"{API}/runs", json={"project": "who"}, headers=headers)
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    [event] = http.get(f"{API}/events", params={"subject": f"runs/{run_id}"}).json()["events"]
    assert created.json()["user"] == event["actor"]
    return str(event["actor"])


def test_the_header_names_the_user_and_without_it_the_server_acts_as_anonymous(http: httpx.Client) -> None:
    assert _actor_of_new_run(http, {}) == "anonymous"
    assert _actor_of_new_run(http, {"x-cairn-user": "grace"}) == "grace"
    assert _actor_of_new_run(http, {"x-cairn-user": "Grace%20Hopper"}) == "Grace Hopper"
    assert _actor_of_new_run(http, {"x-cairn-user": "%E6%9D%8E%E9%9B%B7"}) == "李雷"


@pytest.mark.parametrize("name", ["%20", "", "%FF", "a%00b", "x" * 251, "tab%09in"])
def test_a_name_no_user_could_have_is_refused(http: httpx.Client, name: str) -> None:
    answer = http.post(f"{API}/runs", json={"project": "who"}, headers={"x-cairn-user": name})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_value"
    assert http.get(f"{API}/runs", params={"project": "who"}).json().get("runs", []) == []


def test_the_client_sends_the_configured_user(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    named = HttpTracking(server.url, user="Ada Lovelace")
    try:
        assert named.create_run("who").user == "Ada Lovelace"
    finally:
        named.close()
    monkeypatch.setenv("CAIRN_USER", "李雷")
    configured = connect(server.url)
    try:
        run = configured.create_model("who-model")
        assert configured.list_events(subject="models/who-model").items[0].actor == "李雷"
        assert run.name == "who-model"
    finally:
        configured.close()
