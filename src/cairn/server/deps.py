"""Request-scoped dependencies: the service acting for whoever sent the request, and what
the app keeps between requests (made by ``create_app``, never at import).

Route modules take the service as a parameter annotated :data:`TrackingDep`, defined here once,
so that no route module names an alias after the ``Tracking`` protocol of
:mod:`cairn.service.interface` (which it would shadow).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Request

from cairn.core import limits
from cairn.core.errors import InvalidValue
from cairn.server.upload_hashes import RunningHashes
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService

#: Who acts while the server runs without authentication, when the request names nobody.
ANONYMOUS = Principal("anonymous")
#: The header in which a client names its configured user (percent-encoded UTF-8), as the
#: dashboard's viewer cookie does for a browser. Until authentication exists it is taken at its
#: word: it keeps honest colleagues apart (a review's author cannot approve it), it is no
#: security boundary; with authentication, the signed-in user replaces it.
USER_HEADER = "x-cairn-user"


def principal(request: Request) -> Principal:
    """Who sent the request: the user ``X-Cairn-User`` names, else anonymous. Raises
    InvalidValue for a name no user could have."""
    named = request.headers.get(USER_HEADER)
    if named is None:
        return ANONYMOUS
    what = f"the user named by {USER_HEADER}"
    try:
        name = unquote(named, errors="strict")
    except UnicodeDecodeError:
        raise InvalidValue(f"{what} is not percent-encoded UTF-8") from None
    return Principal(limits.check_name(name, what))


def tracking(request: Request) -> TrackingService:
    service: TrackingService = request.app.state.tracking
    return service.acting_as(principal(request))


#: The tracking service acting for the request's principal, as a route parameter's type.
TrackingDep = Annotated[TrackingService, Depends(tracking)]


def upload_hashes(request: Request) -> RunningHashes:
    hashes: RunningHashes = request.app.state.upload_hashes
    return hashes


#: The app's running hashes of resumable uploads, as a route parameter's type.
UploadHashesDep = Annotated[RunningHashes, Depends(upload_hashes)]
