"""Cross-site request forgery: a write a browser sends on behalf of another site's page
(docs/access.md, "CSRF and security headers").

A browser tells where a request comes from in two headers an attacker's page cannot set:
``Origin`` (on every POST, and on every cross-origin fetch) and ``Sec-Fetch-Site`` (on every
request of current browsers). The check needs no token in the forms:

- always: an ``Origin`` must be a host this server answers to (not merely the request's own
  ``Host``, which a DNS-rebinding page chooses), and on that host the same port;
- with authentication, on writes (anything but GET, HEAD, OPTIONS) also: ``Sec-Fetch-Site``
  must be ``same-origin`` (or ``none``: the person typed or bookmarked it), never ``same-site``
  or ``cross-site``; and a write that carries the session cookie but neither header is refused,
  since a browser always sends one of them (what sends neither is a script, which holds a
  token, not a cookie).

The session cookie is also SameSite=Lax, so browsers already keep it off cross-site POSTs; the
check stands for a sibling subdomain (same-site, so Lax lets the cookie through) and for a
browser that does not honour SameSite.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from cairn.core.errors import PermissionDenied
from cairn.server.hosts import AllowedHosts

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})


def check_same_origin(request: Request, *, strict: bool, session_cookie: bool) -> None:
    """Refuse a request another site's page made the browser send (PermissionDenied, 403).

    ``strict``: the server requires authentication, so writes are held to the stricter rule
    above; ``session_cookie``: the request carries the session cookie."""
    strict = strict and request.method not in _SAFE_METHODS
    fetch_site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if strict and fetch_site is not None and fetch_site not in _TRUSTED_FETCH_SITES:
        raise PermissionDenied("a form from another site may not write here")
    if strict and session_cookie and fetch_site is None and origin in (None, "null"):
        raise PermissionDenied("a write from a browser must say where it comes from (Origin)")
    if origin is None or origin == "null" and fetch_site in (None, "same-origin"):
        # No Origin: not a browser acting for another page (curl, a script). "null" from the
        # same origin: a form after a redirect, in browsers that hide the origin then.
        return
    # On the listed host the same port: another port of localhost is another site. A proxy's
    # listed name is exempt from the port, since the proxy, not this server, picks the port
    # the browser sees. The scheme is not compared: behind a proxy that ends TLS the scheme
    # the server sees may differ.
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
