"""Snapshots: /api/v1/runs/{id}/snapshots and /api/v1/snapshots/{id} (trees of path → digest)."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from cairn.core.artifacts import SnapshotFile
from cairn.core.wire import snapshot_to_wire
from cairn.server.deps import tracking
from cairn.server.jsonresponse import JsonResponse
from cairn.server.schemas import ERROR_RESPONSES, Strict
from cairn.service.artifacts import MAX_SNAPSHOT_FILES
from cairn.service.tracking import TrackingService

router = APIRouter(tags=["snapshots"], responses=ERROR_RESPONSES)
Tracking = Annotated[TrackingService, Depends(tracking)]
RunId = Annotated[str, Path(min_length=1, max_length=64)]
SnapshotId = Annotated[str, Path(min_length=1, max_length=100)]


class SnapshotFileIn(Strict):
    path: str = Field(max_length=2000)
    digest: str = Field(max_length=100)
    size: int = Field(ge=0)


class SnapshotIn(Strict):
    kind: str = Field(max_length=32)
    files: list[SnapshotFileIn] = Field(max_length=MAX_SNAPSHOT_FILES)
    message: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)


class SnapshotOut(BaseModel):
    id: str
    project: str
    kind: str
    parent_id: str | None
    message: str
    meta: dict[str, Any]
    created_at: int
    files: list[dict[str, Any]]


class SnapshotList(BaseModel):
    snapshots: list[SnapshotOut]


@router.post("/runs/{run_id}/snapshots", response_model=SnapshotOut, summary="Record a snapshot of the run")
def save_snapshot(run_id: RunId, body: SnapshotIn, service: Tracking) -> JsonResponse:
    files = [SnapshotFile(f.path, f.digest, f.size) for f in body.files]
    snapshot = service.save_snapshot(run_id, body.kind, files, message=body.message, meta=body.meta)
    return JsonResponse(snapshot_to_wire(snapshot))


@router.get("/runs/{run_id}/snapshots", response_model=SnapshotList, summary="A run's snapshots, by kind")
def run_snapshots(run_id: RunId, service: Tracking) -> JsonResponse:
    return JsonResponse({"snapshots": [snapshot_to_wire(s) for s in service.run_snapshots(run_id)]})


@router.get("/snapshots/{snapshot_id}", response_model=SnapshotOut, summary="A snapshot and its files")
def get_snapshot(snapshot_id: SnapshotId, service: Tracking) -> JsonResponse:
    return JsonResponse(snapshot_to_wire(service.get_snapshot(snapshot_id)))


@router.get(
    "/snapshots/{snapshot_id}/files/{path:path}",
    summary="One file of a snapshot",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def snapshot_file(snapshot_id: SnapshotId, path: str, service: Tracking) -> StreamingResponse:
    chunks = service.read_snapshot_file(snapshot_id, path)
    first = next(chunks, b"")  # a missing blob is an error envelope, not a cut-off answer
    return StreamingResponse(itertools.chain([first], chunks), media_type="application/octet-stream")
