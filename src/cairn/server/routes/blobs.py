"""Bytes by digest: /api/v1/blobs (which are missing, a streamed upload, resumable uploads).

Uploads stream: the body goes to the blob store as it arrives and is hashed on the way, so a
gigabyte costs the server about a megabyte of memory. Artifacts are registered separately
(/api/v1/runs/{id}/artifacts) once their bytes are here.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from cairn.blobs.base import PART_ALIGNMENT, StagedUpload
from cairn.server.deps import tracking
from cairn.server.jsonresponse import JsonResponse
from cairn.server.schemas import ERROR_RESPONSES, Strict
from cairn.server.streaming import consume_body
from cairn.service.tracking import TrackingService

router = APIRouter(prefix="/blobs", tags=["artifacts"], responses=ERROR_RESPONSES)
Tracking = Annotated[TrackingService, Depends(tracking)]
Digest = Annotated[str, Path(min_length=1, max_length=100, description="SHA-256 of the bytes, lowercase hex")]
UploadId = Annotated[str, Path(min_length=1, max_length=64)]


class DigestsIn(Strict):
    digests: list[str] = Field(max_length=10_000)


class MissingOut(BaseModel):
    missing: list[str]


class BlobOut(BaseModel):
    digest: str
    size: int


class UploadCreate(Strict):
    size: int | None = Field(default=None, ge=0, description="the file's size: lets the server offer direct_parts")


class DirectPartsOut(BaseModel):
    part_size: int
    urls: list[str]


class UploadOut(BaseModel):
    upload_id: str
    offset: int = Field(description="bytes received so far: where the next part starts")
    part_alignment: int = Field(description="every part but the last is a multiple of this many bytes")
    direct_parts: DirectPartsOut | None = Field(
        default=None,
        description="presigned URLs to PUT the parts to directly (S3, with --presign-uploads); then complete",
    )


class CommitIn(Strict):
    digest: str = Field(max_length=100)


@router.post("/missing", response_model=MissingOut, summary="Which of these digests the server lacks")
def missing(body: DigestsIn, service: Tracking) -> JsonResponse:
    return JsonResponse({"missing": service.missing_blobs(body.digests)})


@router.put(
    "/{digest}",
    response_model=BlobOut,
    summary="Upload bytes in one streamed request (the body is checked against the digest)",
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}},
)
async def put_blob(digest: Digest, request: Request, service: Tracking) -> JsonResponse:
    info = await consume_body(request, lambda chunks: service.write_blob(chunks, digest))
    return JsonResponse({"digest": info.digest, "size": info.size})


@router.post("/uploads", response_model=UploadOut, status_code=201, summary="Start a resumable upload")
def create_upload(service: Tracking, request: Request, body: UploadCreate | None = None) -> JsonResponse:
    direct = request.app.state.settings.presign_uploads
    upload, parts = service.create_upload(None if body is None else body.size, direct=direct)
    _hashes.start(upload.upload_id)
    answer = _upload_to_wire(upload)
    if parts is not None:
        answer["direct_parts"] = {"part_size": parts.part_size, "urls": parts.urls}
    return JsonResponse(answer, status_code=201)


@router.get("/uploads/{upload_id}", response_model=UploadOut, summary="How far a resumable upload got")
def upload_status(upload_id: UploadId, service: Tracking) -> JsonResponse:
    return JsonResponse(_upload_to_wire(service.upload_status(upload_id)))


@router.put(
    "/uploads/{upload_id}",
    response_model=UploadOut,
    summary="Send the part of a resumable upload that starts at offset",
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}},
)
async def append_upload(
    upload_id: UploadId,
    request: Request,
    service: Tracking,
    offset: Annotated[int, Query(ge=0, description="where this part starts: the upload's offset so far")],
) -> JsonResponse:
    def append(chunks: Iterator[bytes]) -> StagedUpload:
        return service.append_upload(upload_id, offset, _hashes.feed(upload_id, offset, chunks))

    try:
        upload = await consume_body(request, append)
    except BaseException:
        _hashes.failed(upload_id)
        raise
    _hashes.reached(upload_id, upload.size)
    return JsonResponse(_upload_to_wire(upload))


@router.post("/uploads/{upload_id}/complete", response_model=BlobOut, summary="Finish a resumable upload")
def complete_upload(upload_id: UploadId, body: CommitIn, service: Tracking) -> JsonResponse:
    status = service.upload_status(upload_id)
    info = service.commit_upload(upload_id, body.digest, known_digest=_hashes.digest_at(upload_id, status.size))
    _hashes.forget(upload_id)
    return JsonResponse({"digest": info.digest, "size": info.size})


@router.delete("/uploads/{upload_id}", status_code=204, summary="Abandon a resumable upload")
def abort_upload(upload_id: UploadId, service: Tracking) -> None:
    _hashes.forget(upload_id)
    service.abort_upload(upload_id)


def _upload_to_wire(upload: StagedUpload) -> dict[str, Any]:
    return {"upload_id": upload.upload_id, "offset": upload.size, "part_alignment": PART_ALIGNMENT}


class _Running:
    """An upload's hash so far: of its first ``size`` bytes, unless a part is ``busy`` feeding it."""

    __slots__ = ("busy", "hasher", "size")

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.size = 0
        self.busy = False


class _RunningHashes:
    """SHA-256 of resumable uploads, kept as their parts pass through this process.

    When every part of an upload came through here in order, completing it needs no second
    read of the bytes. Parts sent to another worker, a retried part or a restart leave a gap;
    the hash is then dropped and the store hashes the bytes again at completion. So does a
    part that arrives while another part of the same upload is still passing (a retry that
    overlaps the original): both may write the same bytes, which one hash cannot follow.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._lock = threading.Lock()
        self._running: OrderedDict[str, _Running] = OrderedDict()
        self._capacity = capacity

    def start(self, upload_id: str) -> None:
        with self._lock:
            self._running[upload_id] = _Running()
            while len(self._running) > self._capacity:
                self._running.popitem(last=False)

    def feed(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> Iterator[bytes]:
        with self._lock:
            entry = self._running.get(upload_id)
            if entry is not None and (entry.busy or entry.size != offset):
                del self._running[upload_id]
                entry = None
            if entry is not None:
                entry.busy = True
        if entry is None:
            yield from chunks
            return
        for chunk in chunks:
            entry.hasher.update(chunk)
            yield chunk

    def reached(self, upload_id: str, size: int) -> None:
        """A part that went through :meth:`feed` was stored: the upload now holds ``size`` bytes."""
        with self._lock:
            entry = self._running.get(upload_id)
            if entry is not None and entry.busy:
                entry.size = size
                entry.busy = False

    def digest_at(self, upload_id: str, size: int) -> str | None:
        with self._lock:
            entry = self._running.get(upload_id)
            if entry is None or entry.busy or entry.size != size:
                return None
            return str(entry.hasher.copy().hexdigest())

    def failed(self, upload_id: str) -> None:
        """A part failed: drop the hash if bytes of it were hashed (the store may have kept only
        some of them); a part refused before any byte passed (a wrong offset) leaves it whole."""
        with self._lock:
            entry = self._running.get(upload_id)
            if entry is not None and entry.busy:
                del self._running[upload_id]

    def forget(self, upload_id: str) -> None:
        with self._lock:
            self._running.pop(upload_id, None)


_hashes = _RunningHashes()
