"""MLflow's experiments: Cairn's projects (see :mod:`cairn.server.mlflow.entities`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from cairn.core.entities import Project
from cairn.core.errors import AlreadyExists, NotFound
from cairn.server.deps import TrackingDep
from cairn.server.jsonresponse import JsonResponse
from cairn.server.mlflow.entities import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, experiment_json
from cairn.server.mlflow.errors import RESOURCE_DOES_NOT_EXIST, MlflowApiError
from cairn.server.mlflow.wire import Message, optional_str, read_message, repeated, required_str
from cairn.service.tracking import TrackingService

router = APIRouter(prefix="/experiments")


def default_project(tracking: TrackingService) -> Project:
    """The project that is MLflow's default experiment, made the first time it is asked for."""
    try:
        return tracking.get_project(DEFAULT_EXPERIMENT_NAME)
    except NotFound:
        try:
            return tracking.create_project(DEFAULT_EXPERIMENT_NAME)
        except AlreadyExists:  # made by a concurrent first request
            return tracking.get_project(DEFAULT_EXPERIMENT_NAME)


def project_of_experiment(tracking: TrackingService, exp_id: str) -> Project:
    """The project an ``experiment_id`` names; RESOURCE_DOES_NOT_EXIST if none (nor one hidden
    from the principal: the service answers those as missing too)."""
    if exp_id == DEFAULT_EXPERIMENT_ID:
        return default_project(tracking)
    try:
        project = tracking.get_project(exp_id)
    except NotFound:
        project = None
    # The store finds a project by name or id; an experiment id is only ever the id.
    if project is None or project.id != exp_id:
        raise MlflowApiError(f"No Experiment with id={exp_id} exists", RESOURCE_DOES_NOT_EXIST)
    return project


def _create(tracking: TrackingService, message: Message) -> JsonResponse:
    name = required_str(message, "name")
    tags = repeated(message, "tags")
    if tags:
        # Cairn's projects keep no tags yet: refusing beats dropping what the user asked for.
        raise MlflowApiError("Experiment tags are not supported by this server yet")
    project = tracking.create_project(name)
    return JsonResponse({"experiment_id": experiment_json(project)["experiment_id"]})


def _get(tracking: TrackingService, message: Message) -> JsonResponse:
    project = project_of_experiment(tracking, required_str(message, "experiment_id"))
    return JsonResponse({"experiment": experiment_json(project)})


def _get_by_name(tracking: TrackingService, message: Message) -> JsonResponse:
    name = required_str(message, "experiment_name")
    if name == DEFAULT_EXPERIMENT_NAME:
        return JsonResponse({"experiment": experiment_json(default_project(tracking))})
    try:
        project = tracking.get_project(name)
    except NotFound:
        project = None
    if project is None or project.name != name:
        raise MlflowApiError(f"Could not find experiment with name '{name}'", RESOURCE_DOES_NOT_EXIST)
    return JsonResponse({"experiment": experiment_json(project)})


def _update(tracking: TrackingService, message: Message) -> JsonResponse:
    project = project_of_experiment(tracking, required_str(message, "experiment_id"))
    new_name = optional_str(message, "new_name")
    if new_name:
        tracking.rename_project(project.id, new_name)
    return JsonResponse({})


@router.post("/create")
async def create_experiment(request: Request, tracking: TrackingDep) -> JsonResponse:
    return await run_in_threadpool(_create, tracking, await read_message(request))


@router.get("/get")
async def get_experiment(request: Request, tracking: TrackingDep) -> JsonResponse:
    return await run_in_threadpool(_get, tracking, await read_message(request))


@router.get("/get-by-name")
async def get_experiment_by_name(request: Request, tracking: TrackingDep) -> JsonResponse:
    return await run_in_threadpool(_get_by_name, tracking, await read_message(request))


@router.post("/update")
async def update_experiment(request: Request, tracking: TrackingDep) -> JsonResponse:
    return await run_in_threadpool(_update, tracking, await read_message(request))
