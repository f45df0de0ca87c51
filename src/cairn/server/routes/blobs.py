"""Bytes by digest: /api/v1/blobs (which are missing, a streamed upload, resumable uploads).

Uploads stream: the body goes to the blob store as it arrives and is hashed on the way, so a
gigabyte costs the server about a megabyte of memory. Artifacts are registered separately
(/api/v1/runs/{id}/artifacts) once their bytes are here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from cairn.blobs.base import PART_ALIGNMENT, StagedUpload
from cairn.core import limits
from cairn.server.deps import TrackingDep, UploadHashesDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import (
    DIGEST_RULE,
    BlobOut,
    CommitIn,
    DigestsIn,
    MissingOut,
    UploadCreate,
    UploadId,
    UploadOut,
)
from cairn.server.streaming import consume_body

router = APIRouter(prefix="/blobs", tags=["artifacts"], route_class=JsonRoute)
Digest = Annotated[str, Path(min_length=1, max_length=100, json_schema_extra=DIGEST_RULE)]


@router.post(
    "/missing",
    response_model=MissingOut,
    responses=error_responses(400, 413, 503),
    summary="Which of these digests the server lacks",
)
def missing(body: DigestsIn, service: TrackingDep) -> JsonResponse:
    return JsonResponse({"missing": service.missing_blobs(body.digests)})


@router.put(
    "/{digest}",
    response_model=BlobOut,
    responses=error_responses(400, 503),
    summary="Upload bytes in one streamed request (the body is checked against the digest)",
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}},
)
async def put_blob(digest: Digest, request: Request, service: TrackingDep) -> JsonResponse:
    info = await consume_body(request, lambda chunks: service.write_blob(chunks, digest))
    return JsonResponse({"digest": info.digest, "size": info.size})


@router.post(
    "/uploads",
    response_model=UploadOut,
    status_code=201,
    responses=error_responses(400, 413, 503),
    summary="Start a resumable upload",
)
def create_upload(
    service: TrackingDep, hashes: UploadHashesDep, request: Request, body: UploadCreate | None = None
) -> JsonResponse:
    direct = request.app.state.settings.presign_uploads
    upload, parts = service.create_upload(None if body is None else body.size, direct=direct)
    hashes.start(upload.upload_id)
    answer = _upload_to_wire(upload)
    if parts is not None:
        answer["direct_parts"] = {"part_size": parts.part_size, "urls": parts.urls}
    return JsonResponse(answer, status_code=201)


@router.get(
    "/uploads/{upload_id}",
    response_model=UploadOut,
    responses=error_responses(400, 404, 503),
    summary="How far a resumable upload got",
)
def upload_status(upload_id: UploadId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(_upload_to_wire(service.upload_status(upload_id)))


@router.put(
    "/uploads/{upload_id}",
    response_model=UploadOut,
    responses=error_responses(400, 404, 409, 503),
    summary="Send the part of a resumable upload that starts at offset",
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}},
)
async def append_upload(
    upload_id: UploadId,
    request: Request,
    service: TrackingDep,
    hashes: UploadHashesDep,
    offset: Annotated[
        int, Query(ge=0, lt=limits.MAX_INT64 + 1, description="where this part starts: the upload's offset so far")
    ],
) -> JsonResponse:
    def append(chunks: Iterator[bytes]) -> StagedUpload:
        return service.append_upload(upload_id, offset, hashes.feed(upload_id, offset, chunks))

    try:
        upload = await consume_body(request, append)
    except BaseException:
        hashes.failed(upload_id)
        raise
    hashes.reached(upload_id, upload.size)
    return JsonResponse(_upload_to_wire(upload))


@router.post(
    "/uploads/{upload_id}/complete",
    response_model=BlobOut,
    responses=error_responses(400, 404, 413, 503),
    summary="Finish a resumable upload",
)
def complete_upload(upload_id: UploadId, body: CommitIn, service: TrackingDep, hashes: UploadHashesDep) -> JsonResponse:
    status = service.upload_status(upload_id)
    info = service.commit_upload(upload_id, body.digest, known_digest=hashes.digest_at(upload_id, status.size))
    hashes.forget(upload_id)
    return JsonResponse({"digest": info.digest, "size": info.size})


@router.delete(
    "/uploads/{upload_id}",
    status_code=204,
    responses=error_responses(400, 404, 503),
    summary="Abandon a resumable upload",
)
def abort_upload(upload_id: UploadId, service: TrackingDep, hashes: UploadHashesDep) -> None:
    hashes.forget(upload_id)
    service.abort_upload(upload_id)


def _upload_to_wire(upload: StagedUpload) -> dict[str, Any]:
    return {"upload_id": upload.upload_id, "offset": upload.size, "part_alignment": PART_ALIGNMENT}
