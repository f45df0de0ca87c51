"""Request-scoped dependencies: the service acting for whoever sent the request."""

from __future__ import annotations

from fastapi import Request

from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService

#: Who acts while the server runs without authentication (users and tokens come later).
ANONYMOUS = Principal("anonymous")


def tracking(request: Request) -> TrackingService:
    service: TrackingService = request.app.state.tracking
    return service.acting_as(ANONYMOUS)
