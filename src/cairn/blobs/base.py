"""The blob store interface: bytes addressed by their SHA-256.

The same bytes are stored once, whoever logs them and however often. Writes are atomic: bytes
go to a temporary name first and appear under their digest only once the whole content is
there and its SHA-256 matched (a rename on disk, a multipart completion on S3), so a reader
never sees half a blob and a truncated upload leaves nothing behind.

Nothing here is loaded whole into memory: writes take an iterable of chunks, reads yield
chunks, so a 10 GB checkpoint moves through a few megabytes of buffer.

Resumable uploads ("staged" uploads) let a client send a large file in parts over several
requests, and go on after a dropped connection from the offset the store reports.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from cairn.core.errors import DigestMismatch, InvalidRequest, InvalidValue, UploadNotFound, UploadOffsetMismatch

#: Bytes moved per read or write call: large enough that per-call overhead vanishes, small
#: enough that a server streaming many uploads at once stays within a few megabytes each.
CHUNK_SIZE = 1 << 20

_DIGEST = re.compile(r"[0-9a-f]{64}")


def check_digest(digest: str) -> str:
    """A lowercase hex SHA-256, or InvalidValue."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise InvalidValue(f"{digest!r} is not a SHA-256 digest (64 lowercase hex characters)")
    return digest


def check_range(start: int, end: int | None, size: int) -> int:
    """The end of [start, end) within a blob of ``size`` bytes, or InvalidValue."""
    stop = size if end is None else end
    if not 0 <= start <= stop <= size:
        raise InvalidValue(
            f"the range [{start}, {stop}) is outside the blob of {size} bytes",
            details={"start": start, "end": end, "size": size},
        )
    return stop


def digest_mismatch(expected: str, actual: str) -> DigestMismatch:
    return DigestMismatch(
        f"the bytes hash to {actual}, not to {expected}", details={"expected": expected, "actual": actual}
    )


_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def check_upload_id(upload_id: str) -> str:
    """An id ``stage_create`` could have given, or UploadNotFound (it also names a file or key)."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        raise UploadNotFound(f"no upload {upload_id!r}")
    return upload_id


def sha256_of_chunks(chunks: Iterable[bytes]) -> tuple[str, int]:
    """(digest, size) of the concatenated chunks."""
    hasher = hashlib.sha256()
    size = 0
    for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int
    #: When the bytes were last written or re-confirmed (ms since the epoch); gc spares blobs
    #: touched within its grace period.
    modified_ms: int = 0


@dataclass(frozen=True)
class StagedUpload:
    """A resumable upload in progress, by the id the store gave it."""

    upload_id: str
    #: Bytes received so far: the offset the next part must start at.
    size: int
    created_ms: int


class BlobStore(Protocol):
    #: The URI the store was opened from, with any credentials left out.
    uri: str

    def close(self) -> None:
        """Release connections (S3); the store is not used after."""
        ...

    def check(self) -> None:
        """Make sure the store can be reached and written (a folder that can be created, a
        bucket that exists and answers). Raises BlobStoreUnavailable with what went wrong.
        The server calls this at start, so a bad address fails there, not at the first upload."""
        ...

    def write(self, chunks: Iterable[bytes], *, expected_digest: str | None = None) -> BlobInfo:
        """Store the concatenated chunks, hashing them as they pass.

        With ``expected_digest``, bytes that hash to anything else raise DigestMismatch and
        leave nothing behind. Bytes already stored are not stored twice (the temporary copy is
        dropped) but their ``modified_ms`` is refreshed. An error from ``chunks`` (a dropped
        client) propagates and leaves nothing behind either.
        """
        ...

    def stat(self, digest: str) -> BlobInfo | None:
        """Size and modification time of a stored blob; None when absent."""
        ...

    def touch(self, digest: str) -> bool:
        """Refresh a blob's ``modified_ms`` (gc's grace period starts again); False when absent."""
        ...

    def read(self, digest: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes in [start, end) (to the end when ``end`` is None), in chunks.

        Raises BlobNotFound before yielding anything when the blob is absent, and
        InvalidValue for a range outside the blob.
        """
        ...

    def delete(self, digest: str, *, untouched_since: int | None = None) -> bool:
        """Remove a blob; False when it was not there. With ``untouched_since`` (ms), a blob
        written or touched since then is kept (False): gc's last check against an upload that
        found these bytes a moment ago."""
        ...

    def list(self) -> Iterator[BlobInfo]:
        """Every stored blob, in no particular order (for gc)."""
        ...

    def presigned_url(self, digest: str, *, expires_s: int = 3600, filename: str | None = None) -> str | None:
        """A URL a client can GET the blob from directly (S3), or None when the store cannot
        hand one out (a local folder). ``filename`` sets the download's file name."""
        ...

    def presigned_part_urls(self, upload_id: str, count: int, *, expires_s: int = 3600) -> Sequence[str] | None:
        """URLs a client can PUT parts 1..``count`` of a staged upload to directly (S3), or
        None when the store cannot hand them out. Parts sent so are staged like appended ones
        (every part but the last at least :data:`MIN_PART_SIZE`), and ``stage_commit`` checks
        their digest by reading them back."""
        ...

    # -- resumable uploads ------------------------------------------------------------------

    def stage_create(self) -> StagedUpload:
        """Start a resumable upload; nothing is visible under any digest until commit."""
        ...

    def stage_get(self, upload_id: str) -> StagedUpload:
        """How far an upload got. Raises UploadNotFound."""
        ...

    def stage_append(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> StagedUpload:
        """Append a part that starts at ``offset``, which must equal the bytes received so far
        (else UploadOffsetMismatch with ``details["offset"]``).

        Bytes are kept in whole blocks of :data:`PART_ALIGNMENT`, on every backend alike: a
        part cut off midway keeps the whole blocks it delivered and drops the rest, and
        ``stage_get`` then says where to go on from. A part that ends off a block boundary is
        the last one: any further append is refused with InvalidRequest."""
        ...

    def stage_commit(self, upload_id: str, expected_digest: str, *, known_digest: str | None = None) -> BlobInfo:
        """Publish the upload's bytes under ``expected_digest`` and forget the upload.

        The bytes are hashed again unless the caller hashed every byte as it passed and gives
        the result as ``known_digest``. A mismatch raises DigestMismatch and discards the
        upload. Raises UploadNotFound."""
        ...

    def stage_abort(self, upload_id: str) -> None:
        """Discard an upload; a missing one is fine."""
        ...

    def stage_list(self) -> Iterator[StagedUpload]:
        """Uploads in progress (gc aborts the stale ones)."""
        ...


#: Smallest part of a resumable upload except the last one (S3 refuses smaller parts).
MIN_PART_SIZE = 5 << 20

#: Resumable uploads keep bytes in blocks of this size, and only the last may be shorter. S3
#: needs parts of at least :data:`MIN_PART_SIZE` except the last, and a fixed size lets a
#: store map any offset to a part number; the folder backend follows the same rule so that
#: a client sees one behaviour whatever holds the bytes.
PART_ALIGNMENT = 8 << 20


def check_append(size: int, offset: int) -> None:
    """Refuse a part for an upload holding ``size`` bytes unless it starts at ``offset`` and the
    upload has not had its short last part yet."""
    if offset != size:
        raise UploadOffsetMismatch(
            f"the upload has received {size} bytes, so the next part starts at {size}, not {offset}",
            details={"offset": size},
        )
    if size % PART_ALIGNMENT:
        raise InvalidRequest(
            "the upload already received its last part (only the last part may be shorter than 8 MiB): commit it"
        )
