"""Request bodies handed to blocking code as they arrive (or, read whole, un-gzipped), and
blob bytes sent back in ranges (an artifact's download, for Cairn's API and MLflow's proxy alike).

Blob stores read and write synchronously (files, boto3), while the body of a request arrives
on the event loop. :func:`consume_body` runs the blocking writer in a worker thread and feeds it
the body piece by piece, so an upload of any size holds about a megabyte in the server.

An upload holds its thread for as long as its client takes to send the body, minutes for a big
file on a slow link. Those threads are counted apart from the pool that runs every other
endpoint, so that many uploads at once queue among themselves instead of stalling the whole
API (health checks included) behind them.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.lowlevel import RunVar
from fastapi import Request
from starlette.requests import ClientDisconnect
from starlette.responses import RedirectResponse, Response, StreamingResponse

from cairn.core import limits
from cairn.core.errors import InvalidRequest, PayloadTooLarge

if TYPE_CHECKING:
    from cairn.core.artifacts import Artifact
    from cairn.service.tracking import TrackingService

T = TypeVar("T")
#: Body bytes handed over per hop between the event loop and the writer's thread: a hop costs
#: tens of microseconds, so gathering the socket's 64 kB pieces into a megabyte keeps a
#: gigabyte upload to a thousand of them.
PIECE_BYTES = 1 << 20
#: Pieces received ahead of the writer: enough to keep the socket busy while a piece is hashed
#: and written, few enough that an upload holds a handful of megabytes.
READ_AHEAD = 4
#: Request bodies consumed at once per server process; more uploads wait for a turn.
MAX_CONCURRENT_BODIES = 32
#: Per event loop, as anyio keeps its own default limiter (a limiter belongs to one loop).
_body_limiter: RunVar[anyio.CapacityLimiter] = RunVar("cairn_body_limiter")


def _limiter() -> anyio.CapacityLimiter:
    try:
        return _body_limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(MAX_CONCURRENT_BODIES)
        _body_limiter.set(limiter)
        return limiter


async def consume_body(request: Request, sink: Callable[[Iterator[bytes]], T]) -> T:
    """Run ``sink(chunks)`` in a worker thread, ``chunks`` yielding the request body.

    The event loop reads ahead of the sink by up to :data:`READ_AHEAD` pieces, so receiving
    the next megabyte overlaps with hashing and writing this one. A client that goes away
    before the end of its body makes ``chunks`` raise InvalidRequest (the sink cleans up as for
    any error), not an internal error with a logged traceback."""
    stream = request.stream()
    send, receive = anyio.create_memory_object_stream[bytes | InvalidRequest](READ_AHEAD)

    async def next_piece() -> bytes | None:
        parts: list[bytes] = []
        size = 0
        while size < PIECE_BYTES:
            try:
                chunk = await stream.__anext__()
            except StopAsyncIteration:
                break
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts) if size else None

    async def read_ahead() -> None:
        async with send:
            try:
                while (piece := await next_piece()) is not None:
                    await send.send(piece)
            except ClientDisconnect:
                await send.send(InvalidRequest("the client went away before the end of the request body"))

    def chunks() -> Iterator[bytes]:
        while True:
            try:
                item = anyio.from_thread.run(receive.receive)
            except anyio.EndOfStream:
                return
            if isinstance(item, InvalidRequest):
                raise item
            yield item

    outcome: list[T] = []
    failure: list[BaseException] = []

    async def write() -> None:
        try:
            outcome.append(await anyio.to_thread.run_sync(sink, chunks(), limiter=_limiter()))
        except Exception as exc:  # raised below as itself, not inside the task group's ExceptionGroup
            failure.append(exc)
        finally:
            # The sink may stop early (an error, or bytes it already has): stop reading.
            tasks.cancel_scope.cancel()
            receive.close()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(read_ahead)
        tasks.start_soon(write)
    if failure:
        raise failure[0]
    return outcome[0]


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single-range ``Range`` header, or None for the whole content.

    Several ranges are not supported (the whole content is sent, which HTTP allows); a range
    that starts past the end is refused with InvalidRequest. Empty content has no range to
    cut out, so it is sent whole (a 206 for zero bytes cannot be written: ``bytes */0`` is only
    for a 416).
    """
    if not header or size == 0:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        start = max(0, size - int(last))
        end = size
    else:
        start = int(first)
        end = size if not last else min(int(last) + 1, size)
    if start >= end:  # starts past the end, or ends before it starts (bytes=10-9, bytes=-0)
        raise InvalidRequest(f"range {header!r} is outside the artifact's {size} bytes", details={"size": size})
    return start, end


