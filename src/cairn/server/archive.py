"""A folder of artifacts as an HTTP answer: the tar of :mod:`cairn.core.archive`, for a run's
folder (/runs/{id}/artifacts/archive) and a model version's (/models/{name}/versions/{v}/archive
and /models/{name}/aliases/{alias}/archive).

Every file and its bytes were found before this is called (the service opens them all), so the
answer is never cut off for a file that is missing. A small folder (a model's manifest, weights
and example) is read whole and sent as one body: a streamed sync body costs a hop to a worker
thread per piece (each file's header, bytes and padding), several times the work of reading it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import quote

from fastapi.responses import Response, StreamingResponse

from cairn.core.archive import (
    END_OF_ARCHIVE,
    MEDIA_TYPE,
    ArchivedFile,
    archive_length,
    member_header,
    member_padding,
)
from cairn.core.artifacts import Artifact

#: Archives up to this size are read whole and sent as one body; bigger ones are streamed.
IN_ONE_PIECE_BYTES = 1 << 20

#: What the 200 answer of an archive route is, for the OpenAPI document.
ARCHIVE_ANSWER = {
    "description": "an uncompressed pax tar of the files, each under its path in the run with its SHA-256 in "
    "the pax keyword `CAIRN.sha256`",
    "content": {MEDIA_TYPE: {}},
}


def archive_response(
    opened: Sequence[tuple[Artifact, Iterator[bytes]]], filename: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The tar of ``opened``'s files, offered for download as ``filename``."""
    members = [
        (member_header(ArchivedFile(a.path, a.digest, a.size), a.created_at // 1000), a.size, chunks)
        for a, chunks in opened
    ]

    def body() -> Iterator[bytes]:
        for header, size, chunks in members:
            yield header
            yield from chunks
            yield member_padding(size)
        yield END_OF_ARCHIVE

    length = archive_length((header, size) for header, size, _ in members)
    sent = {
        **(headers or {}),
        "content-disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
        "x-content-type-options": "nosniff",
    }
    if length <= IN_ONE_PIECE_BYTES:
        return Response(b"".join(body()), media_type=MEDIA_TYPE, headers=sent)
    sent["content-length"] = str(length)
    return StreamingResponse(body(), media_type=MEDIA_TYPE, headers=sent)
