"""A run's artifacts and inputs: /api/v1/runs/{id}/artifacts, /api/v1/runs/{id}/datasets,
and a project's datasets: /api/v1/datasets?project=NAME (a query parameter, since project
names may hold slashes)."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from cairn.core import limits
from cairn.core.artifacts import MAX_ARTIFACTS_PER_REQUEST, ArtifactEntry
from cairn.core.wire import (
    artifact_to_wire,
    dataset_spec_from_wire,
    dataset_version_to_wire,
    run_input_to_wire,
)
from cairn.server.deps import tracking
from cairn.server.jsonresponse import JsonResponse
from cairn.server.schemas import ERROR_RESPONSES, Strict
from cairn.server.streaming import parse_range
from cairn.service.tracking import TrackingService

router = APIRouter(tags=["artifacts"], responses=ERROR_RESPONSES)
Tracking = Annotated[TrackingService, Depends(tracking)]
RunId = Annotated[str, Path(min_length=1, max_length=64)]


class ArtifactIn(Strict):
    path: str = Field(max_length=2000)
    digest: str = Field(max_length=100)
    size: int = Field(ge=0)
    kind: str = Field(default="file", max_length=32)
    media_type: str = Field(default="", max_length=250)
    meta: dict[str, Any] = Field(default_factory=dict)


class ArtifactsIn(Strict):
    artifacts: list[ArtifactIn] = Field(max_length=MAX_ARTIFACTS_PER_REQUEST)


class ArtifactOut(BaseModel):
    run_id: str
    path: str
    digest: str
    size: int
    kind: str
    media_type: str
    meta: dict[str, Any]
    created_at: int


class ArtifactList(BaseModel):
    artifacts: list[ArtifactOut]


class DatasetFileIn(Strict):
    path: str = Field(max_length=2000)
    digest: str = Field(max_length=100)
    size: int = Field(ge=0)


class DatasetIn(Strict):
    name: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    digest: str = Field(max_length=100)
    source_uri: str = Field(default="", max_length=4000)
    source_kind: str = Field(max_length=16)
    rows: int | None = Field(default=None, ge=0)
    columns: int | None = Field(default=None, ge=0)
    schema_: list[dict[str, Any]] = Field(default_factory=list, alias="schema")
    profile: dict[str, Any] = Field(default_factory=dict)
    files: list[DatasetFileIn] = Field(default_factory=list, max_length=MAX_ARTIFACTS_PER_REQUEST)
    stored: bool = False


class RunDatasetIn(Strict):
    dataset: DatasetIn
    context: str = Field(default="train", min_length=1, max_length=64)


class DatasetVersionOut(BaseModel):
    id: str
    project: str
    name: str
    digest: str
    source_uri: str
    source_kind: str
    rows: int | None
    columns: int | None
    schema_: list[dict[str, Any]] = Field(alias="schema")
    profile: dict[str, Any]
    stored: bool
    created_at: int
    file_count: int
    used_by: list[dict[str, str]]


class DatasetVersionList(BaseModel):
    versions: list[DatasetVersionOut]


class RunInputOut(BaseModel):
    dataset: DatasetVersionOut
    context: str


class RunInputList(BaseModel):
    inputs: list[RunInputOut]


@router.post("/runs/{run_id}/artifacts", response_model=ArtifactList, summary="Register uploaded files as artifacts")
def log_artifacts(run_id: RunId, body: ArtifactsIn, service: Tracking) -> JsonResponse:
    entries = [ArtifactEntry(a.path, a.digest, a.size, a.kind, a.media_type, a.meta) for a in body.artifacts]
    artifacts = service.log_artifacts(run_id, entries)
    return JsonResponse({"artifacts": [artifact_to_wire(a) for a in artifacts]})


@router.get("/runs/{run_id}/artifacts", response_model=ArtifactList, summary="A run's files at a path or below it")
def list_artifacts(
    run_id: RunId, service: Tracking, path: Annotated[str, Query(max_length=2000, description="a file or folder")] = ""
) -> JsonResponse:
    return JsonResponse({"artifacts": [artifact_to_wire(a) for a in service.list_artifacts(run_id, path)]})


@router.get(
    "/runs/{run_id}/artifacts/files/{path:path}",
    summary="Download an artifact (Range requests supported; may redirect to S3)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "the requested range"}},
)
def download_artifact(run_id: RunId, path: str, request: Request, service: Tracking) -> Response:
    artifact = service.get_artifact(run_id, path)
    if request.app.state.settings.presign_downloads:
        url = service.artifact_url(artifact)
        if url is not None:
            return RedirectResponse(url, status_code=307)
    byte_range = parse_range(request.headers.get("range"), artifact.size)
    start, end = byte_range or (0, artifact.size)
    chunks = service.blobs.read(artifact.digest, start, end)
    # Pull the first chunk here, so that bytes missing from the blob store are an error
    # envelope, not a response cut off after its headers.
    first = next(chunks, b"")
    name = artifact.path.rsplit("/", 1)[-1]
    headers = {
        "content-length": str(end - start),
        "accept-ranges": "bytes",
        "etag": f'"{artifact.digest}"',
        "x-cairn-digest": artifact.digest,
        "content-disposition": f"attachment; filename*=UTF-8''{_quote(name)}",
    }
    if byte_range is not None:
        last = f"{start}-{end - 1}" if end > start else "*"
        headers["content-range"] = f"bytes {last}/{artifact.size}"
    return StreamingResponse(
        itertools.chain([first], chunks),
        status_code=206 if byte_range is not None else 200,
        media_type=artifact.media_type or "application/octet-stream",
        headers=headers,
    )


@router.post("/runs/{run_id}/datasets", response_model=DatasetVersionOut, summary="Record a dataset the run used")
def log_dataset(run_id: RunId, body: RunDatasetIn, service: Tracking) -> JsonResponse:
    spec = dataset_spec_from_wire(body.dataset.model_dump(by_alias=True))
    return JsonResponse(dataset_version_to_wire(service.log_dataset(run_id, spec, body.context)))


@router.get("/runs/{run_id}/inputs", response_model=RunInputList, summary="The dataset versions a run used")
def run_inputs(run_id: RunId, service: Tracking) -> JsonResponse:
    return JsonResponse({"inputs": [run_input_to_wire(i) for i in service.run_inputs(run_id)]})


@router.get(
    "/datasets",
    response_model=DatasetVersionList,
    summary="A project's dataset versions and the runs that used each",
)
def list_datasets(
    project: Annotated[str, Query(min_length=1, max_length=limits.MAX_NAME_LENGTH)],
    service: Tracking,
    name: Annotated[str | None, Query(max_length=limits.MAX_NAME_LENGTH)] = None,
) -> JsonResponse:
    versions = service.list_datasets(project, name)
    return JsonResponse({"versions": [dataset_version_to_wire(v) for v in versions]})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
