"""Runs, params and tags: /api/v1/runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from cairn.core import limits
from cairn.core.entities import RunUpdate
from cairn.core.wire import group_to_wire, params_from_wire, run_to_wire
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import (
    KEY_RULE,
    QUERY_RULE,
    GroupList,
    ParamsIn,
    ProjectQuery,
    RunCreate,
    RunId,
    RunList,
    RunOut,
    RunPatch,
    TagsIn,
)

router = APIRouter(prefix="/runs", tags=["runs"], route_class=JsonRoute)


@router.post(
    "",
    responses=error_responses(400, 404, 409, 413, 503),
    response_model=RunOut,
    status_code=201,
    summary="Start a run",
)
def create_run(body: RunCreate, service: TrackingDep) -> JsonResponse:
    run = service.create_run(
        body.project,
        name=body.name,
        user=body.user,
        config=params_from_wire(body.config),
        tags=body.tags,
        notes=body.notes,
        parent_id=body.parent_id,
        start_time=body.start_time,
        run_id=body.id,
    )
    return JsonResponse(run_to_wire(run), status_code=201)


@router.get(
    "",
    responses=error_responses(400, 404, 503),
    response_model=RunList,
    summary="Search a project's runs (newest first unless order_by says)",
)
def list_runs(
    service: TrackingDep,
    project: ProjectQuery,
    where: Annotated[str, Query(description="a query, see docs/query.md", json_schema_extra=QUERY_RULE)] = "",
    order_by: Annotated[str, Query(max_length=1000, description='e.g. "metrics.acc desc, params.lr"')] = "",
    limit: Annotated[int, Query(ge=1, le=limits.MAX_PAGE_SIZE)] = 100,
    page_token: Annotated[
        str | None,
        # Two base64url parts, payload and MAC (store/sql/page_tokens.py). Stated so that nothing
        # but such text is sent: a query string of percent-encoded non-ASCII this long is more
        # than uvicorn reads, and it would answer in plain text, not the envelope.
        Query(
            max_length=limits.MAX_PAGE_TOKEN_LENGTH, json_schema_extra={"pattern": r"^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$"}
        ),
    ] = None,
    include_deleted: bool = False,
) -> JsonResponse:
    page = service.list_runs(
        project, where=where, order_by=order_by, include_deleted=include_deleted, limit=limit, page_token=page_token
    )
    return JsonResponse({"runs": [run_to_wire(r) for r in page.items], "next_page_token": page.next_page_token})


@router.get(
    "/groups",
    responses=error_responses(400, 404, 503),
    response_model=GroupList,
    summary="Group a project's runs by a field, with metric aggregates",
)
def group_runs(
    service: TrackingDep,
    project: ProjectQuery,
    group_by: Annotated[str, Query(min_length=1, max_length=1000, description='e.g. "params.optimizer"')],
    metric: Annotated[str | None, Query(max_length=1000, description='e.g. "metrics.acc"')] = None,
    where: Annotated[str, Query(description="a query, see docs/query.md", json_schema_extra=QUERY_RULE)] = "",
    include_deleted: bool = False,
) -> JsonResponse:
    groups = service.group_runs(project, group_by=group_by, metric=metric, where=where, include_deleted=include_deleted)
    return JsonResponse({"groups": [group_to_wire(g) for g in groups]})


@router.get(
    "/{run_id}",
    responses=error_responses(400, 404, 503),
    response_model=RunOut,
    summary="Get a run with params, tags and metric summaries",
)
def get_run(run_id: RunId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(run_to_wire(service.get_run(run_id)))


@router.patch(
    "/{run_id}",
    responses=error_responses(400, 404, 409, 413, 503),
    response_model=RunOut,
    summary="Change a run's status, name, notes or end time",
)
def update_run(run_id: RunId, body: RunPatch, service: TrackingDep) -> JsonResponse:
    update = RunUpdate(status=body.status, name=body.name, notes=body.notes, end_time=body.end_time)
    return JsonResponse(run_to_wire(service.update_run(run_id, update)))


@router.delete(
    "/{run_id}",
    responses=error_responses(400, 404, 503),
    response_model=RunOut,
    summary="Delete a run (it can be restored)",
)
def delete_run(run_id: RunId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(run_to_wire(service.delete_run(run_id)))


@router.post(
    "/{run_id}/restore",
    responses=error_responses(400, 404, 409, 503),
    response_model=RunOut,
    summary="Restore a deleted run",
)
def restore_run(run_id: RunId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(run_to_wire(service.restore_run(run_id)))


@router.post(
    "/{run_id}/params",
    responses=error_responses(400, 404, 409, 413, 503),
    status_code=204,
    summary="Log params (immutable once logged)",
)
def log_params(run_id: RunId, body: ParamsIn, service: TrackingDep) -> Response:
    service.log_params(run_id, params_from_wire(body.params))
    return Response(status_code=204)


@router.post(
    "/{run_id}/tags",
    responses=error_responses(400, 404, 409, 413, 503),
    status_code=204,
    summary="Set tags (overwrites)",
)
def set_tags(run_id: RunId, body: TagsIn, service: TrackingDep) -> Response:
    service.set_tags(run_id, body.tags)
    return Response(status_code=204)


# ``:path`` because tag keys may hold slashes ("data/split"); the service checks the key.
@router.delete(
    "/{run_id}/tags/{key:path}", responses=error_responses(400, 404, 409, 503), status_code=204, summary="Delete a tag"
)
def delete_tag(run_id: RunId, key: Annotated[str, Path(json_schema_extra=KEY_RULE)], service: TrackingDep) -> Response:
    service.delete_tag(run_id, key)
    return Response(status_code=204)
