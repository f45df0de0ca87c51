"""Who is looking, and the service acting for them.

Until users exist the dashboard asks nobody to sign in. A viewer's name (the author of their
comments and views) is what they set in the page header, kept in a cookie; without one it is
the operating-system user on a loopback server (``cairn ui`` on one's own machine) and
"anonymous" on a shared server. Comments keep that name, so "edit your own" is a courtesy among
colleagues, not a security boundary, until authentication replaces it.
"""

from __future__ import annotations

import ipaddress
import time
from urllib.parse import unquote, urlsplit

from fastapi import Request

from cairn.core import limits
from cairn.core.errors import InvalidValue, PermissionDenied
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService

VIEWER_COOKIE = "cairn_viewer"


def viewer_name(request: Request) -> str:
    name = unquote(request.cookies.get(VIEWER_COOKIE, "")).strip()
    if name:
        try:
            return limits.check_name(name, "name")
        except InvalidValue:
            pass
    host = request.app.state.settings.host
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = host == "localhost"
    return Principal.local_user().name if local else "anonymous"


def service(request: Request) -> TrackingService:
    """The tracking service acting as the viewer; the viewer is also kept for the templates."""
    request.state.viewer = viewer_name(request)
    tracking: TrackingService = request.app.state.tracking
    return tracking.acting_as(Principal(request.state.viewer))


def same_origin(request: Request) -> None:
    """Refuse a form posted from another site (a page elsewhere aiming at a local ``cairn ui``).

    Browsers send ``Origin`` with every POST; a request without one (curl, a script) is not a
    browser acting for someone else and passes.
    """
    origin = request.headers.get("origin")
    if origin is None or origin == "null" and request.headers.get("sec-fetch-site") in (None, "same-origin"):
        return
    # Host and port only: behind a proxy that ends TLS the scheme the server sees may differ.
    host = request.headers.get("host", request.url.netloc)
    if urlsplit(origin).netloc != host:
        raise PermissionDenied(f"a form from {origin} may not write here; open the dashboard at {host} itself")


def now_ms() -> int:
    return int(time.time() * 1000)


def is_fragment(request: Request) -> bool:
    """An HTMX request for part of a page, not a history restore (which needs the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"
