"""Projects: /api/v1/projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from cairn.core import limits
from cairn.core.wire import project_to_wire
from cairn.server.deps import tracking
from cairn.server.jsonresponse import JsonResponse
from cairn.server.schemas import ERROR_RESPONSES, ProjectCreate, ProjectList, ProjectOut
from cairn.service.tracking import TrackingService

router = APIRouter(prefix="/projects", tags=["projects"], responses=ERROR_RESPONSES)
Tracking = Annotated[TrackingService, Depends(tracking)]
ProjectName = Annotated[str, Path(min_length=1, max_length=limits.MAX_NAME_LENGTH)]


@router.get("", response_model=ProjectList, summary="List projects")
def list_projects(service: Tracking) -> JsonResponse:
    return JsonResponse({"projects": [project_to_wire(p) for p in service.list_projects()]})


@router.post("", response_model=ProjectOut, status_code=201, summary="Create a project")
def create_project(body: ProjectCreate, service: Tracking) -> JsonResponse:
    return JsonResponse(project_to_wire(service.create_project(body.name, body.description)), status_code=201)


@router.get("/{name:path}", response_model=ProjectOut, summary="Get a project by name")
def get_project(name: ProjectName, service: Tracking) -> JsonResponse:
    return JsonResponse(project_to_wire(service.get_project(name)))
