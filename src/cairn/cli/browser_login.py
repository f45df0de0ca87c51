"""The CLI's half of ``cairn login --browser`` (the dashboard's half is server/ui/cli_login.py;
docs/access.md, "Signing in from the CLI and SDK").

A one-shot HTTP listener on 127.0.0.1 (a port the system picks) waits for the browser to come
back to ``/callback?state=S&token=SECRET&token_id=ID`` from the dashboard's confirmation page.
``state`` is random per sign-in and compared in constant time: a request without it (another
program on this computer guessing the port, a stale tab) gets 400 and changes nothing.
"""

from __future__ import annotations

import secrets
import time
import webbrowser
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import click

#: How long the CLI waits for the browser, in seconds, unless told otherwise.
DEFAULT_TIMEOUT_S = 300

# No favicon: the browser would ask for one after the listener is gone.
_DONE_PAGE = b"""<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>Cairn CLI signed in</title>
<p>The Cairn CLI is signed in. You can close this tab.</p>"""
_REFUSED_PAGE = b"""<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<title>Not for this sign-in</title>
<p>This is not the sign-in the Cairn CLI waits for.</p>"""


@dataclass(frozen=True)
class Handed:
    """What the browser brought back."""

    token: str
    token_id: str


class CallbackListener(HTTPServer):
    """Listens on 127.0.0.1, a free port; ``handed`` is set by the first right request."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.handed: Handed | None = None
        super().__init__(("127.0.0.1", 0), _Callback)


class _Callback(BaseHTTPRequestHandler):
    server: CallbackListener
    #: A browser may open a connection it never uses (a preconnect): drop it rather than wait.
    timeout = 5

    def do_GET(self) -> None:  # the name http.server calls
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        state, token, token_id = query.get("state", ""), query.get("token", ""), query.get("token_id", "")
        fits = url.path == "/callback" and secrets.compare_digest(state.encode(), self.server.state.encode())
        if self.server.handed is not None or not fits or not token or not token_id:
            self._answer(400, _REFUSED_PAGE)
            return
        self.server.handed = Handed(token, token_id)
        self._answer(200, _DONE_PAGE)

    def _answer(self, status: int, page: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the request line holds the token."""


def sign_in_in_browser(url: str, token_name: str, timeout_s: float) -> Handed:
    """Open the dashboard's CLI sign-in page for ``url`` and wait for the token it hands back.
    Raises ClickException when nothing comes within ``timeout_s`` seconds."""
    state = secrets.token_urlsafe(32)
    with CallbackListener(state) as listener:
        port = listener.server_address[1]
        page = f"{url}/account/cli-login?{urlencode({'port': port, 'state': state, 'name': token_name})}"
        click.echo(f"Sign in in your browser; if it does not open, open this address:\n  {page}", err=True)
        try:
            webbrowser.open(page)
        except webbrowser.Error:
            pass  # the address is printed above
        deadline = time.monotonic() + timeout_s
        while listener.handed is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise click.ClickException(
                    f"no sign-in came back from the browser within {timeout_s:g} seconds; run cairn login again"
                )
            listener.timeout = min(left, 1.0)
            listener.handle_request()
        return listener.handed
