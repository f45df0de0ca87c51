"""JSON in and out of REST API v1, by orjson: standard JSON only, both ways.

Every request body is read by :func:`read_json`, whichever route takes it: a body that is not
standard JSON (RFC 8259) is refused with 400 ``invalid_request``. So ``NaN``, ``Infinity`` and
a number too large for a double (``1e400``) are refused alike by every route; a non-finite
metric value travels as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``, and a
non-finite param as ``{"float": "NaN"}`` (docs/api.md). Responses are rendered by orjson,
which writes numpy arrays directly (fast histories).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from cairn.core.errors import InvalidRequest

#: How a refused body's error message begins, whichever route refused it.
NOT_JSON = "the body is not valid JSON"


def read_json(body: bytes) -> Any:
    """``body`` decoded; orjson.JSONDecodeError (a json.JSONDecodeError) unless standard JSON."""
    return orjson.loads(body)


def read_json_or_refuse(body: bytes) -> Any:
    """:func:`read_json` for a route that reads its own body: InvalidRequest when refused."""
    try:
        return read_json(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"{NOT_JSON}: {exc}") from None


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class _JsonRequest(Request):
    async def json(self) -> Any:
        # FastAPI turns the json.JSONDecodeError raised here into its validation error: 400.
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


class JsonRoute(APIRoute):
    """An API route whose JSON body is read by :func:`read_json` (Starlette's reader is
    Python's ``json``, which takes ``NaN`` and turns ``1e400`` into infinity)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(_JsonRequest(request.scope, request.receive))

        return handle
