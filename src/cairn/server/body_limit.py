"""Refuse request bodies over the documented limit before they are read into memory."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.core.errors import PayloadTooLarge
from cairn.core.limits import MAX_REQUEST_BYTES
from cairn.server.errors import envelope


class BodyLimitMiddleware:
    """Answers 413 with the error envelope when a body exceeds ``limit`` bytes.

    A declared Content-Length is checked up front; a chunked body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # Raised inside the app's own call, so the app's error handler answers 413.
                raise PayloadTooLarge(
                    f"request body is over the limit of {self.limit} bytes", details={"limit": self.limit}
                )
            return message

        await self.app(scope, counting_receive, send)


async def _too_large(send: Send, limit: int) -> None:
    body: Any = envelope("payload_too_large", f"request body is over the limit of {limit} bytes", {"limit": limit})
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
