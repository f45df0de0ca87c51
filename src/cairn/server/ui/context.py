"""Who is looking, and the service acting for them.

With authentication (``cairn server``) the viewer is the signed-in user, from the session
cookie (or a token), exactly as for the REST API (:func:`cairn.server.deps.principal`), and the
role policy decides what they see and may do.

Without it (``cairn ui``, ``--insecure-no-auth``) the dashboard asks nobody to sign in. A
viewer's name (the author of their comments and views) is what they set in the page header,
kept in a cookie; without one it is the operating-system user on a loopback server (``cairn ui``
on one's own machine) and "anonymous" on a shared server. Comments keep that name, so "edit your
own" is a courtesy among colleagues there, not a security boundary.
"""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

from fastapi import Request

from cairn.core import limits
from cairn.core.addresses import is_loopback
from cairn.core.errors import InvalidValue, PermissionDenied
from cairn.server.deps import principal
from cairn.server.hosts import AllowedHosts
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService

VIEWER_COOKIE = "cairn_viewer"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def viewer_name(request: Request) -> str:
    name = unquote(request.cookies.get(VIEWER_COOKIE, "")).strip()
    if name:
        try:
            return limits.check_name(name, "name")
        except InvalidValue:
            pass
    local = is_loopback(request.app.state.settings.host)
    return Principal.local_user().name if local else "anonymous"


def requires_sign_in(request: Request) -> bool:
    return request.app.state.authenticator is not None


def service(request: Request) -> TrackingService:
    """The tracking service acting as the viewer; the viewer is also kept for the templates.
    With authentication, Unauthenticated (a page GET then goes to /login) for nobody signed in."""
    tracking: TrackingService = request.app.state.tracking
    if requires_sign_in(request):
        acting = principal(request)
        request.state.viewer = acting.name
        return tracking.acting_as(acting)
    request.state.viewer = viewer_name(request)
    return tracking.acting_as(Principal(request.state.viewer))


def same_origin(request: Request) -> None:
    """Refuse a form posted from another site (a page elsewhere aiming at a local ``cairn ui``).

    Browsers send ``Origin`` with every POST; a request without one (curl, a script) is not a
    browser acting for someone else and passes.
    """
    origin = request.headers.get("origin")
    if origin is None or origin == "null" and request.headers.get("sec-fetch-site") in (None, "same-origin"):
        return
    # The Origin's host must be one the server answers to (not merely the request's own Host,
    # which a DNS-rebinding page chooses), and on that host the same port: another port of
    # localhost is another site. A proxy's listed name is exempt from the port, since the
    # proxy, not this server, picks the port the browser sees. The scheme is not compared:
    # behind a proxy that ends TLS the scheme the server sees may differ.
    hosts: AllowedHosts = request.app.state.hosts
    host = request.headers.get("host", request.url.netloc)
    origin_name, origin_port = _host_and_port(origin)
    host_port = _host_and_port(f"{request.url.scheme}://{host}")[1]
    if not hosts.allows(origin_name) or not hosts.is_listed(origin_name) and origin_port != host_port:
        raise PermissionDenied(f"a form from {origin} may not write here; open the dashboard at {host} itself")


def _host_and_port(url: str) -> tuple[str | None, int | None]:
    parts = urlsplit(url)
    try:
        return parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is no number: no host either
        return None, None


def now_ms() -> int:
    return int(time.time() * 1000)


def is_fragment(request: Request) -> bool:
    """An HTMX request for part of a page, not a history restore (which needs the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"
