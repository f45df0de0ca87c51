"""Every MLflow route signs its caller in, as every Cairn route does; what each may then do is
the service's rules, the same for MLflow's client as for Cairn's (tests/server/test_route_walk.py
walks Cairn's own routes; this walks MLflow's)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.routing import iter_route_contexts
from tests.helpers import ThreadedServer

from cairn.server.mlflow.paths import is_mlflow_path


def mlflow_routes(app: Any) -> list[tuple[str, str]]:
    return [
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if is_mlflow_path(route.path)
        for method in sorted(route.methods or ())
    ]


def test_every_mlflow_route_asks_for_sign_in(mlflow_auth_server: ThreadedServer) -> None:
    routes = mlflow_routes(mlflow_auth_server.app)
    assert routes
    failures = []
    for method, path in routes:
        concrete = path.replace("{rest:path}", "x").replace("{artifact_path:path}", "x")
        answer = httpx.request(method, f"{mlflow_auth_server.url}{concrete}", json={})
        if answer.status_code != 401 or answer.json().get("error_code") != "UNAUTHENTICATED":
            failures.append(f"{method} {path}: {answer.status_code} {answer.text[:120]}")
    assert not failures, failures
