"""MLflow's runs/search and experiments/search, on Cairn's query engine.

A run search over one experiment is one call of Cairn's own ``list_runs``: MLflow's filter and
order_by translated into Cairn's query text (filters.py), paged with Cairn's signed tokens.
Over several experiments, each experiment's runs come in turn, in the order asked for within
each (MLflow's server orders them all together; docs/mlflow.md says so), behind one page token
that remembers which experiment it is in. Experiments are few: they are filtered, sorted and
paged in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter

from cairn.core import limits
from cairn.core.entities import Project
from cairn.server.jsonresponse import JsonResponse
from cairn.server.mlflow.entities import experiment_id, experiment_json, run_json
from cairn.server.mlflow.errors import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, MlflowApiError
from cairn.server.mlflow.experiments import project_of_experiment
from cairn.server.mlflow.filters import (
    filter_experiments,
    sort_experiments,
    translate_order_by,
    translate_run_filter,
)
from cairn.server.mlflow.inputs import inputs_of_runs
from cairn.server.mlflow.wire import (
    Message,
    add_message_routes,
    decode_page_token,
    encode_page_token,
    max_results,
    offset_page_token,
    optional_str,
    page_offset,
    repeated,
)
from cairn.service.tracking import TrackingService

router = APIRouter()

ACTIVE_ONLY, DELETED_ONLY, ALL = "ACTIVE_ONLY", "DELETED_ONLY", "ALL"
#: MLflow's own bounds of max_results (mlflow.store.tracking): runs, and experiments.
MAX_RUNS_PER_PAGE = 50_000
DEFAULT_RUNS_PER_PAGE = 1000
MAX_EXPERIMENTS_PER_PAGE = 50_000
DEFAULT_EXPERIMENTS_PER_PAGE = 1000


def _view_type(message: Message) -> str:
    view = optional_str(message, "run_view_type") or optional_str(message, "view_type") or ACTIVE_ONLY
    if view not in (ACTIVE_ONLY, DELETED_ONLY, ALL):
        raise MlflowApiError(
            f"Invalid view type {view!r}: one of ACTIVE_ONLY, DELETED_ONLY, ALL", INVALID_PARAMETER_VALUE
        )
    return view


# -- runs ---------------------------------------------------------------------------------------


def _search_runs(tracking: TrackingService, message: Message) -> JsonResponse:
    experiment_ids = [str(e) for e in repeated(message, "experiment_ids")]
    if not experiment_ids:
        raise MlflowApiError("experiment_ids must be a non-empty list", INVALID_PARAMETER_VALUE)
    view = _view_type(message)
    wanted = max_results(message, DEFAULT_RUNS_PER_PAGE, MAX_RUNS_PER_PAGE)
    where = translate_run_filter(optional_str(message, "filter"))
    order_by = translate_order_by([str(o) for o in repeated(message, "order_by")])
    position = decode_page_token(optional_str(message, "page_token"))
    index, inner = position.get("e", 0), position.get("t")
    if (
        not isinstance(index, int)
        or not 0 <= index < len(experiment_ids)
        or not (inner is None or isinstance(inner, str))
    ):
        raise MlflowApiError("Invalid page token", INVALID_PARAMETER_VALUE)

    runs: list[dict[str, Any]] = []
    next_position: dict[str, Any] | None = None
    while index < len(experiment_ids):
        try:
            project = project_of_experiment(tracking, experiment_ids[index])
        except MlflowApiError as missing:
            if missing.mlflow_code != RESOURCE_DOES_NOT_EXIST:
                raise
            project = None  # as MLflow's server: an experiment that is not there has no runs
        if project is not None:
            page = tracking.list_runs(
                project.id,
                where=where,
                order_by=order_by,
                include_deleted=view != ACTIVE_ONLY,
                limit=min(wanted - len(runs), limits.MAX_PAGE_SIZE),
                page_token=inner,
            )
            shown = [run for run in page.items if view != DELETED_ONLY or run.deleted]
            inputs = inputs_of_runs(tracking, project.id, (run.id for run in shown))
            # A page of deleted runs may come up short.
            runs.extend(run_json(run, inputs=inputs.get(run.id)) for run in shown)
            if page.next_page_token is not None:
                next_position = {"e": index, "t": page.next_page_token}
                break
        index, inner = index + 1, None
        if len(runs) >= wanted:
            if index < len(experiment_ids):
                next_position = {"e": index}
            break
    answer: dict[str, Any] = {"runs": runs} if runs else {}
    if next_position is not None:
        answer["next_page_token"] = encode_page_token(next_position)
    return JsonResponse(answer)


# -- experiments ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Experiment:
    """What filters.py reads of an experiment, and the project it is."""

    project: Project
    tags: dict[str, str]

    @property
    def experiment_id(self) -> str:
        return experiment_id(self.project.id, self.project.name)

    @property
    def name(self) -> str:
        return self.project.name

    @property
    def creation_time(self) -> int | None:
        return self.project.created_at

    @property
    def last_update_time(self) -> int | None:
        return max(self.project.created_at, self.project.last_activity or 0)


def _search_experiments(tracking: TrackingService, message: Message) -> JsonResponse:
    view = _view_type(message)
    wanted = max_results(message, DEFAULT_EXPERIMENTS_PER_PAGE, MAX_EXPERIMENTS_PER_PAGE)
    offset = page_offset(optional_str(message, "page_token"))
    projects = [
        p for p in tracking.list_projects(include_deleted=view != ACTIVE_ONLY) if view != DELETED_ONLY or p.deleted
    ]
    tags = tracking.tags_of_projects(projects)
    experiments = [_Experiment(p, tags[p.id]) for p in projects]
    chosen = filter_experiments(experiments, optional_str(message, "filter"))
    ordered = sort_experiments(chosen, [str(o) for o in repeated(message, "order_by")])
    page = ordered[offset : offset + wanted]
    answer: dict[str, Any] = {"experiments": [experiment_json(e.project, tags=e.tags) for e in page]}
    if offset + wanted < len(ordered):
        answer["next_page_token"] = offset_page_token(offset + wanted)
    return JsonResponse(answer)


add_message_routes(
    router,
    [
        ("POST", "/runs/search", _search_runs),
        ("POST", "/experiments/search", _search_experiments),
        ("GET", "/experiments/search", _search_experiments),
    ],
)
