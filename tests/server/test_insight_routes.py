"""The insight endpoints on the wire: duplicates, similar, nearest and diff under /api/v1/runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cairn.core.fingerprint import fingerprint

API = "/api/v1"


@pytest.fixture
def http(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _run(http: httpx.Client, config: dict[str, Any], start_time: int, *, finish: bool = True) -> dict[str, Any]:
    created = http.post(f"{API}/runs", json={"project": "p", "config": config, "start_time": start_time})
    assert created.status_code == 201, created.text
    if finish:
        http.patch(f"{API}/runs/{created.json()['id']}", json={"status": "finished"})
    run: dict[str, Any] = http.get(f"{API}/runs/{created.json()['id']}").json()
    return run


def test_duplicates_is_a_route_not_a_run_id(http: httpx.Client) -> None:
    first = _run(http, {"lr": 0.1}, 1_000)
    assert first["fingerprint"] == fingerprint({"lr": 0.1})
    answer = http.get(f"{API}/runs/duplicates", params={"project": "p", "fingerprint": first["fingerprint"]})
    assert answer.status_code == 200
    assert [r["id"] for r in answer.json()["runs"]] == [first["id"]]
    bad = http.get(f"{API}/runs/duplicates", params={"project": "p", "fingerprint": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_value"
    assert http.get(f"{API}/runs/duplicates", params={"project": "p"}).status_code == 400


def test_similar_nearest_and_diff(http: httpx.Client) -> None:
    first = _run(http, {"lr": 0.1, "depth": 2}, 1_000)
    second = _run(http, {"lr": 0.2, "depth": 2}, 2_000)
    similar = http.get(f"{API}/runs/{second['id']}/similar", params={"limit": 3}).json()
    assert [(s["run"]["id"], s["distance"]) for s in similar["runs"]] == [(first["id"], 1)]

    nearest = http.get(f"{API}/runs/{second['id']}/nearest").json()
    assert nearest["run"]["id"] == first["id"] and nearest["distance"] == 1
    assert http.get(f"{API}/runs/{first['id']}/nearest").json() == {"run": None, "distance": None}
    assert http.get(f"{API}/runs/{'0' * 32}/nearest").json()["error"]["code"] == "run_not_found"

    diff = http.get(f"{API}/runs/{second['id']}/diff").json()
    assert diff["baseline"]["id"] == first["id"]
    assert diff["params"]["changed"] == {"lr": {"before": 0.1, "after": 0.2}}
    back = http.get(f"{API}/runs/{first['id']}/diff", params={"against": second["id"]}).json()
    assert back["params"]["changed"] == {"lr": {"before": 0.2, "after": 0.1}}
    none = http.get(f"{API}/runs/{first['id']}/diff")
    assert none.status_code == 404 and none.json()["error"]["code"] == "not_found"


def test_the_endpoints_are_documented(http: httpx.Client) -> None:
    paths = http.get(f"{API}/openapi.json").json()["paths"]
    for path in ("/runs/duplicates", "/runs/{run_id}/similar", "/runs/{run_id}/nearest", "/runs/{run_id}/diff"):
        assert f"{API}{path}" in paths, path
