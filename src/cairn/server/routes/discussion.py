"""Comments, saved views and field names: /api/v1/runs/{id}/comments, /api/v1/comments/{id},
/api/v1/projects/{name}/views, /api/v1/views/{id} and /api/v1/projects/{name}/fields.

Included before the projects router, whose ``/projects/{name:path}`` would otherwise take
``/projects/mnist/views`` for a project named "mnist/views". A project really named so is
still found: its slash comes encoded (``mnist%2Fviews``), and those routes hand it on.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from cairn.core.wire import comment_to_wire, project_fields_to_wire, project_to_wire, view_to_wire
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import (
    CommentIn,
    CommentList,
    CommentOut,
    FieldsOut,
    ProjectName,
    RunId,
    ViewIn,
    ViewList,
    ViewOut,
)

router = APIRouter(tags=["discussion"], route_class=JsonRoute)
ItemId = Annotated[str, Path(min_length=1, max_length=64)]


# -- comments ---------------------------------------------------------------------------------


@router.get(
    "/runs/{run_id}/comments",
    responses=error_responses(400, 404, 503),
    response_model=CommentList,
    summary="A run's comments, oldest first",
)
def list_comments(run_id: RunId, service: TrackingDep) -> JsonResponse:
    return JsonResponse({"comments": [comment_to_wire(c) for c in service.list_comments(run_id)]})


@router.post(
    "/runs/{run_id}/comments",
    responses=error_responses(400, 404, 413, 503),
    response_model=CommentOut,
    status_code=201,
    summary="Comment on a run",
)
def add_comment(run_id: RunId, body: CommentIn, service: TrackingDep) -> JsonResponse:
    return JsonResponse(comment_to_wire(service.add_comment(run_id, body.body)), status_code=201)


@router.patch(
    "/comments/{comment_id}",
    responses=error_responses(400, 403, 404, 413, 503),
    response_model=CommentOut,
    summary="Edit a comment (its author only)",
)
def edit_comment(comment_id: ItemId, body: CommentIn, service: TrackingDep) -> JsonResponse:
    return JsonResponse(comment_to_wire(service.edit_comment(comment_id, body.body)))


@router.delete(
    "/comments/{comment_id}",
    responses=error_responses(400, 403, 404, 503),
    status_code=204,
    summary="Delete a comment (its author only)",
)
def delete_comment(comment_id: ItemId, service: TrackingDep) -> Response:
    service.delete_comment(comment_id)
    return Response(status_code=204)


# -- saved views ------------------------------------------------------------------------------


@router.get(
    "/projects/{name:path}/views",
    responses=error_responses(400, 404, 503),
    response_model=ViewList,
    summary="A project's saved views, by name",
)
def list_views(name: ProjectName, request: Request, service: TrackingDep) -> JsonResponse:
    if not suffix_is_a_route(request, "views"):
        return JsonResponse(project_to_wire(service.get_project(f"{name}/views")))
    return JsonResponse({"views": [view_to_wire(v) for v in service.list_views(name)]})


@router.post(
    "/projects/{name:path}/views",
    responses=error_responses(400, 404, 413, 503),
    response_model=ViewOut,
    summary="Save a view of the project's runs (a name it has already is replaced, keeping its id)",
)
def save_view(name: ProjectName, body: ViewIn, service: TrackingDep) -> JsonResponse:
    view = service.save_view(
        name,
        body.name,
        query=body.query,
        order_by=body.order_by,
        columns=body.columns,
        charts=body.charts,
        group_by=body.group_by,
    )
    return JsonResponse(view_to_wire(view))


@router.get(
    "/views/{view_id}", responses=error_responses(400, 404, 503), response_model=ViewOut, summary="A saved view"
)
def get_view(view_id: ItemId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(view_to_wire(service.get_view(view_id)))


@router.delete(
    "/views/{view_id}", responses=error_responses(400, 404, 503), status_code=204, summary="Delete a saved view"
)
def delete_view(view_id: ItemId, service: TrackingDep) -> Response:
    service.delete_view(view_id)
    return Response(status_code=204)


# -- field names ------------------------------------------------------------------------------


@router.get(
    "/projects/{name:path}/fields",
    responses=error_responses(400, 404, 503),
    response_model=FieldsOut,
    summary="The param, metric and tag keys of the project's newest 2,000 runs",
)
def project_fields(name: ProjectName, request: Request, service: TrackingDep) -> JsonResponse:
    if not suffix_is_a_route(request, "fields"):
        return JsonResponse(project_to_wire(service.get_project(f"{name}/fields")))
    return JsonResponse(project_fields_to_wire(service.project_fields(name)))


def suffix_is_a_route(request: Request, suffix: str) -> bool:
    """False when ``/suffix`` ended the project's name, its slash sent encoded (``%2F``)."""
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return True
    return raw.split(b"?", 1)[0].endswith(b"/" + suffix.encode())
