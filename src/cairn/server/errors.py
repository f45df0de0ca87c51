"""One handler for every error, one JSON envelope: ``{"error": {"code", "message", "details"}}``.

Internals (tracebacks, ``str()`` of unexpected exceptions) reach a response only in debug mode.
The OpenAPI document says the same: each route lists the statuses it can answer with
(:func:`error_responses`), each with the envelope's schema, and a refused request is the 400
envelope, never FastAPI's default 422. A 405 names, in ``Allow``, every method of the path.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from cairn.core.errors import CairnError, Unauthenticated
from cairn.server.jsonresponse import NOT_JSON, JsonResponse
from cairn.server.mlflow.errors import INTERNAL_ERROR, INVALID_PARAMETER_VALUE, mlflow_envelope_response
from cairn.server.mlflow.errors import mlflow_error_response as mlflow_error
from cairn.server.mlflow.paths import is_mlflow_path
from cairn.server.ui import cairn_error_page, error_page, wants_page

logger = logging.getLogger("cairn.server")

#: Codes of the errors Starlette raises itself (docs/errors.md lists them with the others).
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(request: Request, exc: CairnError) -> Response:
    """Dashboard URLs answer errors with a page a person can read; API URLs with the envelope,
    MLflow's routes with MLflow's."""
    if is_mlflow_path(request.url.path):
        return mlflow_error(exc)
    if wants_page(request):
        return cairn_error_page(request, exc)
    # RFC 9110: a 401 says how to authenticate.
    headers = {"www-authenticate": 'Bearer realm="cairn"'} if isinstance(exc, Unauthenticated) else None
    return JsonResponse(exc.to_envelope(), status_code=exc.http_status, headers=headers)


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="stable; see docs/errors.md")
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    """The one error envelope, whatever the status."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorBody


_MEANINGS = {
    400: "invalid input (invalid_request, invalid_value, invalid_key, ...)",
    401: "unauthenticated (or sign_in_failed): no valid session or token",
    403: "permission_denied",
    404: "not found",
    409: "conflict",
    413: "payload_too_large: the body is over MAX_REQUEST_BYTES",
    429: "too_many_attempts: sign-in attempts over the limit; wait a minute",
    503: "the store or blob store is unavailable; retrying later may work",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each the envelope; for a route's decorator."""
    return {status: {"model": ErrorOut, "description": _MEANINGS[status]} for status in statuses}


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes at the request's path (Starlette names only
    the methods of the first route that matched the path)."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _without_default_422(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents a 422 for every route with parameters; this server answers 400."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def install_error_handlers(app: FastAPI, *, debug: bool) -> None:
    render_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _without_default_422(render_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    # Dashboard URLs answer errors with a page a person can read; API URLs with the envelope.
    @app.exception_handler(CairnError)
    async def _cairn_error(request: Request, exc: CairnError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"location": [str(part) for part in error.get("loc", ())], "message": error.get("msg", "")}
            for error in exc.errors()
        ]
        where = ".".join(problems[0]["location"]) if problems else ""
        what = str(problems[0]["message"]) if problems else "invalid request"
        message = f"{where}: {what}" if where else what
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            message = f"{NOT_JSON}: {first.get('ctx', {}).get('error', '')} (at character {where[5:]})"
        if is_mlflow_path(request.url.path):
            return mlflow_envelope_response(INVALID_PARAMETER_VALUE, message)
        if wants_page(request):
            return error_page(request, 400, "invalid_request", message)
        return JsonResponse(envelope("invalid_request", message, {"problems": problems}), status_code=400)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "invalid_request" if exc.status_code < 500 else "internal_error")
        if wants_page(request) and exc.status_code >= 400:
            message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
            return error_page(request, exc.status_code, code, message)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JsonResponse(envelope(code, str(exc.detail)), status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        if is_mlflow_path(request.url.path):
            return mlflow_envelope_response(INTERNAL_ERROR, "internal server error")
        if wants_page(request):
            return error_page(
                request, 500, "internal_error", "The server failed to show this page; the error is in its log."
            )
        details = {"traceback": traceback.format_exception(exc)} if debug else {}
        return JsonResponse(envelope("internal_error", "internal server error", details), status_code=500)
