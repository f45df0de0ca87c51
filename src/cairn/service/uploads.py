"""What an upload sends: a local file's bytes in chunks, the same whichever implementation of
:class:`~cairn.service.interface.Tracking` stores them (in process, or over HTTP from the
client), so both notice alike that a file changed under them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from cairn.blobs.base import CHUNK_SIZE
from cairn.core.errors import DigestMismatch


def file_chunks(path: Path, start: int, end: int, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Bytes [start, end) of a file in :data:`~cairn.blobs.base.CHUNK_SIZE` chunks, ``progress``
    told the count so far. A file that became shorter than that raises DigestMismatch."""
    sent = 0
    with open(path, "rb") as file:
        file.seek(start)
        while sent < end - start:
            chunk = file.read(min(CHUNK_SIZE, end - start - sent))
            if not chunk:
                raise DigestMismatch(f"{path} became shorter while it was being uploaded", details={"path": str(path)})
            sent += len(chunk)
            if progress is not None:
                progress(sent)
            yield chunk
