"""Request-scoped dependencies: the service acting for whoever sent the request, and what
the app keeps between requests (made by ``create_app``, never at import).

Route modules take the service as a parameter annotated :data:`TrackingDep`, defined here once,
so that no route module names an alias after the ``Tracking`` protocol of
:mod:`cairn.service.interface` (which it would shadow).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cairn.server.upload_hashes import RunningHashes
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService

#: Who acts while the server runs without authentication (users and tokens come later).
ANONYMOUS = Principal("anonymous")


def tracking(request: Request) -> TrackingService:
    service: TrackingService = request.app.state.tracking
    return service.acting_as(ANONYMOUS)


#: The tracking service acting for the request's principal, as a route parameter's type.
TrackingDep = Annotated[TrackingService, Depends(tracking)]


def upload_hashes(request: Request) -> RunningHashes:
    hashes: RunningHashes = request.app.state.upload_hashes
    return hashes


#: The app's running hashes of resumable uploads, as a route parameter's type.
UploadHashesDep = Annotated[RunningHashes, Depends(upload_hashes)]
