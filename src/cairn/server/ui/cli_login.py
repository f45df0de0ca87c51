"""Signing the CLI in through the dashboard (``cairn login --browser``; docs/access.md,
"Signing in from the CLI and SDK").

For people who sign in only by single sign-on and so have no password to give ``cairn login``.
The CLI listens on a loopback port and opens ``/account/cli-login?port=P&state=S&name=N``. Signed
in (an anonymous visit goes through /login and comes back), the person confirms with a form
post from this site (context.same_origin), which makes them a personal token expiring after
:data:`CLI_TOKEN_DAYS`; the answer links to ``http://127.0.0.1:P/callback`` with the state and the
secret. A link, not a form nor a redirect: the Content-Security-Policy's ``form-action 'self'``
forbids a form (and, in browsers, a redirect after one) from leaving this site. The target is
always 127.0.0.1, whatever the query says: a crafted link can make nobody's token go elsewhere.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from cairn.core.errors import InvalidValue
from cairn.server.ui.context import now_ms, same_origin, service
from cairn.server.ui.templating import render

router = APIRouter(include_in_schema=False)

#: How long a token made for the CLI here lives (a year is the most any token may).
CLI_TOKEN_DAYS = 90
_DAY_MS = 86_400_000
#: The CLI's state: secrets.token_urlsafe's alphabet, long enough to be unguessable.
_STATE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_MIN_PORT, _MAX_PORT = 1024, 65535
DEFAULT_NAME = "cairn login (browser)"


def _checked(port: str, state: str, name: str) -> tuple[int, str, str]:
    if not port.isdigit() or not _MIN_PORT <= int(port) <= _MAX_PORT:
        raise InvalidValue(f"the CLI's port is a number from {_MIN_PORT} to {_MAX_PORT}")
    if not _STATE.fullmatch(state):
        raise InvalidValue("the CLI's state is 16 to 128 letters, digits, '-' or '_'")
    # The token's name is checked by the service when the token is made.
    return int(port), state, name.strip() or DEFAULT_NAME


@router.get("/account/cli-login", response_class=HTMLResponse)
def cli_login_page(request: Request, port: str = "", state: str = "", name: str = "") -> HTMLResponse:
    tracking = service(request)  # anonymous: Unauthenticated, and so to /login and back here
    checked_port, checked_state, checked_name = _checked(port, state, name)
    me = tracking.get_user(tracking.principal.name)
    return render(
        request,
        "cli_login.html",
        me=me,
        port=checked_port,
        state=checked_state,
        token_name=checked_name,
        days=CLI_TOKEN_DAYS,
    )


@router.post("/account/cli-login", response_class=HTMLResponse, dependencies=[Depends(same_origin)])
def cli_login(
    request: Request,
    port: Annotated[str, Form()] = "",
    state: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    tracking = service(request)
    checked_port, checked_state, checked_name = _checked(port, state, name)
    token, secret = tracking.create_token(checked_name, expires_at=now_ms() + CLI_TOKEN_DAYS * _DAY_MS)
    query = urlencode({"state": checked_state, "token": secret, "token_id": token.id})
    response = render(
        request,
        "cli_login_done.html",
        token=token,
        callback=f"http://127.0.0.1:{checked_port}/callback?{query}",
    )
    # The secret is in this page: no cache keeps it, and no other site learns this address.
    response.headers["Cache-Control"] = "no-store"
    return response
