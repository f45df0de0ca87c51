"""Request-scoped dependencies: the service acting for whoever sent the request, and what
the app keeps between requests (made by ``create_app``, never at import).

Route modules take the service as a parameter annotated :data:`TrackingDep`, defined here once,
so that no route module names an alias after the ``Tracking`` protocol of
:mod:`cairn.service.interface` (which it would shadow).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Request

from cairn.core import limits
from cairn.core.access import TOKEN_PREFIX
from cairn.core.errors import InvalidValue, SignInFailed, Unauthenticated
from cairn.server.csrf import check_same_origin
from cairn.server.upload_hashes import RunningHashes
from cairn.service.authn import Authenticator
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService

#: Who acts while the server runs without authentication, when the request names nobody.
ANONYMOUS = Principal("anonymous")
#: Without authentication only: the header in which a client names its configured user
#: (percent-encoded UTF-8), as the dashboard's viewer cookie does for a browser. It is taken at
#: its word, so it keeps honest colleagues apart and is no security boundary; with
#: authentication it is ignored and the signed-in user acts.
USER_HEADER = "x-cairn-user"
#: The browser session's cookie; ``__Host-`` prefixed when served over https (docs/access.md).
SESSION_COOKIE = "cairn_session"
SECURE_SESSION_COOKIE = "__Host-cairn_session"
_STATE_KEY = "cairn.principal"


def principal(request: Request) -> Principal:
    """Who sent the request, worked out once per request. With authentication: the holder of
    the ``Authorization: Bearer`` token, else of the session cookie; Unauthenticated if
    neither proves anyone. Without: the user ``X-Cairn-User`` names, else anonymous."""
    known = request.scope.get(_STATE_KEY)
    if isinstance(known, Principal):
        return known
    authenticator: Authenticator | None = request.app.state.authenticator
    found = _unauthenticated(request) if authenticator is None else _authenticated(request, authenticator)
    request.scope[_STATE_KEY] = found
    return found


def _authenticated(request: Request, authenticator: Authenticator) -> Principal:
    address = request.client.host if request.client else None
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "basic" and credential.strip():
            return _basic(credential.strip(), authenticator, address)
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer TOKEN' or 'Basic USER:PASSWORD'")
        return authenticator.token_principal(credential.strip(), address)
    session = session_cookie(request)
    if session is None:
        raise Unauthenticated("sign in first: this server requires authentication")
    # The session cookie is the browser's ambient credential: a write it carries must come from
    # the dashboard's own pages, never another site's (server/csrf.py). A token is no ambient
    # credential, so a request with one needs no such check.
    check_same_origin(request, strict=True, session_cookie=True)
    return authenticator.session_principal(session, address)


def _basic(credential: str, authenticator: Authenticator, address: str | None) -> Principal:
    """HTTP Basic, as MLflow's client sends ``MLFLOW_TRACKING_USERNAME`` and ``_PASSWORD``:
    the password is an API token of that user (preferred: revocable, and checked without a
    password hash per request) or the user's own password."""
    try:
        username, colon, password = base64.b64decode(credential, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("the Basic credential is not base64 of USER:PASSWORD") from None
    if not colon:
        raise Unauthenticated("the Basic credential is not base64 of USER:PASSWORD")
    if password.startswith(TOKEN_PREFIX):
        found = authenticator.token_principal(password, address)
        if found.name != username:
            raise Unauthenticated("the token is not this user's")
        return found
    try:
        return authenticator.password_principal(username, password, address)
    except SignInFailed:
        # A credential on a request, not the sign-in form: the same answer as a bad token.
        raise Unauthenticated("the Basic credential's user name and password do not match") from None


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(SECURE_SESSION_COOKIE) or request.cookies.get(SESSION_COOKIE)


def _unauthenticated(request: Request) -> Principal:
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
