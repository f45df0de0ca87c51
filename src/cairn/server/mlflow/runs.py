"""MLflow's runs, params, tags and metrics, on Cairn's runs.

What differs from Cairn's own API, and why it is done here:

- MLflow's params are text and immutable; changing one is MLflow's INVALID_PARAMETER_VALUE,
  not Cairn's conflict;
- ``mlflow.runName``, ``mlflow.user`` and ``mlflow.note.content`` are the run's name, user
  and notes (setting the first or the last changes the run; the user is whoever signed in, as
  on every route);
- ``mlflow.parentRunId`` (nested runs) also makes the run a child of that run in Cairn;
- a metric request is one batch with a fresh client id: MLflow's client does not resend a
  request that was answered, so there is nothing to recognise;
- log-batch keeps MLflow's own limits (1000 metrics, 100 params, 100 tags, 1000 in all).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
from fastapi import APIRouter

from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.errors import ParamConflict, RunNotActive
from cairn.core.limits import wire_float
from cairn.core.metrics import MetricBatch, MetricColumns, MetricHistory
from cairn.server.jsonresponse import JsonResponse
from cairn.server.mlflow.entities import (
    DEFAULT_EXPERIMENT_ID,
    NOTE_TAG,
    RUN_FIELD_TAGS,
    RUN_NAME_TAG,
    inputs_json,
    param_text,
    run_info_json,
    run_json,
)
from cairn.server.mlflow.errors import INVALID_PARAMETER_VALUE, MlflowApiError
from cairn.server.mlflow.experiments import project_of_experiment
from cairn.server.mlflow.wire import (
    Handler,
    Message,
    add_message_routes,
    key_value_pairs,
    metric_value,
    optional_int,
    optional_str,
    optional_text,
    repeated,
    required_int,
    required_str,
)
from cairn.service.tracking import TrackingService

router = APIRouter()

PARENT_RUN_TAG = "mlflow.parentRunId"
#: MLflow's own limits of one log-batch request (mlflow.utils.validation).
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
#: The most points one get-history-bulk-interval answers per run, as MLflow's server.
MAX_BULK_INTERVAL_RESULTS = 2500
MAX_BULK_INTERVAL_RUNS = 100

_EMPTY: dict[str, Any] = {}


def _run_id(message: Message) -> str:
    """The run a request names: ``run_id``, or ``run_uuid`` as older clients send it."""
    found = optional_str(message, "run_id") or optional_str(message, "run_uuid")
    if not found:
        return required_str(message, "run_id")
    return found


def _status(message: Message) -> RunStatus | None:
    text = optional_str(message, "status")
    if text is None:
        return None
    try:
        return RunStatus(text.lower())
    except ValueError:
        if text.upper() == "SCHEDULED":
            raise MlflowApiError("A run cannot be set back to SCHEDULED") from None
        raise MlflowApiError(f"Invalid value {text!r} for parameter 'status' supplied") from None


def _to_active_run(handler: Handler) -> Handler:
    """MLflow answers a write to a deleted run with INVALID_PARAMETER_VALUE (the run named is
    the bad value); a run that merely ended keeps Cairn's INVALID_STATE (docs/mlflow.md)."""

    @functools.wraps(handler)
    def checked(tracking: TrackingService, message: Message) -> JsonResponse:
        try:
            return handler(tracking, message)
        except RunNotActive as exc:
            if not exc.details.get("deleted"):
                raise
            run_id = exc.details.get("run_id")
            message_text = f"The run {run_id} must be in the 'active' state. Current state is deleted."
            raise MlflowApiError(message_text, INVALID_PARAMETER_VALUE) from None

    return checked


# -- runs -----------------------------------------------------------------------------------


