"""A folder of a run's artifacts as one stream: a POSIX tar (pax format), uncompressed.

``GET /api/v1/runs/{id}/artifacts/archive?path=FOLDER`` answers with it, so a client fetches a
model folder, however many files it holds, in one request instead of one per file, and
``curl … | tar x`` unpacks it. Each member is one artifact under its path in the run, with the
SHA-256 the store recorded for it in the pax keyword ``CAIRN.sha256`` (POSIX reserves
upper-case ``VENDOR.`` keywords for this; GNU tar says it ignores it and extracts as usual).
The client checks every member's bytes against that digest, so a cut-off or corrupted member is
refused, as a file downloaded alone is.

Pure code: headers are built from (path, digest, size), and :func:`read_archive` parses the
chunks of bytes it is given; the caller owns the socket or file.
"""

from __future__ import annotations

import functools
import re
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, cast

from cairn.core.artifacts import check_artifact_path
from cairn.core.errors import DigestMismatch, InvalidArtifactPath, Unavailable

#: The media type of an archive.
MEDIA_TYPE = "application/x-tar"
#: The pax keyword that carries a member's SHA-256.
DIGEST_KEYWORD = "CAIRN.sha256"
#: Two zero blocks end a tar stream.
END_OF_ARCHIVE = bytes(2 * tarfile.BLOCKSIZE)
# The reader's buffer: tarfile's default (10 KiB) would cost ~100 Python calls per MiB.
_READ_BUFFER = 1 << 20
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    """One member of an archive: the artifact's path in the run, its SHA-256 and size."""

    path: str
    digest: str
    size: int


class _ChunkReader:
    """``read(n)`` over an iterator of byte chunks, as tarfile reads a stream."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._held = memoryview(b"")

    def read(self, size: int = -1, /) -> bytes:
        while not self._held:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._held = memoryview(chunk)
        taken = self._held if size < 0 else self._held[:size]
        self._held = self._held[len(taken) :]
        return bytes(taken)


def member_header(file: ArchivedFile, mtime_s: int = 0) -> bytes:
    """The header blocks that go before ``file``'s bytes (a pax record, then ustar)."""
    info = tarfile.TarInfo(file.path)
    info.size = file.size
    info.mode = 0o644
    info.mtime = mtime_s
    info.pax_headers = {DIGEST_KEYWORD: file.digest}
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")


def member_padding(size: int) -> bytes:
    """The zeros after a member's bytes, up to the next 512-byte block."""
    return bytes(-size % tarfile.BLOCKSIZE)


def archive_length(headers: Iterable[tuple[bytes, int]]) -> int:
    """The archive's length in bytes, from each member's (header, size): its Content-Length."""
    return sum(len(header) + size + -size % tarfile.BLOCKSIZE for header, size in headers) + len(END_OF_ARCHIVE)


def read_archive(chunks: Iterable[bytes], *, source: str) -> Iterator[tuple[ArchivedFile, Iterator[bytes]]]:
    """The members of the archive whose bytes come in ``chunks``, in order: each with an
    iterator of its bytes, to be read to its end before the next member is asked for. The
    caller checks the bytes against the member's digest (as it checks a file downloaded alone).

    A member that is not a regular file, whose path is not an artifact path or that carries no
    digest is refused (InvalidArtifactPath, DigestMismatch); a stream that ends early or is not
    a tar raises Unavailable naming ``source``.
    """
    try:
        # A stream ("r|") is only ever read forward: read(n) is all tarfile asks of it.
        reader = cast(IO[bytes], _ChunkReader(chunks))
        with tarfile.open(fileobj=reader, mode="r|", bufsize=_READ_BUFFER) as archive:
            for member in archive:
                file = _checked_member(member)
                data = archive.extractfile(member)
                assert data is not None  # a regular file, checked above
                yield file, iter(functools.partial(data.read, _READ_BUFFER), b"")
    except tarfile.TarError as exc:
        raise Unavailable(f"the archive from {source} is cut off or malformed: {exc}") from exc
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:  # a generator over a socket: let it go now, not when collected
            close()


def _checked_member(member: tarfile.TarInfo) -> ArchivedFile:
    if not member.isreg():
        raise InvalidArtifactPath(
            f"archive member {member.name!r} is not a regular file", details={"path": member.name[:200]}
        )
    path = check_artifact_path(member.name)
    digest = member.pax_headers.get(DIGEST_KEYWORD, "")
    if not _DIGEST.fullmatch(digest):
        raise DigestMismatch(f"archive member {path!r} carries no {DIGEST_KEYWORD}", details={"path": path})
    return ArchivedFile(path, digest, member.size)
