"""MLflow's REST API, translated onto Cairn's own entities (docs/mlflow.md).

An unmodified MLflow client (``MLFLOW_TRACKING_URI=http://cairn-host:5055``) speaks to these
routes; nothing here stores anything of its own. Experiments are projects, runs are runs,
registered models and versions are the registry's, and artifacts go to the blob store, so what
an MLflow client logs is seen by Cairn's dashboard, SDK and query language, and the other way
round. Each resource is one module with its own ``router``; :func:`install` mounts them under
MLflow's prefixes and answers every other path there with MLflow's ``ENDPOINT_NOT_FOUND``.

These routes are left out of Cairn's OpenAPI document: MLflow's own documentation is their
contract, and ``tests/mlflow_compat/`` holds Cairn to what the real client sends (not
``tests/mlflow/``: on the test path that folder would shadow the ``mlflow`` package itself).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import Response

from cairn.server.deps import principal
from cairn.server.mlflow import artifacts
from cairn.server.mlflow.errors import (
    ENDPOINT_NOT_FOUND,
    MlflowApiError,
    mlflow_envelope_response,
    mlflow_error_response,
)
from cairn.server.mlflow.paths import API_PREFIXES, ARTIFACTS_PREFIX

#: The routers of the MLflow API, each mounted under every prefix of ``API_PREFIXES``.
ROUTERS: list[APIRouter] = []
#: The proxied-artifact routers, under ``ARTIFACTS_PREFIX``.
ARTIFACT_ROUTERS: list[APIRouter] = []
ARTIFACT_ROUTERS.append(artifacts.router)

# After the lists: these modules import the package's siblings, never this module's names.
from cairn.server.mlflow import (  # noqa: E402
    experiments,
    inputs,
    logged_models,
    registry,
    runs,
    search,
    server_info,
)

ROUTERS += [search.router, experiments.router, runs.router, inputs.router]
ROUTERS += [logged_models.router, registry.router, server_info.router]


def install(app: FastAPI) -> None:
    for prefix in API_PREFIXES:
        for router in ROUTERS:
            app.include_router(router, prefix=prefix, include_in_schema=False)
    for router in ARTIFACT_ROUTERS:
        app.include_router(router, prefix=ARTIFACTS_PREFIX, include_in_schema=False)

    @app.exception_handler(MlflowApiError)
    async def _mlflow_error(_request: Request, exc: MlflowApiError) -> Response:
        return mlflow_error_response(exc)

    # Last, so that only paths no route above took reach it.
    async def unknown(request: Request, rest: str) -> Response:
        return mlflow_envelope_response(ENDPOINT_NOT_FOUND, f"no MLflow endpoint {request.method} {request.url.path}")

    for prefix in (*API_PREFIXES, ARTIFACTS_PREFIX):
        app.add_api_route(
            f"{prefix}/{{rest:path}}",
            unknown,
            methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            # Signed in first, as on every route: an anonymous probe learns nothing of the API.
            dependencies=[Depends(principal)],
            include_in_schema=False,
        )