def _create(tracking: TrackingService, message: Message) -> JsonResponse:
    exp_id = optional_str(message, "experiment_id") or DEFAULT_EXPERIMENT_ID
    project = project_of_experiment(tracking, exp_id)
    tags = dict(key_value_pairs(message, "tags"))
    name = optional_str(message, "run_name") or tags.get(RUN_NAME_TAG) or None
    user = optional_str(message, "user_id") or None
    parent_id = tags.get(PARENT_RUN_TAG) or None
    stored_tags = {key: value for key, value in tags.items() if key not in RUN_FIELD_TAGS}
    run = tracking.create_run(
        project.name,
        name=name,
        user=user,
        tags=stored_tags,
        notes=tags.get(NOTE_TAG, ""),
        parent_id=parent_id,
        start_time=optional_int(message, "start_time"),
    )
    return JsonResponse({"run": run_json(run)})


def _get(tracking: TrackingService, message: Message) -> JsonResponse:
    run = tracking.get_run(_run_id(message))
    inputs = inputs_json(tracking.run_inputs(run.id))
    outputs = [m.id for m in tracking.run_logged_models(run.id) if m.source_run_id == run.id]
    return JsonResponse({"run": run_json(run, inputs=inputs, output_models=outputs)})


@_to_active_run
def _update(tracking: TrackingService, message: Message) -> JsonResponse:
    run_id = _run_id(message)
    update = RunUpdate(
        status=_status(message),
        name=optional_str(message, "run_name") or None,
        end_time=optional_int(message, "end_time"),
    )
    run = tracking.update_run(run_id, update)
    return JsonResponse({"run_info": run_info_json(run)})


