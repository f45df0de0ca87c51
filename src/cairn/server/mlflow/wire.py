"""Reading MLflow's request messages and checking their fields, with MLflow's messages.

MLflow's client sends a message as JSON for POST, PATCH and DELETE, and as the query string
for GET (a repeated field is a repeated parameter). Fields are protobuf's: a missing one is
absent, never null, and numbers may arrive as strings (int64 in proto3's JSON mapping).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from cairn.server.deps import TrackingDep
from cairn.server.jsonresponse import JsonResponse
from cairn.server.mlflow.errors import INVALID_PARAMETER_VALUE, MlflowApiError
from cairn.service.tracking import TrackingService

Message = dict[str, Any]


async def read_message(request: Request) -> Message:
    if request.method == "GET":
        message: Message = {}
        for key in request.query_params:
            values = request.query_params.getlist(key)
            message[key] = values if len(values) > 1 else values[0]
        return message
    body = await request.body()
    if not body.strip():
        return {}
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MlflowApiError(f"Malformed JSON request body: {exc}", BAD_REQUEST_CODE) from None
    if not isinstance(parsed, dict):
        raise MlflowApiError("The request body must be a JSON object", BAD_REQUEST_CODE)
    return parsed


BAD_REQUEST_CODE = "BAD_REQUEST"


def _missing(name: str) -> MlflowApiError:
    return MlflowApiError(
        f"Missing value for required parameter '{name}'. "
        "See the API docs for more information about request parameters.",
        INVALID_PARAMETER_VALUE,
    )


def _invalid(name: str, value: Any, expected: str) -> MlflowApiError:
    return MlflowApiError(
        f"Invalid value {value!r} for parameter '{name}' supplied: {expected}", INVALID_PARAMETER_VALUE
    )


def required_str(message: Message, name: str) -> str:
    value = message.get(name)
    if value is None or value == "":
        raise _missing(name)
    if not isinstance(value, str):
        raise _invalid(name, value, "it must be a string")
    return value


def optional_str(message: Message, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(name, value, "it must be a string")
    return value


def optional_int(message: Message, name: str) -> int | None:
    """An int64 field: a JSON number or, as proto3's JSON mapping writes int64, a string."""
    value = message.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise _invalid(name, value, "it must be an integer")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise _invalid(name, value, "it must be an integer") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise _invalid(name, value, "it must be a 64-bit integer")
    return value


def required_int(message: Message, name: str) -> int:
    value = optional_int(message, name)
    if value is None:
        raise _missing(name)
    return value


def metric_value(message: Message, name: str = "value") -> float:
    """A double: a number, or one of the strings proto3's JSON mapping uses for NaN and ±inf."""
    value = message.get(name)
    if value is None:
        raise _missing(name)
    if isinstance(value, str):
        special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
        if value in special:
            return special[value]
        try:
            return float(value)
        except ValueError:
            raise _invalid(name, value, "it must be a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(name, value, "it must be a number")
    return float(value)


def repeated(message: Message, name: str) -> list[Any]:
    value = message.get(name)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def key_value_pairs(message: Message, name: str) -> list[tuple[str, str]]:
    """A repeated ``{key, value}`` field (tags, params) in the order sent; a missing value is
    the empty string, as protobuf's default."""
    pairs = []
    for index, item in enumerate(repeated(message, name)):
        if not isinstance(item, dict):
            raise _invalid(f"{name}[{index}]", item, "it must be an object with a key and a value")
        key = required_str(item, "key")
        value = item.get("value", "")
        if not isinstance(value, str):
            raise _invalid(f"{name}[{index}].value", value, "it must be a string")
        pairs.append((key, value))
    return pairs


def optional_text(message: Message, name: str) -> str:
    """A string field whose absence means the empty string (a tag's or a param's value)."""
    return optional_str(message, name) or ""


def max_results(message: Message, default: int, most: int) -> int:
    """``max_results``: ``default`` when absent, else from 1 to ``most``."""
    wanted = optional_int(message, "max_results")
    if wanted is None:
        return default
    if not 1 <= wanted <= most:
        raise MlflowApiError(
            f"Invalid value {wanted} for parameter 'max_results' supplied. It must be at most {most}, and positive.",
            INVALID_PARAMETER_VALUE,
        )
    return wanted


# -- page tokens: where a listing goes on, as base64 JSON -----------------------------------------


def encode_page_token(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode()


def decode_page_token(token: str | None) -> dict[str, Any]:
    """The position a token holds, {} for none. Raises MlflowApiError for a malformed token."""
    if not token:
        return {}
    try:
        position = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise MlflowApiError("Invalid page token", INVALID_PARAMETER_VALUE) from None
    if not isinstance(position, dict):
        raise MlflowApiError("Invalid page token", INVALID_PARAMETER_VALUE)
    return position


def offset_page_token(offset: int) -> str:
    """The token of a listing filtered in memory, which goes on at ``offset``."""
    return encode_page_token({"o": offset})


def page_offset(token: str | None) -> int:
    """The offset :func:`offset_page_token` wrote, 0 for no token."""
    offset = decode_page_token(token).get("o", 0)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise MlflowApiError("Invalid page token", INVALID_PARAMETER_VALUE)
    return offset


#: What an MLflow route does: the service acting for the caller, and the request's message.
Handler = Callable[[TrackingService, Message], JsonResponse]


def add_message_routes(router: APIRouter, routes: Iterable[tuple[str, str, Handler]]) -> None:
    """Mount each ``(method, path, handler)``: the message is read on the event loop, and the
    handler, which calls the service (and so the database), runs in the thread pool."""
    for method, path, handler in routes:
        router.add_api_route(path, _endpoint(handler), methods=[method], name=handler.__name__.strip("_"))


def _endpoint(handler: Handler) -> Callable[[Request, TrackingService], Awaitable[JsonResponse]]:
    async def endpoint(request: Request, tracking: TrackingDep) -> JsonResponse:
        # A field in the path (``/logged-models/{model_id}``) is a field of the message too.
        message = {**await read_message(request), **request.path_params}
        answer: JsonResponse = await run_in_threadpool(handler, tracking, message)
        return answer

    return endpoint
