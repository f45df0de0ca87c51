"""Comments, saved views and field names: /api/v1/runs/{id}/comments, /api/v1/comments/{id},
/api/v1/projects/{name}/views, /api/v1/views/{id} and /api/v1/projects/{name}/fields.

Included before the projects router, whose ``/projects/{name:path}`` would otherwise take
``/projects/mnist/views`` for a project named "mnist/views". A project really named so is
still found: its slash comes encoded (``mnist%2Fviews``), and those routes hand it on.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from cairn.core import limits
from cairn.core.wire import comment_to_wire, project_fields_to_wire, project_to_wire, view_to_wire
from cairn.server.deps import tracking
from cairn.server.jsonresponse import JsonResponse
from cairn.server.schemas import ERROR_RESPONSES, Strict
from cairn.service.tracking import TrackingService

router = APIRouter(tags=["discussion"], responses=ERROR_RESPONSES)
Tracking = Annotated[TrackingService, Depends(tracking)]
RunId = Annotated[str, Path(min_length=1, max_length=64)]
ItemId = Annotated[str, Path(min_length=1, max_length=64)]
ProjectName = Annotated[str, Path(min_length=1, max_length=limits.MAX_NAME_LENGTH)]


# Lengths and contents are checked by the service, so that a bad value is the same error
# (invalid_value, invalid_query) here as in embedded mode.
class CommentIn(Strict):
    body: str = Field(description="markdown, stored as given; 1 to 20,000 characters")


class CommentOut(BaseModel):
    id: str
    run_id: str
    author: str
    body: str
    mentions: list[str]
    created_at: int
    updated_at: int | None


class CommentList(BaseModel):
    comments: list[CommentOut]


class ViewIn(Strict):
    name: str
    query: str = Field(default="", description="a query, see docs/query.md; empty for every run")
    order_by: str = Field(default="", description='as for listing runs, e.g. "metrics.acc desc"')
    columns: list[str] = Field(default_factory=list, description='fields, e.g. "name", "params.lr"')
    charts: list[str] = Field(default_factory=list, description='metric keys, e.g. "val/accuracy"')
    group_by: str = Field(default="", description='a param, tag or attribute, e.g. "params.optimizer"')


class ViewOut(BaseModel):
    id: str
    project: str
    name: str
    query: str
    order_by: str
    columns: list[str]
    charts: list[str]
    group_by: str
    created_by: str
    created_at: int
    updated_at: int


class ViewList(BaseModel):
    views: list[ViewOut]


class FieldsOut(BaseModel):
    params: list[str]
    metrics: list[str]
    tags: list[str]


# -- comments ---------------------------------------------------------------------------------


@router.get("/runs/{run_id}/comments", response_model=CommentList, summary="A run's comments, oldest first")
def list_comments(run_id: RunId, service: Tracking) -> JsonResponse:
    return JsonResponse({"comments": [comment_to_wire(c) for c in service.list_comments(run_id)]})


@router.post("/runs/{run_id}/comments", response_model=CommentOut, status_code=201, summary="Comment on a run")
def add_comment(run_id: RunId, body: CommentIn, service: Tracking) -> JsonResponse:
    return JsonResponse(comment_to_wire(service.add_comment(run_id, body.body)), status_code=201)


@router.patch("/comments/{comment_id}", response_model=CommentOut, summary="Edit a comment (its author only)")
def edit_comment(comment_id: ItemId, body: CommentIn, service: Tracking) -> JsonResponse:
    return JsonResponse(comment_to_wire(service.edit_comment(comment_id, body.body)))


@router.delete("/comments/{comment_id}", status_code=204, summary="Delete a comment (its author only)")
def delete_comment(comment_id: ItemId, service: Tracking) -> Response:
    service.delete_comment(comment_id)
    return Response(status_code=204)


# -- saved views ------------------------------------------------------------------------------


@router.get("/projects/{name:path}/views", response_model=ViewList, summary="A project's saved views, by name")
def list_views(name: ProjectName, request: Request, service: Tracking) -> JsonResponse:
    if not _suffix_is_a_route(request, "views"):
        return JsonResponse(project_to_wire(service.get_project(f"{name}/views")))
    return JsonResponse({"views": [view_to_wire(v) for v in service.list_views(name)]})


@router.post(
    "/projects/{name:path}/views",
    response_model=ViewOut,
    summary="Save a view of the project's runs (a name it has already is replaced, keeping its id)",
)
def save_view(name: ProjectName, body: ViewIn, service: Tracking) -> JsonResponse:
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


@router.get("/views/{view_id}", response_model=ViewOut, summary="A saved view")
def get_view(view_id: ItemId, service: Tracking) -> JsonResponse:
    return JsonResponse(view_to_wire(service.get_view(view_id)))


@router.delete("/views/{view_id}", status_code=204, summary="Delete a saved view")
def delete_view(view_id: ItemId, service: Tracking) -> Response:
    service.delete_view(view_id)
    return Response(status_code=204)


# -- field names ------------------------------------------------------------------------------


@router.get(
    "/projects/{name:path}/fields",
    response_model=FieldsOut,
    summary="The param, metric and tag keys of the project's newest 2,000 runs",
)
def project_fields(name: ProjectName, request: Request, service: Tracking) -> JsonResponse:
    if not _suffix_is_a_route(request, "fields"):
        return JsonResponse(project_to_wire(service.get_project(f"{name}/fields")))
    return JsonResponse(project_fields_to_wire(service.project_fields(name)))


def _suffix_is_a_route(request: Request, suffix: str) -> bool:
    """False when ``/suffix`` ended the project's name, its slash sent encoded (``%2F``)."""
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return True
    return raw.split(b"?", 1)[0].endswith(b"/" + suffix.encode())
