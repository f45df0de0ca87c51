"""The Content-Security-Policy of every HTML page the server answers.

The dashboard runs only its own files: ``script-src 'self'`` with no ``'unsafe-inline'`` and no
``'unsafe-eval'``, so even a name that slipped past escaping into the HTML could not run a
script (templates hold no inline handlers or scripts; the JSON in
``<script type="application/json">`` is data, which CSP does not govern). HTMX is told not to
eval (``allowEval``), not to run scripts it swaps in, and not to inject its indicator
``<style>`` (``htmx-config`` in ``base.html``).

Styles allow inline *attributes* only (``style-src-attr 'unsafe-inline'``): ECharts writes its
tooltip as HTML whose markers carry ``style="…"`` attributes, and the HTML parser applies those
only under that keyword. ``<style>`` elements and style sheets from elsewhere stay refused
(``style-src 'self'``), so injected CSS could not read the page either. Styles that ECharts and
our scripts set through ``element.style`` are CSSOM, which CSP does not restrict.

A response that already has a policy keeps it: Swagger UI at ``/api/v1/docs`` brings its own
(:func:`with_inline_scripts`), the same but for the inline script FastAPI's page starts it with,
allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "content-security-policy"

_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "style-src-attr": "'unsafe-inline'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def _policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in directives.items())


#: The dashboard's policy.
DASHBOARD_POLICY = _policy(_DIRECTIVES)

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def with_inline_scripts(html: str) -> str:
    """The dashboard's policy, allowing also the inline ``<script>`` elements of ``html`` by
    their hashes: for a page that is not ours (Swagger UI), which nothing a user typed reaches."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    return _policy(_DIRECTIVES | {"script-src": " ".join(["'self'", *hashes])})


class ContentSecurityPolicyMiddleware:
    """Adds :data:`DASHBOARD_POLICY` to every ``text/html`` response that has no policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html") and HEADER not in headers:
                    headers[HEADER] = DASHBOARD_POLICY
            await send(message)

        await self.app(scope, receive, send_with_policy)
