"""Prediction logs: the Parquet files ``cairn serve`` writes of a model version's predictions,
one per version, hour and flush (docs/prediction-logs.md).

A file is sent as the raw body (``application/vnd.apache.parquet``), read whole: it is checked
with pyarrow before anything is kept, which needs all of it, and the body limit (64 MiB) bounds
it. Reading one back answers the bytes as they were sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from cairn.core import limits
from cairn.core.prediction_logs import (
    DEFAULT_PREDICTION_LOG_PAGE,
    FILE_ID_PATTERN,
    HOUR_MS,
    MAX_PAGE_TOKEN_LENGTH,
    MAX_PREDICTION_LOG_PAGE,
    MEDIA_TYPE,
    PAGE_TOKEN_PATTERN,
    prediction_log_to_wire,
)
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import ModelName, PredictionLogList, PredictionLogOut, VersionNumber
from cairn.server.streaming import decoded_body

router = APIRouter(tags=["prediction logs"], route_class=JsonRoute)

Millis = Annotated[int | None, Query(ge=0, lt=limits.MAX_INT64 + 1)]
FileId = Annotated[str, Path(min_length=32, max_length=32, json_schema_extra={"pattern": FILE_ID_PATTERN})]
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {MEDIA_TYPE: _BINARY},
        "description": "a Parquet file with the columns request_id, timestamp_ms, latency_ms and model_version "
        "besides the inputs and predictions (docs/prediction-logs.md); it may be sent with Content-Encoding: gzip.",
    }
}


@router.post(
    "/models/{name}/versions/{version}/prediction-logs",
    responses=error_responses(400, 404, 413, 503),
    response_model=PredictionLogOut,
    status_code=201,
    summary="Keep a Parquet file of a version's predictions within one UTC hour",
    openapi_extra=_FILE_BODY,
)
async def log_predictions(
    name: ModelName,
    version: VersionNumber,
    request: Request,
    service: TrackingDep,
    hour_ms: Annotated[
        int,
        Query(
            ge=0,
            lt=limits.MAX_INT64 + 1,
            multiple_of=HOUR_MS,
            description="the start of the UTC hour (ms) every prediction in the file falls within",
        ),
    ],
) -> JsonResponse:
    body = await request.body()
    encoding = request.headers.get("content-encoding", "identity").lower()
    logged = await run_in_threadpool(
        lambda: service.log_predictions(name, version, hour_ms, decoded_body(body, encoding))
    )
    return JsonResponse(prediction_log_to_wire(logged), status_code=201)


@router.get(
    "/models/{name}/prediction-logs",
    responses=error_responses(400, 404, 503),
    response_model=PredictionLogList,
    summary="A model's prediction log files that hold a prediction in a window, oldest first",
)
def list_prediction_logs(
    name: ModelName,
    service: TrackingDep,
    version: Annotated[int | None, Query(ge=1, lt=limits.MAX_INT64 + 1, description="one version's files only")] = None,
    since_ms: Millis = None,
    until_ms: Millis = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PREDICTION_LOG_PAGE)] = DEFAULT_PREDICTION_LOG_PAGE,
    page_token: Annotated[
        str | None,
        Query(json_schema_extra={"pattern": PAGE_TOKEN_PATTERN, "maxLength": MAX_PAGE_TOKEN_LENGTH}),
    ] = None,
) -> JsonResponse:
    page = service.list_prediction_logs(
        name, version, since_ms=since_ms, until_ms=until_ms, limit=limit, page_token=page_token
    )
    files = [prediction_log_to_wire(f) for f in page.items]
    return JsonResponse({"files": files, "next_page_token": page.next_page_token})


@router.get(
    "/models/{name}/versions/{version}/prediction-logs/{file_id}",
    response_class=Response,
    responses={
        200: {"description": "the Parquet file", "content": {MEDIA_TYPE: _BINARY}},
        **error_responses(400, 404, 503),
    },
    summary="The bytes of one prediction log file",
)
def read_prediction_log(name: ModelName, version: VersionNumber, file_id: FileId, service: TrackingDep) -> Response:
    return Response(service.read_prediction_log(name, version, file_id), media_type=MEDIA_TYPE)