def decoded_body(body: bytes, encoding: str) -> bytes:
    """A body read whole, undone from its ``Content-Encoding`` (gzip or none: the HTTP client
    gzips large bodies it sends to another machine). InvalidRequest for another encoding."""
    if encoding == "gzip":
        return _gunzip(body)
    if encoding != "identity":
        raise InvalidRequest(f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    return body


def _gunzip(body: bytes) -> bytes:
    """Decompress without letting a small "zip bomb" grow past the body limit."""
    decompressor = zlib.decompressobj(wbits=31)
    try:
        data = decompressor.decompress(body, limits.MAX_REQUEST_BYTES + 1)
    except zlib.error as exc:
        raise InvalidRequest(f"the gzip body is corrupt: {exc}") from None
    if len(data) > limits.MAX_REQUEST_BYTES or decompressor.unconsumed_tail:
        raise PayloadTooLarge(
            f"decompressed body is over the limit of {limits.MAX_REQUEST_BYTES} bytes",
            details={"limit": limits.MAX_REQUEST_BYTES},
        )
    if not decompressor.eof:
        raise InvalidRequest("the gzip body is truncated")
    return data


#: Media types a browser would run as script or as a document that can hold script.
_ACTIVE_MEDIA = re.compile(r"(java|ecma)script|html|xml|^text/(jscript|livescript)|wasm", re.IGNORECASE)


def served_media_type(logged: str | None) -> str:
    """The media type an artifact is served with: as logged, unless a browser would execute it
    (then plain bytes; the listing still says what was logged)."""
    if not logged or _ACTIVE_MEDIA.search(logged):
        return "application/octet-stream"
    return logged


def artifact_download(artifact: Artifact, request: Request, service: TrackingService) -> Response:
    """An artifact's bytes as a streamed response (a range of them for a ``Range`` header, or a
    redirect to the blob store with --presign-downloads): for Cairn's API and MLflow's proxy."""
    if request.app.state.settings.presign_downloads:
        url = service.artifact_url(artifact)
        if url is not None:
            return RedirectResponse(url, status_code=307)
    byte_range = parse_range(request.headers.get("range"), artifact.size)
    start, end = byte_range or (0, artifact.size)
    chunks = service.blobs.read(artifact.digest, start, end)
    # Pull the first chunk here, so that bytes missing from the blob store are an error
    # envelope, not a response cut off after its headers.
    first = next(chunks, b"")
    name = artifact.path.rsplit("/", 1)[-1]
    headers = {
        "content-length": str(end - start),
        "accept-ranges": "bytes",
        "etag": f'"{artifact.digest}"',
        "x-cairn-digest": artifact.digest,
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        # An artifact is the uploader's bytes served from the dashboard's own origin: never let a
        # browser run them. nosniff makes a <script src> of a non-script type fail; sandbox keeps an
        # HTML or SVG file opened in a tab from running anything; active types go out as bytes.
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox; default-src 'none'",
    }
    if byte_range is not None:
        last = f"{start}-{end - 1}" if end > start else "*"
        headers["content-range"] = f"bytes {last}/{artifact.size}"
    return StreamingResponse(
        itertools.chain([first], chunks),
        status_code=206 if byte_range is not None else 200,
        media_type=served_media_type(artifact.media_type),
        headers=headers,
    )
