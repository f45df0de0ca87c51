"""Hostile input at the logged-model and registry routes: every field of every route gets
values of the wrong type, huge integers, NUL bytes, HTML and unknown names, and each answer is
MLflow's error envelope with a 4xx status — never a 500, never a half-made model."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from tests.helpers import ThreadedServer

from cairn.client.http import HttpTracking

API = "/api/2.0/mlflow"

#: Each route, its method, and the fields it reads.
ROUTES: list[tuple[str, str, tuple[str, ...]]] = [
    ("POST", "/logged-models", ("experiment_id", "name", "source_run_id", "model_type", "tags", "params")),
    ("POST", "/logged-models/search", ("experiment_ids", "filter", "max_results", "order_by", "page_token")),
    ("GET", "/logged-models/{model_id}", ("allow_deleted",)),
    ("PATCH", "/logged-models/{model_id}", ("status", "status_message")),
    ("PATCH", "/logged-models/{model_id}/tags", ("tags",)),
    ("POST", "/logged-models/{model_id}/params", ("params",)),
    ("POST", "/runs/outputs", ("run_id", "models")),
    ("POST", "/registered-models/create", ("name", "description", "tags")),
    ("GET", "/registered-models/get", ("name",)),
    ("PATCH", "/registered-models/update", ("name", "description")),
    ("POST", "/registered-models/rename", ("name", "new_name")),
    ("GET", "/registered-models/search", ("filter", "max_results", "order_by", "page_token")),
    ("POST", "/registered-models/get-latest-versions", ("name", "stages")),
    ("POST", "/registered-models/set-tag", ("name", "key", "value")),
    ("POST", "/registered-models/alias", ("name", "alias", "version")),
    ("GET", "/registered-models/alias", ("name", "alias")),
    ("POST", "/model-versions/create", ("name", "source", "run_id", "model_id", "tags", "description")),
    ("GET", "/model-versions/get", ("name", "version")),
    ("PATCH", "/model-versions/update", ("name", "version", "description")),
    ("POST", "/model-versions/transition-stage", ("name", "version", "stage", "archive_existing_versions")),
    ("GET", "/model-versions/search", ("filter", "max_results", "order_by", "page_token")),
    ("GET", "/model-versions/get-download-uri", ("name", "version")),
    ("POST", "/model-versions/set-tag", ("name", "version", "key", "value")),
    ("DELETE", "/model-versions/delete", ("name", "version")),
]

HOSTILE: list[Any] = [
    2**70,
    -1,
    "a\x00b",
    "<script>alert(1)</script>",
    "x" * 20_000,
    {"nested": {"deep": [1, 2]}},
    [1, "two", None],
    True,
    1.5,
    "name = 'x' OR (",
    "m-" + "f" * 32,
    "models:/../../etc/passwd",
]


def _send(server: ThreadedServer, method: str, path: str, message: dict[str, Any]) -> httpx.Response:
    url = f"{server.url}{API}{path}"
    if method == "GET":
        return httpx.get(url, params={k: str(v) for k, v in message.items()}, timeout=30)
    return httpx.request(method, url, json=message, timeout=30)


def test_hostile_fields_get_mlflow_s_envelope_and_never_a_500(
    mlflow_server: ThreadedServer, cairn_api: HttpTracking
) -> None:
    project = cairn_api.create_project("hostile")
    failures = []
    for (method, template, fields), value in itertools.product(ROUTES, HOSTILE):
        path = template.replace("{model_id}", "m-" + "0" * 32)
        base: dict[str, Any] = {"experiment_id": project.id, "name": "fraud", "version": "1", "experiment_ids": []}
        for field in fields:
            message = {**base, field: value}
            answer = _send(mlflow_server, method, path, message)
            ok = 400 <= answer.status_code < 500 or answer.status_code == 200
            envelope = answer.status_code == 200 or "error_code" in answer.json()
            if not ok or not envelope:
                failures.append(
                    f"{method} {path} {field}={str(value)[:40]!r}: {answer.status_code} {answer.text[:150]}"
                )
    assert not failures, "\n".join(failures[:20])
    # Nothing half-made: whatever the hostile requests did, the registry holds only what a good
    # request could have made, each with a name a model may have.
    for model in cairn_api.list_models().items:
        assert "\x00" not in model.name


def test_malformed_bodies_and_unknown_things(mlflow_server: ThreadedServer) -> None:
    url = f"{mlflow_server.url}{API}"
    not_json = httpx.post(f"{url}/registered-models/create", content=b"{not json", timeout=30)
    assert (not_json.status_code, not_json.json()["error_code"]) == (400, "BAD_REQUEST")
    missing = httpx.get(f"{url}/registered-models/get", params={"name": "nothing"}, timeout=30)
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    no_version = httpx.get(f"{url}/model-versions/get", params={"name": "nothing", "version": "x"}, timeout=30)
    assert (no_version.status_code, no_version.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    bad_filter = httpx.get(f"{url}/model-versions/search", params={"filter": "name = 'a' OR name = 'b'"}, timeout=30)
    assert bad_filter.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "position" in bad_filter.json()["message"] or "OR" in bad_filter.json()["message"]
    not_an_id = httpx.get(f"{url}/logged-models/not-an-id", timeout=30)
    assert (not_an_id.status_code, not_an_id.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    bad_token = httpx.post(
        f"{url}/logged-models/search", json={"experiment_ids": ["0"], "page_token": "@@@"}, timeout=30
    )
    assert bad_token.json()["error_code"] == "INVALID_PARAMETER_VALUE"