def _delete(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.delete_run(_run_id(message))
    return JsonResponse(_EMPTY)


def _restore(tracking: TrackingService, message: Message) -> JsonResponse:
    tracking.restore_run(_run_id(message))
    return JsonResponse(_EMPTY)


# -- params, tags, metrics ------------------------------------------------------------------


def _log_params(tracking: TrackingService, run_id: str, params: Mapping[str, str]) -> None:
    try:
        tracking.log_params(run_id, params)
    except ParamConflict:
        stored = tracking.get_run(run_id).params
        changed = [key for key, value in params.items() if key in stored and param_text(stored[key]) != value]
        detail = "; ".join(
            f"key={key!r} was already logged with value={param_text(stored[key])!r}, not {params[key]!r}"
            for key in changed[:5]
        )
        raise MlflowApiError(
            f"Changing param values is not allowed (run ID={run_id!r}): {detail}", INVALID_PARAMETER_VALUE
        ) from None


def _set_tags(tracking: TrackingService, run_id: str, tags: Mapping[str, str]) -> None:
    name, notes = tags.get(RUN_NAME_TAG) or None, tags.get(NOTE_TAG)
    if name is not None or notes is not None:
        tracking.update_run(run_id, RunUpdate(name=name, notes=notes))
    stored = {key: value for key, value in tags.items() if key not in RUN_FIELD_TAGS}
    if stored:
        tracking.set_tags(run_id, stored)


def _metric_batch(points: list[tuple[str, float, int, int]]) -> MetricBatch:
    """Points (key, value, timestamp, step) as columns per key, in the order they came."""
    by_key: dict[str, list[tuple[float, int, int]]] = {}
    for key, value, timestamp, step in points:
        by_key.setdefault(key, []).append((value, timestamp, step))
    columns = [
        MetricColumns(
            key=key,
            values=np.array([p[0] for p in rows], dtype=np.float64),
            timestamps=np.array([p[1] for p in rows], dtype=np.int64),
            steps=np.array([p[2] for p in rows], dtype=np.int64),
        )
        for key, rows in by_key.items()
    ]
    return MetricBatch(client_id=f"mlflow-{uuid.uuid4().hex}", seq=0, columns=columns)


def _metric_point(item: Message) -> tuple[str, float, int, int]:
    key = required_str(item, "key")
    return key, metric_value(item), required_int(item, "timestamp"), optional_int(item, "step") or 0


@_to_active_run
def _log_metric(tracking: TrackingService, message: Message) -> JsonResponse:
    run_id = _run_id(message)
    tracking.log_metrics(run_id, _metric_batch([_metric_point(message)]))
    return JsonResponse(_EMPTY)


@_to_active_run
def _log_parameter(tracking: TrackingService, message: Message) -> JsonResponse:
    run_id = _run_id(message)
    key = required_str(message, "key")
    _log_params(tracking, run_id, {key: optional_text(message, "value")})
    return JsonResponse(_EMPTY)


def _check_batch_limit(what: str, count: int, limit: int) -> None:
    if count > limit:
        raise MlflowApiError(
            f"A batch logging request can contain at most {limit} {what}. Got {count} {what}. "
            f"Please split up {what} across multiple requests and try again.",
            INVALID_PARAMETER_VALUE,
        )


@_to_active_run
def _log_batch(tracking: TrackingService, message: Message) -> JsonResponse:
    run_id = _run_id(message)
    metric_items = repeated(message, "metrics")
    params = key_value_pairs(message, "params")
    tags = key_value_pairs(message, "tags")
    _check_batch_limit("metrics", len(metric_items), MAX_METRICS_PER_BATCH)
    _check_batch_limit("params", len(params), MAX_PARAMS_TAGS_PER_BATCH)
    _check_batch_limit("tags", len(tags), MAX_PARAMS_TAGS_PER_BATCH)
    _check_batch_limit("metrics, params, and tags", len(metric_items) + len(params) + len(tags), MAX_ENTITIES_PER_BATCH)
    points: list[tuple[str, float, int, int]] = []
    linked: list[tuple[str, float, int, int]] = []
    for index, item in enumerate(metric_items):
        if not isinstance(item, dict):
            raise MlflowApiError(f"metrics[{index}] must be an object")
        (linked if item.get("model_id") else points).append(_metric_point(item))
    points += _new_points(tracking, run_id, linked)
    unique_params: dict[str, str] = {}
    for key, value in params:
        if unique_params.setdefault(key, value) != value:
            raise MlflowApiError(f"Duplicate parameter keys have been submitted: {key!r}, with different values")
    # Params first: a changed param refuses the batch before anything of it is stored.
    _log_params(tracking, run_id, unique_params)
    if tags:
        _set_tags(tracking, run_id, dict(tags))
    if points:
        tracking.log_metrics(run_id, _metric_batch(points))
    return JsonResponse(_EMPTY)


def _new_points(
    tracking: TrackingService, run_id: str, linked: list[tuple[str, float, int, int]]
) -> list[tuple[str, float, int, int]]:
    """Of points sent with a ``model_id``, those the run lacks. ``log_model`` sends the run's
    points at its step again, each tagged with the new model (MLflow's store keeps one row per
    identical point); Cairn links a logged model to its source run instead, so a copy of a point
    the run has is not a second point."""
    if not linked:
        return []
    have: set[tuple[str, float, int, int]] = set()
    for key in {point[0] for point in linked}:
        history = tracking.get_metric_history(run_id, key)
        have.update(
            (key, float(v), int(t), int(s))
            for s, t, v in zip(history.steps, history.timestamps, history.values, strict=True)
        )
    return [point for point in linked if point not in have]


@_to_active_run
def _set_tag(tracking: TrackingService, message: Message) -> JsonResponse:
    run_id = _run_id(message)
    key = required_str(message, "key")
    _set_tags(tracking, run_id, {key: optional_text(message, "value")})
    return JsonResponse(_EMPTY)


@_to_active_run
def _delete_tag(tracking: TrackingService, message: Message) -> JsonResponse:
    run_id = _run_id(message)
    key = required_str(message, "key")
    run = tracking.get_run(run_id)
    if key == NOTE_TAG and run.notes:
        tracking.update_run(run_id, RunUpdate(notes=""))
        return JsonResponse(_EMPTY)
    if key not in run.tags:
        raise MlflowApiError(f"No tag with name: {key} in run with id {run_id}", "RESOURCE_DOES_NOT_EXIST")
    tracking.delete_tag(run_id, key)
    return JsonResponse(_EMPTY)


# -- histories ------------------------------------------------------------------------------


def _history_points(history: MetricHistory) -> list[dict[str, Any]]:
    key = history.key
    return [
        {"key": key, "value": wire_float(float(value)), "timestamp": int(timestamp), "step": int(step)}
        for step, timestamp, value in zip(history.steps, history.timestamps, history.values, strict=True)
    ]


def _get_history(tracking: TrackingService, message: Message) -> JsonResponse:
    run_id = _run_id(message)
    key = required_str(message, "metric_key")
    max_results = optional_int(message, "max_results")
    token = optional_str(message, "page_token")
    offset = 0
    if token:
        if not token.isdigit():
            raise MlflowApiError(f"Invalid page token {token[:50]!r}")
        offset = int(token)
    if max_results is not None and max_results < 1:
        raise MlflowApiError(f"Invalid value {max_results} for parameter 'max_results': it must be at least 1")
    history = tracking.get_metric_history(run_id, key, offset=offset, limit=max_results)
    answer: dict[str, Any] = {"metrics": _history_points(history)}
    if max_results is not None and history.next_offset is not None:
        answer["next_page_token"] = str(history.next_offset)
    return JsonResponse(answer)


def _get_history_bulk_interval(tracking: TrackingService, message: Message) -> JsonResponse:
    run_ids = [str(run_id) for run_id in repeated(message, "run_ids")]
    if not run_ids:
        raise MlflowApiError("GetMetricHistoryBulkInterval request must specify at least one run_id.")
    if len(run_ids) > MAX_BULK_INTERVAL_RUNS:
        raise MlflowApiError(
            f"GetMetricHistoryBulkInterval request cannot specify more than {MAX_BULK_INTERVAL_RUNS} run_ids."
        )
    key = required_str(message, "metric_key")
    start_step = optional_int(message, "start_step")
    end_step = optional_int(message, "end_step")
    if (start_step is None) != (end_step is None):
        raise MlflowApiError("If either start step or end step are specified, both must be specified.")
    if start_step is not None and end_step is not None and start_step > end_step:
        raise MlflowApiError("end_step must be greater than start_step.")
    max_results = optional_int(message, "max_results") or MAX_BULK_INTERVAL_RESULTS
    if not 1 <= max_results <= MAX_BULK_INTERVAL_RESULTS:
        raise MlflowApiError(f"max_results must be between 1 and {MAX_BULK_INTERVAL_RESULTS}.")
    metrics = []
    for run_id in run_ids:
        # Downsampled by Cairn's envelope (each bucket's lowest and highest value), so a spike
        # survives where MLflow's evenly spaced steps might skip it.
        history = tracking.get_metric_history(
            run_id, key, step_min=start_step, step_max=end_step, max_points=max_results
        )
        metrics += [{**point, "run_id": run_id} for point in _history_points(history)]
    return JsonResponse({"metrics": metrics})


# -- routes ---------------------------------------------------------------------------------


add_message_routes(
    router,
    [
        ("POST", "/runs/create", _create),
        ("GET", "/runs/get", _get),
        ("POST", "/runs/update", _update),
        ("POST", "/runs/delete", _delete),
        ("POST", "/runs/restore", _restore),
        ("POST", "/runs/log-metric", _log_metric),
        ("POST", "/runs/log-parameter", _log_parameter),
        ("POST", "/runs/log-batch", _log_batch),
        ("POST", "/runs/set-tag", _set_tag),
        ("POST", "/runs/delete-tag", _delete_tag),
        ("GET", "/metrics/get-history", _get_history),
        ("GET", "/metrics/get-history-bulk-interval", _get_history_bulk_interval),
    ],
)
