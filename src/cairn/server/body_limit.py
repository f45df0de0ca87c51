"""Refuse request bodies over the documented limit before they are read into memory."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.core.errors import PayloadTooLarge
from cairn.core.limits import MAX_REQUEST_BYTES
from cairn.server.errors import envelope
from cairn.server.mlflow.errors import mlflow_error_response
from cairn.server.mlflow.paths import is_mlflow_path


class BodyLimitMiddleware:
    """Answers 413 with the error envelope when a body exceeds ``limit`` bytes.

    A declared Content-Length is checked up front; a chunked body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUEST_BYTES, streamed_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        #: PUTs under these paths stream their body to disk as it arrives, so any size is fine.
        self.streamed_prefixes = streamed_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streamed = (
            scope["type"] == "http" and scope["method"] == "PUT" and scope["path"].startswith(self.streamed_prefixes)
        )
        if scope["type"] != "http" or streamed:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(scope, receive, send, self.limit)
            return
        received = 0
        over = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                over = True
                raise PayloadTooLarge(
                    f"request body is over the limit of {self.limit} bytes", details={"limit": self.limit}
                )
            return message

        async def guarded_send(message: Message) -> None:
            # FastAPI turns an error while it reads a JSON body into its own 400; whatever the
            # app answers to a body that went over the limit, the client gets the 413.
            if not over:
                await send(message)
            elif message["type"] == "http.response.start":
                await _too_large(scope, receive, send, self.limit)

        await self.app(scope, counting_receive, guarded_send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    error = PayloadTooLarge(f"request body is over the limit of {limit} bytes", details={"limit": limit})
    if is_mlflow_path(scope["path"]):
        # MLflow's client reads only its own envelope.
        await mlflow_error_response(error)(scope, receive, send)
        return
    body: Any = envelope(error.code, error.message, error.details)
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
