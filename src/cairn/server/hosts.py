"""Which ``Host`` the server answers to: the defence against DNS rebinding.

A page on ``evil.example`` can make its name resolve to 127.0.0.1 a moment later; the browser
then sends that page's requests to a local Cairn, with ``Host: evil.example`` and an ``Origin``
to match, and lets the page read the answers. Listening on loopback does not stop that; naming
the hosts the server is does. A request is answered when its ``Host`` is

- a loopback name: ``localhost``, 127.0.0.0/8, ``[::1]``;
- the address the server is bound to (``--host``); when that is a wildcard (``0.0.0.0``,
  ``::``), any IP address: a rebinding attack needs a name of its own, and the browser keeps a
  page served from an address apart from pages served from names;
- a name given to ``--allowed-hosts`` (a proxy's ``cairn.example.com``, or ``*.example.com``
  for its subdomains); ``*`` alone answers any host and switches the check off.

Anything else is refused with 400 ``invalid_host``, before routing: the API answers the JSON
envelope, the dashboard a page. ``/health`` is exempt: it reveals nothing but the version, and
load balancers probe it with whatever ``Host`` they like.

Starlette's ``TrustedHostMiddleware`` does the same match, but answers plain text and has no
notion of addresses; this middleware answers through Cairn's own errors.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cairn.core.addresses import AllowedHosts, host_name
from cairn.core.errors import InvalidHost

__all__ = ["EXEMPT_PATHS", "AllowedHosts", "HostCheckMiddleware", "host_name"]

EXEMPT_PATHS = frozenset({"/health"})


class HostCheckMiddleware:
    """Refuses every request whose ``Host`` the allow-list does not hold."""

    def __init__(self, app: ASGIApp, hosts: AllowedHosts) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Only HTTP: Cairn serves no websockets (one would need a close frame, not a response).
        if scope["type"] != "http" or self.hosts.any or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        header = request.headers.get("host", "")
        if self.hosts.allows(host_name(header)):
            await self.app(scope, receive, send)
            return
        # Imported here: server.errors imports the dashboard, whose form check imports this module.
        from cairn.server.errors import error_response

        error = InvalidHost(
            f"this server does not answer to the host {header!r}; open it by the address it listens "
            "on, or start it with --allowed-hosts naming that host",
            details={"host": header},
        )
        await error_response(request, error)(scope, receive, send)
