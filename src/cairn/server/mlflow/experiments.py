"""MLflow's experiments: Cairn's projects (see :mod:`cairn.server.mlflow.entities`)."""

from __future__ import annotations

from fastapi import APIRouter

from cairn.core.entities import Project
from cairn.core.errors import AlreadyExists, NotFound
from cairn.server.jsonresponse import JsonResponse
from cairn.server.mlflow.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    experiment_id,
    experiment_json,
)
from cairn.server.mlflow.errors import RESOURCE_DOES_NOT_EXIST, MlflowApiError
from cairn.server.mlflow.wire import (
    Message,
    add_message_routes,
    key_value_pairs,
    optional_str,
    optional_text,
    required_str,
)
from cairn.service.tracking import TrackingService

router = APIRouter(prefix="/experiments")


def default_project(tracking: TrackingService, *, with_counts: bool = False) -> Project:
    """The project that is MLflow's default experiment, made the first time it is asked for."""
    try:
        return tracking.get_project(DEFAULT_EXPERIMENT_NAME, with_counts=with_counts)
    except NotFound:
        try:
            return tracking.create_project(DEFAULT_EXPERIMENT_NAME)
        except AlreadyExists:  # made by a concurrent first request
            return tracking.get_project(DEFAULT_EXPERIMENT_NAME, with_counts=with_counts)


def project_of_experiment(tracking: TrackingService, exp_id: str, *, with_counts: bool = False) -> Project:
    """The project an ``experiment_id`` names; RESOURCE_DOES_NOT_EXIST if none (nor one hidden
    from the principal: the service answers those as missing too). Its run counts and last
    activity (a scan of its runs) are read only ``with_counts``: every run created in an
    experiment finds it here, and must not cost more as the experiment grows."""
    if exp_id == DEFAULT_EXPERIMENT_ID:
        return default_project(tracking, with_counts=with_counts)
    try:
        project = tracking.get_project(exp_id, with_counts=with_counts)
    except NotFound:
        project = None
    # The store finds a project by name or id; an experiment id is only ever the id.
    if project is None or project.id != exp_id:
        raise MlflowApiError(f"No Experiment with id={exp_id} exists", RESOURCE_DOES_NOT_EXIST)
    return project


def _answer(tracking: TrackingService, project: Project) -> JsonResponse:
    tags = tracking.project_tags(project.id)
    return JsonResponse({"experiment": experiment_json(project, tags=tags)})


def _create(tracking: TrackingService, message: Message) -> JsonResponse:
    name = required_str(message, "name")
    # artifact_location is MLflow's to choose here: every experiment's artifacts are proxied.
    project = tracking.create_project(name, tags=dict(key_value_pairs(message, "tags")))
    return JsonResponse({"experiment_id": experiment_id(project.id, project.name)})


def _get(tracking: TrackingService, message: Message) -> JsonResponse:
    exp_id = required_str(message, "experiment_id")
    return _answer(tracking, project_of_experiment(tracking, exp_id, with_counts=True))


def _get_by_name(tracking: TrackingService, message: Message) -> JsonResponse:
    name = required_str(message, "experiment_name")
    if name == DEFAULT_EXPERIMENT_NAME:
        return _answer(tracking, default_project(tracking, with_counts=True))
    try:
        project = tracking.get_project(name)
    except NotFound:
        project = None
    if project is None or project.name != name:
        raise MlflowApiError(f"Could not find experiment with name '{name}'", RESOURCE_DOES_NOT_EXIST)
    return _answer(tracking, project)


def _update(tracking: TrackingService, message: Message) -> JsonResponse:
    project = project_of_experiment(tracking, required_str(message, "experiment_id"))
    new_name = optional_str(message, "new_name")
    if new_name:
        tracking.rename_project(project.id, new_name)
    return JsonResponse({})


def _delete(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.delete_project(project_of_experiment(tracking, required_str(message, "experiment_id")).id)
    return JsonResponse({})


def _restore(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.restore_project(project_of_experiment(tracking, required_str(message, "experiment_id")).id)
    return JsonResponse({})


def _set_tag(tracking: TrackingService, message: Message) -> JsonResponse:
    project = project_of_experiment(tracking, required_str(message, "experiment_id"))
    tracking.set_project_tags(project.id, {required_str(message, "key"): optional_text(message, "value")})
    return JsonResponse({})


def _delete_tag(tracking: TrackingService, message: Message) -> JsonResponse:
    project = project_of_experiment(tracking, required_str(message, "experiment_id"))
    tracking.delete_project_tag(project.id, required_str(message, "key"))
    return JsonResponse({})


add_message_routes(
    router,
    [
        ("POST", "/create", _create),
        ("GET", "/get", _get),
        ("GET", "/get-by-name", _get_by_name),
        ("POST", "/update", _update),
        ("POST", "/delete", _delete),
        ("POST", "/restore", _restore),
        ("POST", "/set-experiment-tag", _set_tag),
        ("POST", "/delete-experiment-tag", _delete_tag),
    ],
)
