"""MLflow's model registry, on Cairn's registry: registered models, versions, tags, stages and
aliases are Cairn's own, with the same rules (a protected alias moves only through a review,
roles on each model), so a model registered through MLflow's client is reviewed and served as
any other.

A version's ``source`` names its files: ``models:/m-…`` for a logged model (MLflow 3), else
``runs:/RUN_ID/PATH``. Registering an MLflow model folder writes its Cairn manifest first
(:mod:`.model_folders`); ``get-download-uri`` answers the folder's proxied-artifact URI, from
which MLflow's client downloads it (``mlflow.pyfunc.load_model("models:/NAME@alias")``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cairn.core.logged_models import logged_model_id_of
from cairn.core.registry import ModelVersion, RegisteredModel, Stage
from cairn.server.jsonresponse import JsonResponse
from cairn.server.mlflow.errors import INVALID_PARAMETER_VALUE, MlflowApiError
from cairn.server.mlflow.model_folders import (
    ModelFolder,
    ensure_cairn_manifest,
    folder_artifact_uri,
    folder_of_source,
)
from cairn.server.mlflow.registry_search import model_version_query, registered_model_query
from cairn.server.mlflow.search_grammar import ATTRIBUTE, read_order_clause
from cairn.server.mlflow.wire import (
    Message,
    add_message_routes,
    key_value_pairs,
    max_results,
    optional_str,
    optional_text,
    repeated,
    required_int,
    required_str,
)
from cairn.service.tracking import TrackingService

router = APIRouter()

DEFAULT_MODELS_PAGE = 100
MAX_MODELS_PAGE = 1000
DEFAULT_VERSIONS_PAGE = 10_000
MAX_VERSIONS_PAGE = 10_000
_STAGES = {stage.value.lower(): stage for stage in Stage}


# -- messages ---------------------------------------------------------------------------------


def version_json(version: ModelVersion) -> dict[str, Any]:
    """MLflow's ``ModelVersion`` message."""
    answer: dict[str, Any] = {
        "name": version.model,
        "version": str(version.version),
        "creation_timestamp": version.created_at,
        "last_updated_timestamp": version.updated_at,
        "user_id": version.created_by,
        "current_stage": version.stage.value,
        "description": version.description,
        "source": version.source,
        "run_id": version.run_id,
        "status": "READY",
        "run_link": "",
        "tags": [{"key": k, "value": v} for k, v in sorted(version.tags.items())],
        "aliases": list(version.aliases),
    }
    logged_model_id = logged_model_id_of(version.source_path)
    if logged_model_id is not None:
        answer["source"] = f"models:/{logged_model_id}"
        answer["model_id"] = logged_model_id
    return answer


def registered_model_json(model: RegisteredModel, latest: list[ModelVersion]) -> dict[str, Any]:
    """MLflow's ``RegisteredModel`` message, with the latest version of each stage."""
    return {
        "name": model.name,
        "creation_timestamp": model.created_at,
        "last_updated_timestamp": model.updated_at,
        "description": model.description,
        "latest_versions": [version_json(v) for v in latest],
        "tags": [{"key": k, "value": v} for k, v in sorted(model.tags.items())],
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
    }


def _latest_versions(tracking: TrackingService, name: str, stages: list[Stage] | None = None) -> list[ModelVersion]:
    """The newest version in each stage (every stage when none are named), by stage."""
    found = []
    for stage in stages or list(Stage):
        page = tracking.list_model_versions(name, where=f'stage = "{stage.value}"', limit=1)
        found += page.items
    return found


def _stage(text: str) -> Stage:
    stage = _STAGES.get(text.lower())
    if stage is None:
        choices = ", ".join(s.value for s in Stage)
        raise MlflowApiError(f"Invalid Model Version stage: {text}. Value must be one of {choices}.")
    return stage


def _version(message: Message) -> int:
    return required_int(message, "version")


