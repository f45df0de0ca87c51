"""The REST API's edges: one JSON rule for every body, a 405 that names every method, and state
that belongs to one app, not to the process. In process, through ``httpx.ASGITransport``."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from cairn.server import routes
from cairn.server.app import create_app
from cairn.server.jsonresponse import JsonRoute
from cairn.settings import ServerSettings

API = "/api/v1"
JSON = {"content-type": "application/json"}


def _app(folder: Path) -> FastAPI:
    folder.mkdir()
    return create_app(ServerSettings(store_uri=str(folder / "cairn.db"), blobs_uri=str(folder / "blobs")))


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    app = _app(tmp_path / "one")
    yield app
    app.state.tracking.close()


def _call(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(call())


def _code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# -- one JSON rule ---------------------------------------------------------------------------


NOT_STANDARD_JSON = [b'{"lr": NaN}', b'{"lr": Infinity}', b'{"lr": -Infinity}', b'{"lr": 1e400}', b'{"lr": -1e400}']


@pytest.mark.parametrize("value", NOT_STANDARD_JSON, ids=lambda b: b.decode())
def test_params_and_metrics_refuse_the_same_non_standard_json(app: FastAPI, value: bytes) -> None:
    run_id = _call(app, "POST", f"{API}/runs", json={"project": "p"}).json()["id"]
    params = _call(app, "POST", f"{API}/runs/{run_id}/params", content=b'{"params": ' + value + b"}", headers=JSON)
    assert (params.status_code, _code(params)) == (400, "invalid_request")
    number = value.split(b": ", 1)[1][:-1]
    batch = b'{"client_id": "c", "seq": 0, "metrics": [{"key": "loss", "steps": [0], "timestamps": [0], "values": ['
    metrics = _call(app, "POST", f"{API}/runs/{run_id}/metrics", content=batch + number + b"]}]}", headers=JSON)
    assert (metrics.status_code, _code(metrics)) == (400, "invalid_request")
    assert "not valid JSON" in params.json()["error"]["message"]
    assert "not valid JSON" in metrics.json()["error"]["message"]
    # Nothing was stored by either.
    run = _call(app, "GET", f"{API}/runs/{run_id}").json()
    assert (run["params"], run["metrics"]) == ({}, {})


def test_non_finite_values_travel_as_docs_api_md_says(app: FastAPI) -> None:
    run_id = _call(app, "POST", f"{API}/runs", json={"project": "p"}).json()["id"]
    params = {"params": {"lr": {"float": "NaN"}, "cap": {"float": "Infinity"}}}
    assert _call(app, "POST", f"{API}/runs/{run_id}/params", json=params).status_code == 204
    batch = {
        "client_id": "c",
        "seq": 0,
        "metrics": [{"key": "loss", "steps": [0, 1], "timestamps": [0, 0], "values": ["NaN", "-Infinity"]}],
    }
    assert _call(app, "POST", f"{API}/runs/{run_id}/metrics", json=batch).json() == {"points": 2, "duplicate": False}
    run = _call(app, "GET", f"{API}/runs/{run_id}").json()
    assert run["params"] == {"lr": {"float": "NaN"}, "cap": {"float": "Infinity"}}
    assert run["metrics"]["loss"]["last"] == "-Infinity"


def test_every_api_route_reads_json_by_the_one_rule() -> None:
    modules = [importlib.import_module(f"cairn.server.routes.{m.name}") for m in pkgutil.iter_modules(routes.__path__)]
    api_routes = [route for module in modules for route in module.router.routes]
    assert len(api_routes) > 40
    assert [r.path for r in api_routes if not isinstance(r, JsonRoute)] == []


# -- 405 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (f"{API}/runs/0123", {"GET", "PATCH", "DELETE"}),
        (f"{API}/projects", {"GET", "POST"}),
        # The event log is append-only: changes write it, no route does.
        (f"{API}/events", {"GET"}),
        (f"{API}/blobs/uploads/0123", {"GET", "PUT", "DELETE"}),
    ],
)
def test_a_405_names_every_method_of_the_path(app: FastAPI, path: str, allowed: set[str]) -> None:
    response = _call(app, "PUT" if "PUT" not in allowed else "POST", path)
    assert (response.status_code, _code(response)) == (405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == allowed


# -- state per app -----------------------------------------------------------------------------


def test_two_apps_do_not_share_upload_hashes(tmp_path: Path) -> None:
    first, second = _app(tmp_path / "first"), _app(tmp_path / "second")
    try:
        assert first.state.upload_hashes is not second.state.upload_hashes
        upload = _call(first, "POST", f"{API}/blobs/uploads", json={})
        upload_id = orjson.loads(upload.content)["upload_id"]
        data = b"bytes of one upload"
        part = _call(
            first,
            "PUT",
            f"{API}/blobs/uploads/{upload_id}",
            params={"offset": 0},
            content=data,
            headers={"content-type": "application/octet-stream"},
        )
        assert part.status_code == 200
        # The first app followed the part through; the second never heard of the upload.
        assert first.state.upload_hashes.digest_at(upload_id, len(data)) is not None
        assert second.state.upload_hashes.digest_at(upload_id, len(data)) is None
    finally:
        first.state.tracking.close()
        second.state.tracking.close()
