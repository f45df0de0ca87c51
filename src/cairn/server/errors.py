"""One handler for every error, one JSON envelope: ``{"error": {"code", "message", "details"}}``.

Internals (tracebacks, ``str()`` of unexpected exceptions) reach a response only in debug mode.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from cairn.core.errors import CairnError
from cairn.server.jsonresponse import JsonResponse
from cairn.server.ui import cairn_error_page, error_page, wants_page

logger = logging.getLogger("cairn.server")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(request: Request, exc: CairnError) -> Response:
    """Dashboard URLs answer errors with a page a person can read; API URLs with the envelope."""
    if wants_page(request):
        return cairn_error_page(request, exc)
    return JsonResponse(exc.to_envelope(), status_code=exc.http_status)


def install_error_handlers(app: FastAPI, *, debug: bool) -> None:
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
        if wants_page(request):
            return error_page(request, 400, "invalid_request", message)
        return JsonResponse(envelope("invalid_request", message, {"problems": problems}), status_code=400)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "invalid_request" if exc.status_code < 500 else "internal_error")
        if wants_page(request) and exc.status_code >= 400:
            message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
            return error_page(request, exc.status_code, code, message)
        return JsonResponse(envelope(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        if wants_page(request):
            return error_page(
                request, 500, "internal_error", "The server failed to show this page; the error is in its log."
            )
        details = {"traceback": traceback.format_exception(exc)} if debug else {}
        return JsonResponse(envelope("internal_error", "internal server error", details), status_code=500)