def _orders_by_name(message: Message, what: str) -> None:
    for clause in repeated(message, "order_by"):
        kind, key, descending, _ = read_order_clause(clause, {"attribute": ATTRIBUTE})
        if (kind, key, descending) != (ATTRIBUTE, "name", False):
            raise MlflowApiError(
                f"Cairn orders {what} by name only (order_by 'name ASC'), not {clause!r}", INVALID_PARAMETER_VALUE
            )


# -- registered models ------------------------------------------------------------------------


def _answer_model(tracking: TrackingService, name: str) -> JsonResponse:
    model = tracking.get_model(name)
    return JsonResponse({"registered_model": registered_model_json(model, _latest_versions(tracking, name))})


def _create_model(tracking: TrackingService, message: Message) -> JsonResponse:
    model = tracking.create_model(
        required_str(message, "name"), optional_text(message, "description"), dict(key_value_pairs(message, "tags"))
    )
    return JsonResponse({"registered_model": registered_model_json(model, [])})


def _get_model(tracking: TrackingService, message: Message) -> JsonResponse:
    return _answer_model(tracking, required_str(message, "name"))


def _update_model(tracking: TrackingService, message: Message) -> JsonResponse:
    name = required_str(message, "name")
    if "description" in message:
        tracking.update_model(name, optional_text(message, "description"))
    return _answer_model(tracking, name)


def _rename_model(tracking: TrackingService, message: Message) -> JsonResponse:
    model = tracking.rename_model(required_str(message, "name"), required_str(message, "new_name"))
    return _answer_model(tracking, model.name)


