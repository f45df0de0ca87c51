"""A run's artifacts and inputs: /api/v1/runs/{id}/artifacts, /api/v1/runs/{id}/datasets,
and a project's datasets: /api/v1/datasets?project=NAME (a query parameter, since project
names may hold slashes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from cairn.core import limits
from cairn.core.artifacts import ArtifactEntry
from cairn.core.wire import (
    artifact_to_wire,
    dataset_spec_from_wire,
    dataset_version_to_wire,
    run_input_to_wire,
)
from cairn.server.archive import ARCHIVE_ANSWER, archive_response
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import (
    NAME_RULE,
    PATH_OR_EMPTY_RULE,
    PATH_RULE,
    ArtifactList,
    ArtifactsIn,
    DatasetVersionList,
    DatasetVersionOut,
    ProjectQuery,
    RunDatasetIn,
    RunId,
    RunInputList,
)
from cairn.server.streaming import artifact_download

router = APIRouter(tags=["artifacts"], route_class=JsonRoute)
FilePath = Annotated[str, Path(json_schema_extra=PATH_RULE)]


@router.post(
    "/runs/{run_id}/artifacts",
    response_model=ArtifactList,
    responses=error_responses(400, 404, 409, 413, 503),
    summary="Register uploaded files as artifacts",
)
def log_artifacts(run_id: RunId, body: ArtifactsIn, service: TrackingDep) -> JsonResponse:
    entries = [ArtifactEntry(a.path, a.digest, a.size, a.kind, a.media_type, a.meta) for a in body.artifacts]
    artifacts = service.log_artifacts(run_id, entries)
    return JsonResponse({"artifacts": [artifact_to_wire(a) for a in artifacts]})


@router.get(
    "/runs/{run_id}/artifacts",
    response_model=ArtifactList,
    responses=error_responses(400, 404, 503),
    summary="A run's files at a path or below it",
)
def list_artifacts(
    run_id: RunId,
    service: TrackingDep,
    path: Annotated[
        str, Query(description="a file or folder; empty for all", json_schema_extra=PATH_OR_EMPTY_RULE)
    ] = "",
) -> JsonResponse:
    return JsonResponse({"artifacts": [artifact_to_wire(a) for a in service.list_artifacts(run_id, path)]})


@router.get(
    "/runs/{run_id}/artifacts/archive",
    summary="A folder's files in one response, as a tar",
    response_class=Response,
    responses={200: ARCHIVE_ANSWER, **error_responses(400, 404, 503)},
)
def download_archive(
    run_id: RunId,
    service: TrackingDep,
    path: Annotated[
        str, Query(description="a file or folder; empty for all", json_schema_extra=PATH_OR_EMPTY_RULE)
    ] = "",
) -> Response:
    opened = service.open_artifact_folder(run_id, path)
    return archive_response(opened, (path.rstrip("/").rsplit("/", 1)[-1] or run_id) + ".tar")


@router.get(
    "/runs/{run_id}/artifacts/files/{path:path}",
    summary="Download an artifact (Range requests supported; may redirect to S3)",
    response_class=Response,
    responses={
        200: {"description": "the bytes, as the media type they were logged with", "content": {"*/*": {}}},
        206: {"description": "the requested range", "content": {"*/*": {}}},
        307: {"description": "a presigned URL of the blob store (--presign-downloads)"},
        **error_responses(400, 404, 503),
    },
)
def download_artifact(run_id: RunId, path: FilePath, request: Request, service: TrackingDep) -> Response:
    return artifact_download(service.get_artifact(run_id, path), request, service)


@router.post(
    "/runs/{run_id}/datasets",
    response_model=DatasetVersionOut,
    responses=error_responses(400, 404, 409, 413, 503),
    summary="Record a dataset the run used",
)
def log_dataset(run_id: RunId, body: RunDatasetIn, service: TrackingDep) -> JsonResponse:
    spec = dataset_spec_from_wire(body.dataset.model_dump(by_alias=True))
    return JsonResponse(dataset_version_to_wire(service.log_dataset(run_id, spec, body.context)))


@router.get(
    "/runs/{run_id}/inputs",
    response_model=RunInputList,
    responses=error_responses(400, 404, 503),
    summary="The dataset versions a run used",
)
def run_inputs(run_id: RunId, service: TrackingDep) -> JsonResponse:
    return JsonResponse({"inputs": [run_input_to_wire(i) for i in service.run_inputs(run_id)]})


@router.get(
    "/datasets",
    responses=error_responses(400, 404, 503),
    response_model=DatasetVersionList,
    summary="A project's dataset versions and the runs that used each",
)
def list_datasets(
    project: ProjectQuery,
    service: TrackingDep,
    name: Annotated[str | None, Query(max_length=limits.MAX_NAME_LENGTH, json_schema_extra=NAME_RULE)] = None,
) -> JsonResponse:
    versions = service.list_datasets(project, name)
    return JsonResponse({"versions": [dataset_version_to_wire(v) for v in versions]})
