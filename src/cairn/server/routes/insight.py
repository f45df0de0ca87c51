"""Already tried, near misses, what changed: /api/v1/runs/duplicates and /api/v1/runs/{id}/…

Included before the runs router, so that ``/runs/duplicates`` is not read as a run id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cairn.core import limits
from cairn.core.wire import diff_to_wire, run_to_wire, similar_to_wire
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import DIGEST_RULE, DiffOut, DuplicateList, NearestOut, ProjectQuery, RunId, SimilarList

router = APIRouter(prefix="/runs", tags=["insight"], route_class=JsonRoute)
Limit = Annotated[int, Query(ge=1, le=limits.MAX_PAGE_SIZE)]


@router.get(
    "/duplicates",
    responses=error_responses(400, 503),
    response_model=DuplicateList,
    summary="Finished runs of a project with this fingerprint (runs that already tried a config)",
)
def find_duplicates(
    service: TrackingDep,
    project: ProjectQuery,
    # Checked by the service, so that a bad one is invalid_value here as in embedded mode.
    fingerprint: Annotated[
        str, Query(max_length=1000, description="see docs/insight.md", json_schema_extra=DIGEST_RULE)
    ],
    limit: Limit = 5,
) -> JsonResponse:
    runs = service.find_duplicates(project, fingerprint, limit)
    return JsonResponse({"runs": [run_to_wire(r) for r in runs]})


@router.get(
    "/{run_id}/similar",
    responses=error_responses(400, 404, 503),
    response_model=SimilarList,
    summary="Earlier runs of the same project nearest by param distance",
)
def similar_runs(run_id: RunId, service: TrackingDep, limit: Limit = 5) -> JsonResponse:
    return JsonResponse(similar_to_wire(service.similar_runs(run_id, limit)))


@router.get(
    "/{run_id}/nearest",
    responses=error_responses(400, 404, 503),
    response_model=NearestOut,
    summary="The run's nearest earlier run (run and distance are null when it has none)",
)
def nearest_run(run_id: RunId, service: TrackingDep) -> JsonResponse:
    nearest = service.similar_runs(run_id, 1)
    if not nearest:
        return JsonResponse({"run": None, "distance": None})
    return JsonResponse({"run": run_to_wire(nearest[0].run), "distance": nearest[0].distance})


@router.get(
    "/{run_id}/diff",
    responses=error_responses(400, 404, 503),
    response_model=DiffOut,
    summary="What changed from another run (by default the nearest earlier one) to this run",
)
def diff_runs(
    run_id: RunId,
    service: TrackingDep,
    against: Annotated[str | None, Query(min_length=1, max_length=64, description="the baseline run's id")] = None,
) -> JsonResponse:
    return JsonResponse(diff_to_wire(service.diff_runs(run_id, against)))
