"""Headers every response carries, beside the Content-Security-Policy of server/csp.py
(docs/access.md, "CSRF and security headers").

- ``X-Frame-Options: DENY``: no page of ours inside another site's frame (clickjacking); the
  policy's ``frame-ancestors 'none'`` says the same to browsers that read it.
- ``Referrer-Policy: same-origin``: a link out of the dashboard does not tell the other site
  which run, project or review it was followed from.
- ``X-Content-Type-Options: nosniff``: a browser takes a response for what its Content-Type
  says, so an uploaded artifact served as text never runs as a script or a page.
- With authentication, ``Cache-Control: no-store`` on everything but the static files: pages and
  API answers hold what only the signed-in user may see, and must not stay in a browser's cache
  (or a shared one) after they sign out. A response that chose its own Cache-Control keeps it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = {
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}
#: Files the same for everyone, which a browser may keep.
_PUBLIC_PREFIXES = ("/static/", "/api/v1/docs-assets/")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, private: bool) -> None:
        """``private``: the server requires authentication, so answers are kept out of caches."""
        self.app = app
        self.private = private

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = self.private and not str(scope.get("path", "")).startswith(_PUBLIC_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    if name not in headers:
                        headers[name] = value
                if no_store and "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
