"""MLflow's proxied artifact API (``/api/2.0/mlflow-artifacts/...``), on Cairn's run artifacts.

A run's ``artifact_uri`` is ``mlflow-artifacts:/<experiment_id>/<run_id>/artifacts``, where the
experiment is the Cairn project (by id) and the run the Cairn run, so MLflow's client sends
paths ``<experiment_id>/<run_id>/artifacts/<relative path>`` and each names the run's artifact
at ``<relative path>``: what MLflow uploads is an ordinary artifact (Cairn's SDK and dashboard
list it, with its digest), and what Cairn logged downloads through MLflow. Reading needs the
right to read the run, writing the right to write to it, as on Cairn's own artifact routes.

Uploads stream to the blob store, hashed on the way, so a file of any size holds a few
megabytes of the server's memory; downloads stream back. Not served (each answers an MLflow
error saying so): deleting an artifact (Cairn keeps a run's files until the run is purged),
multipart uploads (MLflow's client uses them for cloud stores only when the server offers
them, and falls back to one streamed PUT on this answer), and MLflow 3 logged models' files
(``<experiment_id>/models/<model_id>/artifacts/...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from cairn.core.artifacts import check_artifact_path
from cairn.core.entities import Run
from cairn.server.deps import TrackingDep
from cairn.server.jsonresponse import JsonResponse
from cairn.server.mlflow.errors import (
    INVALID_PARAMETER_VALUE,
    NOT_IMPLEMENTED,
    RESOURCE_DOES_NOT_EXIST,
    MlflowApiError,
)
from cairn.server.streaming import artifact_download, consume_body
from cairn.service.tracking import TrackingService

router = APIRouter()

#: The folder under a run that MLflow's artifact URIs end in.
RUN_ARTIFACTS = "artifacts"
#: The start of the message MLflow's client recognises as "multipart is not offered here, send
#: the file in one request instead" (mlflow.exceptions._UnsupportedMultipartUploadException).
_NO_MULTIPART = "Multipart upload is not supported for the current artifact repository"


@dataclass(frozen=True, slots=True)
class RunArtifactPath:
    """An MLflow artifact path taken apart: which run, and the path inside its artifacts."""

    experiment_id: str
    run_id: str
    relative: str


def run_artifact_path(path: str) -> RunArtifactPath:
    """Where ``<experiment_id>/<run_id>/artifacts[/<relative path>]`` points. A path that would
    leave its run (``..``, absolute, NUL) is InvalidArtifactPath (INVALID_PARAMETER_VALUE)."""
    checked = check_artifact_path(path, allow_empty=True)
    parts = checked.split("/", 3)
    if len(parts) >= 2 and parts[1] == "models":
        raise MlflowApiError(
            f"Cairn keeps the files of MLflow logged models among their run's artifacts, not at {path!r}: "
            "use the model's artifact_uri (<experiment_id>/<run_id>/artifacts/models/<model_id>)",
            NOT_IMPLEMENTED,
        )
    if len(parts) < 3 or parts[2] != RUN_ARTIFACTS:
        raise MlflowApiError(
            f"Invalid artifact path {path!r}: Cairn serves a run's artifacts at "
            f"'<experiment_id>/<run_id>/{RUN_ARTIFACTS}/<path>', as the run's artifact_uri says",
            INVALID_PARAMETER_VALUE,
        )
    return RunArtifactPath(parts[0], parts[1], parts[3] if len(parts) == 4 else "")


def _run_of(service: TrackingService, where: RunArtifactPath) -> Run:
    """The run, which the principal may read and which belongs to the experiment named."""
    run = service.get_run(where.run_id, details=False)
    if run.project_id != where.experiment_id:
        raise MlflowApiError(
            f"Run '{where.run_id}' not found in experiment '{where.experiment_id}'", RESOURCE_DOES_NOT_EXIST
        )
    return run


@router.get("/artifacts")
def list_artifacts(service: TrackingDep, path: Annotated[str, Query()] = "") -> JsonResponse:
    """The files and folders directly inside ``path``, by name; nothing for a file or for a
    folder the run does not have (as MLflow's server answers both)."""
    where = run_artifact_path(path)
    _run_of(service, where)
    listed = service.list_artifacts(where.run_id, where.relative)
    if where.relative and any(artifact.path == where.relative for artifact in listed):
        return JsonResponse({"files": []})
    prefix = f"{where.relative}/" if where.relative else ""
    files: dict[tuple[str, bool], dict[str, Any]] = {}
    for artifact in listed:
        name, slash, _below = artifact.path[len(prefix) :].partition("/")
        if slash:
            files.setdefault((name, True), {"path": name, "is_dir": True})
        else:
            files[(name, False)] = {"path": name, "is_dir": False, "file_size": artifact.size}
    return JsonResponse({"files": [files[key] for key in sorted(files)]})


@router.put("/artifacts/{artifact_path:path}")
async def upload_artifact(artifact_path: str, request: Request, service: TrackingDep) -> JsonResponse:
    where = run_artifact_path(artifact_path)
    media_type = request.headers.get("content-type", "")

    def store(chunks: Iterator[bytes]) -> None:
        # In the writer's thread, before the first byte is read: the run and the right to write.
        _run_of(service, where)
        service.write_artifact(where.run_id, where.relative, chunks, media_type=media_type)

    await consume_body(request, store)
    return JsonResponse({})


@router.get("/artifacts/{artifact_path:path}")
def download_artifact(artifact_path: str, request: Request, service: TrackingDep) -> Response:
    where = run_artifact_path(artifact_path)
    _run_of(service, where)
    return artifact_download(service.get_artifact(where.run_id, where.relative), request, service)


@router.delete("/artifacts/{artifact_path:path}")
def delete_artifact(artifact_path: str, service: TrackingDep) -> Response:
    where = run_artifact_path(artifact_path)
    _run_of(service, where)
    raise MlflowApiError(
        "Cairn does not delete single artifacts: a run keeps its files until the run is deleted and "
        "purged. Log a file again at the same path to replace it.",
        NOT_IMPLEMENTED,
    )


def multipart_upload(artifact_path: str, service: TrackingDep) -> Response:
    """MLflow's client asks for multipart uploads only when the server offers them (or the user
    forces them); this answer makes it send the file in one streamed PUT instead."""
    run_artifact_path(artifact_path)
    raise MlflowApiError(
        f"{_NO_MULTIPART}: Cairn streams a whole file in one request (PUT /artifacts/<path>)", NOT_IMPLEMENTED
    )


for _step in ("create", "complete", "abort"):
    router.add_api_route(f"/mpu/{_step}/{{artifact_path:path}}", multipart_upload, methods=["POST"])
