"""Labels of logged predictions and the performance measured with them (docs/monitoring.md,
"Labels" and "Performance").

Labels are sent as JSON, ``{"ids": [...], "labels": [...], "timestamps": [...]}`` (timestamps
optional), or as a Parquet file of the columns ``request_id``, ``label`` and optionally
``timestamp_ms``; at most 100,000 a request, gzipped or not. The body is read by the route, not
as a pydantic parameter, so that both forms and gzip are taken. Each call is kept as one
Parquet file, which reading it back answers as it was kept. The performance report measures a
version's labelled predictions per window now, with the labels known now.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field, StrictFloat, StrictInt, ValidationError
from starlette.concurrency import run_in_threadpool

from cairn.core import limits
from cairn.core.errors import InvalidRequest
from cairn.core.prediction_labels import (
    DEFAULT_LABEL_PAGE,
    MAX_LABEL_PAGE,
    MAX_LABELS_PER_CALL,
    MAX_REQUEST_ID_LENGTH,
    PredictionLabelFile,
    label_file_to_wire,
)
from cairn.core.prediction_logs import FILE_ID_PATTERN, MAX_PAGE_TOKEN_LENGTH, MEDIA_TYPE, PAGE_TOKEN_PATTERN
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute, read_json_or_refuse
from cairn.server.schemas import ModelName, Out, Strict, VersionNumber
from cairn.server.streaming import decoded_body
from cairn.service.prediction_labels import labels_from_parquet
from cairn.service.tracking import TrackingService

router = APIRouter(tags=["monitoring"], route_class=JsonRoute)

Millis = Annotated[int | None, Query(ge=0, lt=limits.MAX_INT64 + 1)]
FileId = Annotated[str, Path(min_length=32, max_length=32, json_schema_extra={"pattern": FILE_ID_PATTERN})]
#: A monitor's window as the API takes it: whole hours from 1h to 744h, or days from 1d to 31d
#: (the Python client turns ``120m`` into ``2h``).
WINDOW_PATTERN = r"^(([1-9]|[1-9][0-9]|[1-6][0-9]{2}|7[0-3][0-9]|74[0-4])h|([1-9]|[12][0-9]|3[01])d)$"
_NO_NUL = r"^[^\u0000]*$"
_BINARY = {"schema": {"type": "string", "format": "binary"}}

RequestId = Annotated[str, Field(min_length=1, max_length=MAX_REQUEST_ID_LENGTH, pattern=_NO_NUL)]
TextLabel = Annotated[str, Field(max_length=limits.MAX_NAME_LENGTH, pattern=_NO_NUL)]


class LabelsIn(Strict):
    ids: list[RequestId] = Field(
        min_length=1, max_length=MAX_LABELS_PER_CALL, description="request ids of logged predictions"
    )
    labels: list[StrictInt | StrictFloat | TextLabel] = Field(
        min_length=1,
        max_length=MAX_LABELS_PER_CALL,
        description="one label per id, in order: all numbers or all text",
    )
    timestamps: list[Annotated[int, Field(ge=0, lt=limits.MAX_INT64 + 1)]] | None = Field(
        default=None,
        max_length=MAX_LABELS_PER_CALL,
        description="when each label was known (ms since the epoch); the time of the request when left out",
    )


class LabelFileOut(Out):
    """One file of labels (docs/monitoring.md, "Labels")."""

    id: str
    model: str
    version: int
    rows: int
    first_ms: int = Field(description="the earliest prediction time labelled")
    last_ms: int = Field(description="the latest prediction time labelled")
    size: int
    digest: str = Field(description="sha256 of the file's bytes")
    created_by: str
    created_at: int


class LabelFileList(Out):
    files: list[LabelFileOut]
    next_page_token: str | None


class PerformanceWindow(Out):
    start: str
    end: str
    rows: int = Field(description="logged predictions in the window")
    labelled: int = Field(description="of them, those with a label")
    metrics: dict[str, float] = Field(description="accuracy, f1, roc_auc (classifiers); rmse, mae (regressors)")


class PerformanceReport(Out):
    model: str
    version: int
    kind: Literal["classifier", "regressor"] | None
    windows: list[PerformanceWindow]


def _inline_schema(model: Any) -> dict[str, Any]:
    """The model's JSON schema, for a hand-declared request body (it has no $defs)."""
    schema: dict[str, Any] = model.model_json_schema()
    assert "$defs" not in schema
    return schema


