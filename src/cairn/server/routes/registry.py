"""The model registry: /api/v1/models, their versions, aliases, stages and tags, a search of
every model's versions (/api/v1/model-versions), and the versions registered from a run
(/api/v1/runs/{id}/model-versions) or trained on a dataset version
(/api/v1/dataset-versions/{id}/model-versions). See docs/registry.md.

Model names hold no ``/``, so a name is one path segment; tag keys may hold slashes, so a tag
to delete is the rest of the path, as for runs. A search by tags is a POST with a body, since
tags (any text) make no tidy query string.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from cairn.core import limits
from cairn.core.artifacts import Artifact
from cairn.core.entities import Page
from cairn.core.gcpause import collector_paused
from cairn.core.models.uri import MAX_ALIAS_LENGTH
from cairn.core.registry import ModelVersion
from cairn.core.registry_wire import (
    VERSION_COLUMNS_MEDIA_TYPE,
    alias_move_to_wire,
    model_to_wire,
    version_to_wire,
    versions_to_columns,
    versions_to_wire,
)
from cairn.server.archive import ARCHIVE_ANSWER, archive_response
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import (
    ALIAS_RULE,
    KEY_RULE,
    QUERY_RULE,
    AliasHistoryOut,
    AliasIn,
    AliasMoveOut,
    AliasName,
    DescriptionIn,
    ModelCreate,
    ModelList,
    ModelName,
    ModelOut,
    ModelSearch,
    RunId,
    StageIn,
    TagIn,
    VersionColumnsOut,
    VersionCreate,
    VersionItems,
    VersionList,
    VersionNumber,
    VersionOut,
)
from cairn.service.registry import (
    MAX_MODEL_PAGE_TOKEN_LENGTH,
    MAX_SEARCH_PAGE_TOKEN_LENGTH,
    MAX_VERSION_PAGE_TOKEN_LENGTH,
    MODEL_PAGE_TOKEN_PATTERN,
    SEARCH_PAGE_TOKEN_PATTERN,
    VERSION_PAGE_TOKEN_PATTERN,
)
from cairn.service.tracking import TrackingService

router = APIRouter(tags=["registry"], route_class=JsonRoute)

_VERSION_HEADERS = {
    "x-cairn-model-version": "the version's number",
    "x-cairn-run-id": "its source run (percent-encoded)",
    "x-cairn-source-path": "the folder's path in that run (percent-encoded)",
    "x-cairn-tree-digest": "the tree digest the version recorded, to check the folder against",
}
VERSION_ARCHIVE_ANSWER = {
    **ARCHIVE_ANSWER,
    "headers": {name: {"description": text, "schema": {"type": "string"}} for name, text in _VERSION_HEADERS.items()},
}

PageSize = Annotated[int, Query(ge=1, le=limits.MAX_PAGE_SIZE)]
# The service refuses a token of another shape (invalid_page_token, as embedded); the schema
# states the shape, so the document does not invite a 32 KiB query string.
ModelPageToken = Annotated[
    str | None,
    Query(json_schema_extra={"pattern": MODEL_PAGE_TOKEN_PATTERN, "maxLength": MAX_MODEL_PAGE_TOKEN_LENGTH}),
]
VersionPageToken = Annotated[
    str | None,
    Query(json_schema_extra={"pattern": VERSION_PAGE_TOKEN_PATTERN, "maxLength": MAX_VERSION_PAGE_TOKEN_LENGTH}),
]
SearchPageToken = Annotated[
    str | None,
    Query(json_schema_extra={"pattern": SEARCH_PAGE_TOKEN_PATTERN, "maxLength": MAX_SEARCH_PAGE_TOKEN_LENGTH}),
]
ModelsWhere = Annotated[
    str,
    Query(
        description="a query of models' fields (name, tags.KEY, alias…), see docs/query.md",
        json_schema_extra=QUERY_RULE,
    ),
]
VersionsWhere = Annotated[
    str,
    Query(
        description="a query of versions' fields (name, stage, alias, run.params.KEY…), see docs/query.md",
        json_schema_extra=QUERY_RULE,
    ),
]
TagKey = Annotated[str, Path(min_length=1, max_length=limits.MAX_KEY_LENGTH, json_schema_extra=KEY_RULE)]


# -- registered models ------------------------------------------------------------------------


@router.get(
    "/models", responses=error_responses(400, 503), response_model=ModelList, summary="Registered models, by name"
)
def list_models(
    service: TrackingDep,
    where: ModelsWhere = "",
    name_like: Annotated[
        str | None,
        Query(
            max_length=limits.MAX_NAME_LENGTH,
            description="LIKE pattern: % any text, _ one character",
            json_schema_extra={"pattern": limits.TEXT_PATTERN},
        ),
    ] = None,
    limit: PageSize = 100,
    page_token: ModelPageToken = None,
) -> JsonResponse:
    return _models_page(service, ModelSearch(where=where, name_like=name_like, limit=limit, page_token=page_token))


@router.post(
    "/models/search",
    responses=error_responses(400, 413, 503),
    response_model=ModelList,
    summary="Registered models by name, filtered by a query, a name pattern and tags",
)
def search_models(body: ModelSearch, service: TrackingDep) -> JsonResponse:
    return _models_page(service, body)


def _models_page(service: TrackingService, search: ModelSearch) -> JsonResponse:
    page = service.list_models(
        where=search.where,
        name_like=search.name_like,
        tags=search.tags,
        limit=search.limit,
        page_token=search.page_token,
    )
    return JsonResponse({"models": [model_to_wire(m) for m in page.items], "next_page_token": page.next_page_token})


@router.post(
    "/models",
    responses=error_responses(400, 409, 413, 503),
    response_model=ModelOut,
    status_code=201,
    summary="Register a model name (versions come from runs)",
)
def create_model(body: ModelCreate, service: TrackingDep) -> JsonResponse:
    model = service.create_model(body.name, body.description, body.tags)
    return JsonResponse(model_to_wire(model), status_code=201)


@router.get(
    "/models/{name}", responses=error_responses(400, 404, 503), response_model=ModelOut, summary="A registered model"
)
def get_model(name: ModelName, service: TrackingDep) -> JsonResponse:
    return JsonResponse(model_to_wire(service.get_model(name)))


@router.patch(
    "/models/{name}",
    responses=error_responses(400, 404, 413, 503),
    response_model=ModelOut,
    summary="Replace a model's description",
)
def update_model(name: ModelName, body: DescriptionIn, service: TrackingDep) -> JsonResponse:
    return JsonResponse(model_to_wire(service.update_model(name, body.description)))


@router.delete(
    "/models/{name}",
    responses=error_responses(400, 404, 503),
    status_code=204,
    summary="Delete a model with its versions, aliases and tags",
)
def delete_model(name: ModelName, service: TrackingDep) -> Response:
    service.delete_model(name)
    return Response(status_code=204)


@router.post(
    "/models/{name}/tags",
    responses=error_responses(400, 404, 413, 503),
    status_code=204,
    summary="Set a model's tag",
)
def set_model_tag(name: ModelName, body: TagIn, service: TrackingDep) -> Response:
    service.set_model_tag(name, body.key, body.value)
    return Response(status_code=204)


@router.delete(
    "/models/{name}/tags/{key:path}",
    responses=error_responses(400, 404, 503),
    status_code=204,
    summary="Delete a model's tag",
)
def delete_model_tag(name: ModelName, key: TagKey, service: TrackingDep) -> Response:
    service.delete_model_tag(name, key)
    return Response(status_code=204)


# -- versions ---------------------------------------------------------------------------------


@router.post(
    "/models/{name}/versions",
    responses=error_responses(400, 404, 409, 413, 503),
    response_model=VersionOut,
    status_code=201,
    summary="Register a logged model (runs:/RUN_ID/PATH) as the model's next version",
)
def register_model(name: ModelName, body: VersionCreate, service: TrackingDep) -> JsonResponse:
    version = service.register_model(body.source, name, description=body.description, tags=body.tags)
    return JsonResponse(version_to_wire(version), status_code=201)


def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema, its parts referring to the document's own components (the
    versions' routes already put LineageOut there)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


#: A page of versions is JSON, or in columns for a client that asks so with ``Accept`` (the SDK).
_IN_COLUMNS: dict[int | str, dict[str, Any]] = {
    200: {"content": {VERSION_COLUMNS_MEDIA_TYPE: {"schema": _schema_of(VersionColumnsOut)}}}
}


@router.get(
    "/models/{name}/versions",
    responses={**_IN_COLUMNS, **error_responses(400, 404, 503)},
    response_model=VersionList,
    summary="A model's versions, newest first, filtered by a query",
)
def list_versions(
    request: Request,
    name: ModelName,
    service: TrackingDep,
    where: VersionsWhere = "",
    limit: PageSize = 100,
    page_token: VersionPageToken = None,
) -> Response:
    page = service.list_model_versions(name, where=where, limit=limit, page_token=page_token)
    return _versions_page(request, page)


@router.get(
    "/model-versions",
    responses={**_IN_COLUMNS, **error_responses(400, 503)},
    response_model=VersionList,
    summary="Versions of every model matching a query, by model name, then newest first",
)
def search_versions(
    request: Request,
    service: TrackingDep,
    where: VersionsWhere = "",
    limit: PageSize = 100,
    page_token: SearchPageToken = None,
) -> Response:
    return _versions_page(request, service.search_model_versions(where=where, limit=limit, page_token=page_token))


def _versions_page(request: Request, page: Page[ModelVersion]) -> Response:
    """A page of up to 10,000 versions: in columns if the client asks so, else as JSON with
    each shared signature and lineage written once (see cairn.core.registry_wire)."""
    with collector_paused():
        if VERSION_COLUMNS_MEDIA_TYPE in request.headers.get("accept", ""):
            body = orjson.dumps({**versions_to_columns(page.items), "next_page_token": page.next_page_token})
            return Response(body, media_type=VERSION_COLUMNS_MEDIA_TYPE)
        body = orjson.dumps({"versions": versions_to_wire(page.items), "next_page_token": page.next_page_token})
    return Response(body, media_type="application/json")


@router.get(
    "/models/{name}/versions/{version}",
    responses=error_responses(400, 404, 503),
    response_model=VersionOut,
    summary="A model version",
)
def get_version(name: ModelName, version: VersionNumber, service: TrackingDep) -> JsonResponse:
    return JsonResponse(version_to_wire(service.get_model_version(name, version)))


@router.get(
    "/models/{name}/versions/{version}/archive",
    summary="A version's model folder in one response, as a tar (how a client loads it)",
    response_class=Response,
    responses={200: VERSION_ARCHIVE_ANSWER, **error_responses(400, 404, 503)},
)
def version_archive(name: ModelName, version: VersionNumber, service: TrackingDep) -> Response:
    return _version_archive(*service.open_model_version_folder(name, version))


@router.patch(
    "/models/{name}/versions/{version}",
    responses=error_responses(400, 404, 413, 503),
    response_model=VersionOut,
    summary="Replace a version's description",
)
def update_version(name: ModelName, version: VersionNumber, body: DescriptionIn, service: TrackingDep) -> JsonResponse:
    return JsonResponse(version_to_wire(service.update_model_version(name, version, body.description)))


@router.post(
    "/models/{name}/versions/{version}/stage",
    responses=error_responses(400, 404, 503),
    response_model=VersionOut,
    summary="Move a version to a stage (None, Staging, Production, Archived)",
)
def transition_stage(name: ModelName, version: VersionNumber, body: StageIn, service: TrackingDep) -> JsonResponse:
    moved = service.transition_stage(name, version, body.stage, archive_existing=body.archive_existing)
    return JsonResponse(version_to_wire(moved))


@router.post(
    "/models/{name}/versions/{version}/tags",
    responses=error_responses(400, 404, 413, 503),
    status_code=204,
    summary="Set a version's tag",
)
def set_version_tag(name: ModelName, version: VersionNumber, body: TagIn, service: TrackingDep) -> Response:
    service.set_model_version_tag(name, version, body.key, body.value)
    return Response(status_code=204)


@router.delete(
    "/models/{name}/versions/{version}/tags/{key:path}",
    responses=error_responses(400, 404, 503),
    status_code=204,
    summary="Delete a version's tag",
)
def delete_version_tag(name: ModelName, version: VersionNumber, key: TagKey, service: TrackingDep) -> Response:
    service.delete_model_version_tag(name, version, key)
    return Response(status_code=204)


# -- aliases ----------------------------------------------------------------------------------


@router.put(
    "/models/{name}/aliases/{alias}",
    responses=error_responses(400, 404, 503),
    response_model=AliasMoveOut,
    summary="Point an alias at a version (set or move it)",
)
def set_alias(name: ModelName, alias: AliasName, body: AliasIn, service: TrackingDep) -> JsonResponse:
    return JsonResponse(alias_move_to_wire(service.set_model_alias(name, alias, body.version)))


@router.delete(
    "/models/{name}/aliases/{alias}",
    responses=error_responses(400, 404, 503),
    response_model=AliasMoveOut,
    summary="Remove an alias",
)
def delete_alias(name: ModelName, alias: AliasName, service: TrackingDep) -> JsonResponse:
    return JsonResponse(alias_move_to_wire(service.delete_model_alias(name, alias)))


@router.get(
    "/models/{name}/aliases/{alias}",
    responses=error_responses(400, 404, 503),
    response_model=VersionOut,
    summary="The version an alias points at",
)
def version_by_alias(name: ModelName, alias: AliasName, service: TrackingDep) -> JsonResponse:
    return JsonResponse(version_to_wire(service.get_model_version_by_alias(name, alias)))


@router.get(
    "/models/{name}/aliases/{alias}/archive",
    summary="The model folder of the version an alias points at, as a tar",
    response_class=Response,
    responses={200: VERSION_ARCHIVE_ANSWER, **error_responses(400, 404, 503)},
)
def alias_archive(name: ModelName, alias: AliasName, service: TrackingDep) -> Response:
    return _version_archive(*service.open_model_version_folder(name, alias=alias))


def _version_archive(version: ModelVersion, opened: list[tuple[Artifact, Iterator[bytes]]]) -> Response:
    # Which version this is travels in headers, so that the client loads it in one request; the
    # tree digest is what it checks the folder against.
    headers = {
        "x-cairn-model-version": str(version.version),
        "x-cairn-run-id": quote(version.run_id, safe=""),
        "x-cairn-source-path": quote(version.source_path, safe="/"),
        "x-cairn-tree-digest": version.tree_digest,
    }
    return archive_response(opened, f"{version.model}-{version.version}.tar", headers)


@router.get(
    "/models/{name}/alias-history",
    responses=error_responses(400, 404, 503),
    response_model=AliasHistoryOut,
    summary="Every set, move and removal of the model's aliases, oldest first",
)
def alias_history(
    name: ModelName,
    service: TrackingDep,
    alias: Annotated[str | None, Query(max_length=MAX_ALIAS_LENGTH, json_schema_extra=ALIAS_RULE)] = None,
) -> JsonResponse:
    return JsonResponse({"moves": [alias_move_to_wire(m) for m in service.model_alias_history(name, alias)]})


# -- lineage ----------------------------------------------------------------------------------


@router.get(
    "/runs/{run_id}/model-versions",
    responses=error_responses(400, 404, 503),
    response_model=VersionItems,
    summary="The model versions registered from a run",
)
def run_model_versions(run_id: RunId, service: TrackingDep) -> JsonResponse:
    return JsonResponse({"versions": [version_to_wire(v) for v in service.run_model_versions(run_id)]})


@router.get(
    "/dataset-versions/{version_id}/model-versions",
    responses=error_responses(400, 503),
    response_model=VersionItems,
    summary="The model versions whose source run used a dataset version",
)
def dataset_model_versions(
    version_id: Annotated[str, Path(min_length=1, max_length=64, json_schema_extra={"pattern": limits.TEXT_PATTERN})],
    service: TrackingDep,
) -> JsonResponse:
    return JsonResponse({"versions": [version_to_wire(v) for v in service.dataset_model_versions(version_id)]})
