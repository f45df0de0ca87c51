"""Metric ingest and history: /api/v1/runs/{run_id}/metrics.

Ingest reads the body itself instead of through a pydantic model: a batch can hold hundreds of
thousands of points, and validating them one object at a time would cost more than storing
them. :func:`cairn.core.wire.batch_from_wire` checks the same rules on columns.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from cairn.core import binary_batch, limits
from cairn.core.wire import batch_from_wire, history_to_wire, ingest_result_to_wire
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute, read_json_or_refuse
from cairn.server.schemas import KEY_RULE, HistoryOut, IngestOut, MetricBatchIn, RunId
from cairn.server.streaming import decoded_body
from cairn.service.tracking import TrackingService

router = APIRouter(prefix="/runs/{run_id}/metrics", tags=["metrics"], route_class=JsonRoute)
Step = Annotated[int | None, Query(ge=limits.MIN_INT64, lt=limits.MAX_INT64 + 1)]


def _inline_schema(model: Any) -> dict[str, Any]:
    """The model's JSON schema with its $defs inlined, for a hand-declared request body."""
    schema: dict[str, Any] = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inline_schema(MetricBatchIn)},
            binary_batch.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "JSON, or the packed format of docs/api.md (what the SDK sends); either may be "
        "sent with Content-Encoding: gzip.",
    }
}


@router.post(
    "",
    responses=error_responses(400, 404, 409, 413, 503),
    response_model=IngestOut,
    summary="Append a batch of metric points (idempotent by client_id and seq)",
    openapi_extra=_BATCH_BODY,
)
async def log_metrics(run_id: RunId, request: Request, service: TrackingDep) -> JsonResponse:
    body = await request.body()
    encoding = request.headers.get("content-encoding", "identity").lower()
    media_type = request.headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    result = await run_in_threadpool(_ingest, service, run_id, body, encoding, media_type)
    return JsonResponse(ingest_result_to_wire(result))


def _ingest(service: TrackingService, run_id: str, body: bytes, encoding: str, media_type: str) -> Any:
    body = decoded_body(body, encoding)
    if media_type == binary_batch.MEDIA_TYPE:
        return service.log_metrics(run_id, binary_batch.decode_batch(body))
    return service.log_metrics(run_id, batch_from_wire(read_json_or_refuse(body)))


@router.get(
    "/history",
    responses=error_responses(400, 404, 503),
    response_model=HistoryOut,
    summary="A metric's points, full, paged or downsampled",
)
def get_history(
    run_id: RunId,
    service: TrackingDep,
    key: Annotated[str, Query(description="the metric key", json_schema_extra=KEY_RULE)],
    step_min: Step = None,
    step_max: Step = None,
    max_points: Annotated[
        int | None,
        Query(
            ge=1,
            le=limits.MAX_HISTORY_POINTS,
            description="return at most this many points: the envelope of the window (first, last, "
            "min and max of each bucket) when it holds more",
        ),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=limits.MAX_HISTORY_POINTS)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=limits.MAX_HISTORY_POINTS)] = None,
) -> JsonResponse:
    history = service.get_metric_history(
        run_id, key, step_min=step_min, step_max=step_max, max_points=max_points, offset=offset, limit=limit
    )
    return JsonResponse(history_to_wire(history))
