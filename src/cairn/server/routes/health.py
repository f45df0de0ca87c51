"""Liveness: GET /health answers without touching the store."""

from __future__ import annotations

from fastapi import APIRouter

from cairn.core.version import __version__
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import HealthOut

router = APIRouter(tags=["health"], route_class=JsonRoute)


@router.get("/health", response_model=HealthOut, summary="Is the server up")
def health() -> JsonResponse:
    return JsonResponse({"status": "ok", "version": __version__})
