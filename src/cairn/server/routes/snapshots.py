"""Snapshots: /api/v1/runs/{id}/snapshots and /api/v1/snapshots/{id} (trees of path → digest)."""

from __future__ import annotations

import itertools
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response, StreamingResponse

from cairn.core.artifacts import SnapshotFile
from cairn.core.wire import snapshot_to_wire
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import DIGEST_RULE, PATH_RULE, RunId, SnapshotIn, SnapshotList, SnapshotOut

router = APIRouter(tags=["snapshots"], route_class=JsonRoute)
SnapshotId = Annotated[str, Path(min_length=1, max_length=100, json_schema_extra=DIGEST_RULE)]
SnapshotPath = Annotated[str, Path(json_schema_extra=PATH_RULE)]


@router.post(
    "/runs/{run_id}/snapshots",
    response_model=SnapshotOut,
    responses=error_responses(400, 404, 409, 413, 503),
    summary="Record a snapshot of the run",
)
def save_snapshot(run_id: RunId, body: SnapshotIn, service: TrackingDep) -> JsonResponse:
    files = [SnapshotFile(f.path, f.digest, f.size) for f in body.files]
    snapshot = service.save_snapshot(run_id, body.kind, files, message=body.message, meta=body.meta)
    return JsonResponse(snapshot_to_wire(snapshot))


@router.get(
    "/runs/{run_id}/snapshots",
    response_model=SnapshotList,
    responses=error_responses(400, 404, 503),
    summary="A run's snapshots, by kind",
)
def run_snapshots(run_id: RunId, service: TrackingDep) -> JsonResponse:
    return JsonResponse({"snapshots": [snapshot_to_wire(s) for s in service.run_snapshots(run_id)]})


@router.get(
    "/snapshots/{snapshot_id}",
    response_model=SnapshotOut,
    responses=error_responses(400, 404, 503),
    summary="A snapshot and its files",
)
def get_snapshot(snapshot_id: SnapshotId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(snapshot_to_wire(service.get_snapshot(snapshot_id)))


@router.get(
    "/snapshots/{snapshot_id}/files/{path:path}",
    summary="One file of a snapshot",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, **error_responses(400, 404, 503)},
)
def snapshot_file(snapshot_id: SnapshotId, path: SnapshotPath, service: TrackingDep) -> StreamingResponse:
    chunks = service.read_snapshot_file(snapshot_id, path)
    first = next(chunks, b"")  # a missing blob is an error envelope, not a cut-off answer
    return StreamingResponse(itertools.chain([first], chunks), media_type="application/octet-stream")
