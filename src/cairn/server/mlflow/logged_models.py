"""MLflow 3's logged models, on Cairn's logged models (core/logged_models.py).

``mlflow.<flavor>.log_model`` creates a logged model (``pending``), links it to the run
(``runs/outputs``), uploads the folder to the model's ``artifact_uri`` and marks it ready. Here
the files go to the run's artifacts under ``models/<model_id>`` (the URI says so, so the
proxied-artifact routes take them as any run's files), and when the model is marked ready its
Cairn manifest is written, so the same folder is a Cairn model: loadable, registrable,
servable. A model logged outside a run gets a finished run of its own to hold its files.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from cairn.core.errors import CairnError
from cairn.core.limits import wire_float
from cairn.core.logged_models import LoggedModel, LoggedModelStatus
from cairn.core.names import generate_run_name
from cairn.server.jsonresponse import JsonResponse
from cairn.server.mlflow.entities import experiment_id
from cairn.server.mlflow.errors import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, MlflowApiError
from cairn.server.mlflow.experiments import project_of_experiment
from cairn.server.mlflow.logged_model_search import logged_model_filter, sort_logged_models
from cairn.server.mlflow.model_folders import ModelFolder, write_cairn_manifest
from cairn.server.mlflow.wire import (
    Message,
    add_message_routes,
    key_value_pairs,
    max_results,
    offset_page_token,
    optional_str,
    page_offset,
    repeated,
    required_str,
)
from cairn.service.tracking import TrackingService

router = APIRouter()
log = logging.getLogger(__name__)

#: MLflow's LoggedModelStatus names, and its enum numbers (a client may send either).
_STATUS_NAMES = {
    LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}
_STATUSES = {name: status for status, name in _STATUS_NAMES.items()} | {
    "1": LoggedModelStatus.PENDING,
    "2": LoggedModelStatus.READY,
    "3": LoggedModelStatus.FAILED,
}
DEFAULT_MAX_RESULTS = 100
MAX_RESULTS = 1000


def logged_model_json(tracking: TrackingService, model: LoggedModel, *, with_metrics: bool = True) -> dict[str, Any]:
    exp_id = experiment_id(model.project_id, model.project)
    info: dict[str, Any] = {
        "model_id": model.id,
        "experiment_id": exp_id,
        "name": model.name,
        "creation_timestamp_ms": model.created_at,
        "last_updated_timestamp_ms": model.updated_at,
        "artifact_uri": f"mlflow-artifacts:/{exp_id}/{model.run_id}/artifacts/{model.path}",
        "status": _STATUS_NAMES[model.status],
        "model_type": model.model_type,
        "tags": [{"key": k, "value": v} for k, v in sorted(model.tags.items())],
    }
    if model.source_run_id:
        info["source_run_id"] = model.source_run_id
    if model.status_message:
        info["status_message"] = model.status_message
    data: dict[str, Any] = {"params": [{"key": k, "value": v} for k, v in sorted(model.params.items())]}
    if with_metrics and model.source_run_id:
        # The source run's latest value of each metric: what the model was logged with.
        run = tracking.get_run(model.source_run_id)
        data["metrics"] = [
            {
                "key": key,
                "value": wire_float(m.last),
                "timestamp": m.last_timestamp,
                "step": m.last_step,
                "run_id": run.id,
                "model_id": model.id,
            }
            for key, m in run.metrics.items()
        ]
    return {"info": info, "data": data}


def _model_id(message: Message) -> str:
    return required_str(message, "model_id")


def _answer(tracking: TrackingService, model: LoggedModel) -> JsonResponse:
    return JsonResponse({"model": logged_model_json(tracking, model)})


def _create(tracking: TrackingService, message: Message) -> JsonResponse:
    project = project_of_experiment(tracking, required_str(message, "experiment_id"))
    model = tracking.create_logged_model(
        project.name,
        optional_str(message, "name") or generate_run_name(),
        source_run_id=optional_str(message, "source_run_id") or None,
        model_type=optional_str(message, "model_type") or "",
        tags=dict(key_value_pairs(message, "tags")),
        params=dict(key_value_pairs(message, "params")),
    )
    return _answer(tracking, model)


def _get(tracking: TrackingService, message: Message) -> JsonResponse:
    model = tracking.get_logged_model(_model_id(message))
    if model.deleted and str(message.get("allow_deleted", "")).lower() != "true":
        raise MlflowApiError(f"Logged model with ID '{model.id}' not found.", RESOURCE_DOES_NOT_EXIST)
    return _answer(tracking, model)


def _finalize(tracking: TrackingService, message: Message) -> JsonResponse:
    model_id = _model_id(message)
    text = str(message.get("status", ""))
    status = _STATUSES.get(text)
    if status is None:
        raise MlflowApiError(f"Invalid value {text!r} for parameter 'status' supplied", INVALID_PARAMETER_VALUE)
    if status is LoggedModelStatus.READY:
        model = tracking.get_logged_model(model_id)
        try:
            write_cairn_manifest(tracking, ModelFolder(model.run_id, model.path, model.id))
        except CairnError as exc:
            # Still a good MLflow model: it only cannot be registered in Cairn, which says why then.
            log.warning("logged model %s has an MLmodel Cairn cannot read: %s", model_id, exc)
    model = tracking.finalize_logged_model(model_id, status, optional_str(message, "status_message") or "")
    return _answer(tracking, model)


def _delete(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.delete_logged_model(_model_id(message))
    return JsonResponse({})


def _set_tags(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.set_logged_model_tags(_model_id(message), dict(key_value_pairs(message, "tags")))
    return JsonResponse({})


def _delete_tag(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.delete_logged_model_tag(_model_id(message), required_str(message, "tag_key"))
    return JsonResponse({})


def _log_params(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.log_logged_model_params(_model_id(message), dict(key_value_pairs(message, "params")))
    return JsonResponse({})


def _search(tracking: TrackingService, message: Message) -> JsonResponse:
    experiment_ids = [str(e) for e in repeated(message, "experiment_ids")]
    if not experiment_ids:
        raise MlflowApiError("Missing value for required parameter 'experiment_ids'.", INVALID_PARAMETER_VALUE)
    limit = max_results(message, DEFAULT_MAX_RESULTS, MAX_RESULTS)
    matches = logged_model_filter(optional_str(message, "filter"))
    projects = [project_of_experiment(tracking, e).name for e in experiment_ids]
    found = [m for m in tracking.list_logged_models(projects) if matches(m)]
    ordered = sort_logged_models(found, repeated(message, "order_by"))
    offset = page_offset(optional_str(message, "page_token"))
    page = ordered[offset : offset + limit]
    answer: dict[str, Any] = {"models": [logged_model_json(tracking, m) for m in page]}
    if offset + limit < len(ordered):
        answer["next_page_token"] = offset_page_token(offset + limit)
    return JsonResponse(answer)


def _log_outputs(tracking: TrackingService, message: Message) -> JsonResponse:
    """A run's output models (``log_model`` sends the one it just made). Cairn links a logged
    model to the run it was logged from, so this checks the run and each model and keeps
    nothing more: an output model of another run is not recorded (docs/mlflow.md)."""
    run_id = required_str(message, "run_id")
    tracking.get_run(run_id, details=False)
    for index, item in enumerate(repeated(message, "models")):
        if not isinstance(item, dict):
            raise MlflowApiError(f"models[{index}] must be an object", INVALID_PARAMETER_VALUE)
        tracking.get_logged_model(required_str(item, "model_id"))
    return JsonResponse({})


add_message_routes(
    router,
    [
        ("POST", "/runs/outputs", _log_outputs),
        ("POST", "/logged-models", _create),
        ("POST", "/logged-models/search", _search),
        ("GET", "/logged-models/{model_id}", _get),
        ("PATCH", "/logged-models/{model_id}", _finalize),
        ("DELETE", "/logged-models/{model_id}", _delete),
        ("PATCH", "/logged-models/{model_id}/tags", _set_tags),
        ("DELETE", "/logged-models/{model_id}/tags/{tag_key:path}", _delete_tag),
        ("POST", "/logged-models/{model_id}/params", _log_params),
    ],
)