def _delete_model(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.delete_model(required_str(message, "name"))
    return JsonResponse({})


def _search_models(tracking: TrackingService, message: Message) -> JsonResponse:
    _orders_by_name(message, "registered models")
    page = tracking.list_models(
        where=registered_model_query(optional_str(message, "filter")),
        limit=max_results(message, DEFAULT_MODELS_PAGE, MAX_MODELS_PAGE),
        page_token=optional_str(message, "page_token") or None,
    )
    models = [registered_model_json(m, _latest_versions(tracking, m.name)) for m in page.items]
    answer: dict[str, Any] = {"registered_models": models}
    if page.next_page_token:
        answer["next_page_token"] = page.next_page_token
    return JsonResponse(answer)


def _latest(tracking: TrackingService, message: Message) -> JsonResponse:
    name = required_str(message, "name")
    tracking.get_model(name)
    stages = [_stage(str(s)) for s in repeated(message, "stages")]
    return JsonResponse({"model_versions": [version_json(v) for v in _latest_versions(tracking, name, stages)]})


def _set_model_tag(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.set_model_tag(required_str(message, "name"), required_str(message, "key"), optional_text(message, "value"))
    return JsonResponse({})


def _delete_model_tag(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.delete_model_tag(required_str(message, "name"), required_str(message, "key"))
    return JsonResponse({})


# -- aliases ----------------------------------------------------------------------------------


def _set_alias(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.set_model_alias(required_str(message, "name"), required_str(message, "alias"), _version(message))
    return JsonResponse({})


def _delete_alias(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.delete_model_alias(required_str(message, "name"), required_str(message, "alias"))
    return JsonResponse({})


def _get_by_alias(tracking: TrackingService, message: Message) -> JsonResponse:
    version = tracking.get_model_version_by_alias(required_str(message, "name"), required_str(message, "alias"))
    return JsonResponse({"model_version": version_json(version)})


# -- versions ---------------------------------------------------------------------------------


def _create_version(tracking: TrackingService, message: Message) -> JsonResponse:
    name = required_str(message, "name")
    model_id = optional_str(message, "model_id")
    source = optional_str(message, "source") or (f"models:/{model_id}" if model_id else None)
    if source is None:
        raise MlflowApiError("Missing value for required parameter 'source'.")
    folder = folder_of_source(tracking, source, optional_str(message, "run_id") or None)
    ensure_cairn_manifest(tracking, folder)
    version = tracking.register_model(
        folder.runs_uri,
        name,
        description=optional_text(message, "description"),
        tags=dict(key_value_pairs(message, "tags")),
    )
    return JsonResponse({"model_version": version_json(version)})


def _get_version(tracking: TrackingService, message: Message) -> JsonResponse:
    version = tracking.get_model_version(required_str(message, "name"), _version(message))
    return JsonResponse({"model_version": version_json(version)})


def _update_version(tracking: TrackingService, message: Message) -> JsonResponse:
    name, number = required_str(message, "name"), _version(message)
    if "description" in message:
        version = tracking.update_model_version(name, number, optional_text(message, "description"))
    else:
        version = tracking.get_model_version(name, number)
    return JsonResponse({"model_version": version_json(version)})


def _delete_version(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.delete_model_version(required_str(message, "name"), _version(message))
    return JsonResponse({})


def _transition_stage(tracking: TrackingService, message: Message) -> JsonResponse:
    archive = str(message.get("archive_existing_versions", "false")).lower() == "true"
    version = tracking.transition_stage(
        required_str(message, "name"),
        _version(message),
        _stage(required_str(message, "stage")).value,
        archive_existing=archive,
    )
    return JsonResponse({"model_version": version_json(version)})


def _search_versions(tracking: TrackingService, message: Message) -> JsonResponse:
    order_by = repeated(message, "order_by")
    if order_by:
        raise MlflowApiError(
            f"Cairn orders model versions by name, then newest first; order_by {order_by[0]!r} is not supported"
        )
    page = tracking.search_model_versions(
        where=model_version_query(optional_str(message, "filter")),
        limit=max_results(message, DEFAULT_VERSIONS_PAGE, MAX_VERSIONS_PAGE),
        page_token=optional_str(message, "page_token") or None,
    )
    answer: dict[str, Any] = {"model_versions": [version_json(v) for v in page.items]}
    if page.next_page_token:
        answer["next_page_token"] = page.next_page_token
    return JsonResponse(answer)


def _download_uri(tracking: TrackingService, message: Message) -> JsonResponse:
    version = tracking.get_model_version(required_str(message, "name"), _version(message))
    uri = folder_artifact_uri(tracking, ModelFolder(version.run_id, version.source_path))
    return JsonResponse({"artifact_uri": uri})


def _set_version_tag(tracking: TrackingService, message: Message) -> JsonResponse:
    name, number = required_str(message, "name"), _version(message)
    tracking.set_model_version_tag(name, number, required_str(message, "key"), optional_text(message, "value"))
    return JsonResponse({})


def _delete_version_tag(tracking: TrackingService, message: Message) -> JsonResponse:
    name, number = required_str(message, "name"), _version(message)
    tracking.delete_model_version_tag(name, number, required_str(message, "key"))
    return JsonResponse({})


add_message_routes(
    router,
    [
        ("POST", "/registered-models/create", _create_model),
        ("GET", "/registered-models/get", _get_model),
        ("PATCH", "/registered-models/update", _update_model),
        ("POST", "/registered-models/rename", _rename_model),
        ("DELETE", "/registered-models/delete", _delete_model),
        ("GET", "/registered-models/search", _search_models),
        ("POST", "/registered-models/get-latest-versions", _latest),
        ("GET", "/registered-models/get-latest-versions", _latest),
        ("POST", "/registered-models/set-tag", _set_model_tag),
        ("DELETE", "/registered-models/delete-tag", _delete_model_tag),
        ("POST", "/registered-models/alias", _set_alias),
        ("DELETE", "/registered-models/alias", _delete_alias),
        ("GET", "/registered-models/alias", _get_by_alias),
        ("POST", "/model-versions/create", _create_version),
        ("GET", "/model-versions/get", _get_version),
        ("PATCH", "/model-versions/update", _update_version),
        ("DELETE", "/model-versions/delete", _delete_version),
        ("POST", "/model-versions/transition-stage", _transition_stage),
        ("GET", "/model-versions/search", _search_versions),
        ("GET", "/model-versions/get-download-uri", _download_uri),
        ("POST", "/model-versions/set-tag", _set_version_tag),
        ("DELETE", "/model-versions/delete-tag", _delete_version_tag),
    ],
)
