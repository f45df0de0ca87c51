"""Who is looking, and the service acting for them.

With authentication (``cairn server``) the signed-in user is looking: their session (or token)
names them, and roles decide what they see and change. Without it (``cairn ui``, or a server
with ``--insecure-no-auth``) the dashboard asks nobody to sign in: a viewer's name (the author
of their comments and views) is what they set in the page header, kept in a cookie; without
one it is the operating-system user on a loopback server and "anonymous" on a shared server.
That name is a courtesy among colleagues, not a security boundary.
"""

from __future__ import annotations

import time
from urllib.parse import unquote

from fastapi import Request

from cairn.core import limits
from cairn.core.access import User
from cairn.core.addresses import is_loopback
from cairn.core.errors import InvalidValue
from cairn.server import csrf, deps
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService

#: Without authentication only: the cookie that keeps the name the viewer gave.
VIEWER_COOKIE = "cairn_viewer"


def signing_in(request: Request) -> bool:
    """Whether this server requires sign-in (``ServerSettings.require_auth``)."""
    return request.app.state.authenticator is not None


def viewer_name(request: Request) -> str:
    name = unquote(request.cookies.get(VIEWER_COOKIE, "")).strip()
    if name:
        try:
            return limits.check_name(name, "name")
        except InvalidValue:
            pass
    local = is_loopback(request.app.state.settings.host)
    return Principal.local_user().name if local else "anonymous"


def service(request: Request) -> TrackingService:
    """The tracking service acting as the viewer; the viewer's name is also kept for the
    templates (``request.state.viewer``). With authentication, Unauthenticated unless signed in
    (a page then goes to the sign-in page, ui/__init__.py)."""
    tracking: TrackingService = request.app.state.tracking
    if signing_in(request):
        principal = deps.principal(request)
        request.state.viewer = principal.name
        request.state.principal = principal
        return tracking.acting_as(principal)
    request.state.viewer = viewer_name(request)
    return tracking.acting_as(Principal(request.state.viewer))


def signed_in_user(request: Request) -> User | None:
    """The signed-in user, for the page header (their display name; admin links), read once
    per request and only by pages that show the header; None without authentication or
    before :func:`service` found who is looking."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        return None
    if not hasattr(request.state, "user"):
        tracking: TrackingService = request.app.state.tracking
        request.state.user = tracking.acting_as(principal).get_user(principal.name)
    user: User = request.state.user
    return user


def same_origin(request: Request) -> None:
    """Refuse a form posted from another site (server/csrf.py): a page elsewhere aiming at a
    local ``cairn ui``, or at a signed-in user's session."""
    csrf.check_same_origin(request, strict=signing_in(request), session_cookie=deps.session_cookie(request) is not None)


def now_ms() -> int:
    return int(time.time() * 1000)


def is_fragment(request: Request) -> bool:
    """An HTMX request for part of a page, not a history restore (which needs the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"