_LABELS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inline_schema(LabelsIn)},
            MEDIA_TYPE: _BINARY,
        },
        "description": "JSON, or a Parquet file of the columns request_id (text), label (numbers or text) and, "
        "optionally, timestamp_ms (integers); either may be sent with Content-Encoding: gzip.",
    }
}


@router.post(
    "/models/{name}/versions/{version}/labels",
    responses=error_responses(400, 404, 413, 503),
    response_model=LabelFileOut,
    status_code=201,
    summary="Keep labels of a version's logged predictions, by request id",
    openapi_extra=_LABELS_BODY,
)
async def log_prediction_labels(
    name: ModelName, version: VersionNumber, request: Request, service: TrackingDep
) -> JsonResponse:
    body = await request.body()
    encoding = request.headers.get("content-encoding", "identity").lower()
    media_type = request.headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    logged = await run_in_threadpool(_log, service, name, version, body, encoding, media_type)
    return JsonResponse(label_file_to_wire(logged), status_code=201)


def _log(
    service: TrackingService, name: str, version: int, body: bytes, encoding: str, media_type: str
) -> PredictionLabelFile:
    # Read here rather than as a pydantic parameter: a large batch comes gzipped, or as Parquet.
    body = decoded_body(body, encoding)
    if media_type == MEDIA_TYPE:
        ids, labels, timestamps = labels_from_parquet(body)
        return service.log_prediction_labels(name, version, ids, labels, timestamps)
    try:
        given = LabelsIn.model_validate(read_json_or_refuse(body))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise InvalidRequest(
            f"body.{where}: {first.get('msg', 'invalid')}" if where else f"body: {first.get('msg', 'invalid')}",
            details={"field": where.split(".", 1)[0] if where else None},
        ) from None
    return service.log_prediction_labels(name, version, given.ids, given.labels, given.timestamps)


@router.get(
    "/models/{name}/versions/{version}/labels",
    responses=error_responses(400, 404, 503),
    response_model=LabelFileList,
    summary="A version's label files that label a prediction made in a window",
)
def list_prediction_labels(
    name: ModelName,
    version: VersionNumber,
    service: TrackingDep,
    since_ms: Millis = None,
    until_ms: Millis = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LABEL_PAGE)] = DEFAULT_LABEL_PAGE,
    page_token: Annotated[
        str | None,
        Query(json_schema_extra={"pattern": PAGE_TOKEN_PATTERN, "maxLength": MAX_PAGE_TOKEN_LENGTH}),
    ] = None,
) -> JsonResponse:
    page = service.list_prediction_labels(
        name, version, since_ms=since_ms, until_ms=until_ms, limit=limit, page_token=page_token
    )
    files = [label_file_to_wire(f) for f in page.items]
    return JsonResponse({"files": files, "next_page_token": page.next_page_token})


@router.get(
    "/models/{name}/versions/{version}/labels/{file_id}",
    response_class=Response,
    responses={
        200: {
            "description": "the Parquet file",
            "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(400, 404, 503),
    },
    summary="The bytes of one label file",
)
def read_prediction_labels(name: ModelName, version: VersionNumber, file_id: FileId, service: TrackingDep) -> Response:
    return Response(service.read_prediction_labels(name, version, file_id), media_type=MEDIA_TYPE)


@router.get(
    "/models/{name}/versions/{version}/performance",
    responses=error_responses(400, 404, 503),
    response_model=PerformanceReport,
    summary="Performance per window of a version's labelled predictions, measured now",
)
async def performance_report(
    name: ModelName,
    version: VersionNumber,
    service: TrackingDep,
    window: Annotated[str, Query(max_length=4, pattern=WINDOW_PATTERN)] = "1d",
    start_ms: Millis = None,
    end_ms: Millis = None,
) -> JsonResponse:
    report = await run_in_threadpool(service.performance_report, name, version, window, start_ms, end_ms)
    return JsonResponse(report)
