"""Projects: /api/v1/projects."""

from __future__ import annotations

from fastapi import APIRouter

from cairn.core.wire import project_to_wire
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import ProjectCreate, ProjectList, ProjectName, ProjectOut

router = APIRouter(prefix="/projects", tags=["projects"], route_class=JsonRoute)


@router.get("", responses=error_responses(503), response_model=ProjectList, summary="List projects")
def list_projects(service: TrackingDep) -> JsonResponse:
    return JsonResponse({"projects": [project_to_wire(p) for p in service.list_projects()]})


@router.post(
    "",
    responses=error_responses(400, 409, 413, 503),
    response_model=ProjectOut,
    status_code=201,
    summary="Create a project",
)
def create_project(body: ProjectCreate, service: TrackingDep) -> JsonResponse:
    return JsonResponse(project_to_wire(service.create_project(body.name, body.description)), status_code=201)


@router.get(
    "/{name:path}", responses=error_responses(400, 404, 503), response_model=ProjectOut, summary="Get a project by name"
)
def get_project(name: ProjectName, service: TrackingDep) -> JsonResponse:
    return JsonResponse(project_to_wire(service.get_project(name)))
