"""Signing in to the dashboard and out again (docs/access.md, "Signing in to the dashboard").

``GET /login`` is the form (and, with single sign-on configured, a link to the identity
provider); ``POST /login`` checks the user name and password with the server's authenticator,
starts a new server-side session (always a new id) and goes on to ``next``. A wrong name or
password, known user or not, answers the same page with the same message (401); past the rate
limit, 429. ``POST /logout`` ends the session on the server and clears the cookie.

``next`` is where the sign-in page was sent from (ui/__init__.py sign_in_redirect): only a path
of this site is followed (:func:`local_path`), never another site's address, so a link to
``/login?next=//evil.example`` cannot send a person who signs in elsewhere.

Without authentication (``cairn ui``) there is nobody to sign in: both go to the projects.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cairn.core.errors import SignInFailed, TooManyAttempts, Unauthenticated
from cairn.server import deps
from cairn.server.sessions import clear_session_cookie, set_session_cookie
from cairn.server.ui.context import same_origin, signing_in
from cairn.server.ui.templating import render
from cairn.service.authn import Authenticator

router = APIRouter(include_in_schema=False)

HOME = "/projects"
#: The one message for any wrong name or password: it never says which part was wrong.
WRONG = "Wrong user name or password"
TOO_MANY = "Too many sign-in attempts: wait a minute, then try again"
#: A ``next`` longer than this is no page of ours (the longest page URL is a runs query).
MAX_NEXT_LENGTH = 4096


def local_path(target: str | None, default: str = HOME) -> str:
    """``target`` if it is a path on this site, else ``default``.

    A path starts with one ``/``: ``//host`` and ``/\\host`` are other sites to a browser (which
    reads a backslash as a slash), and a scheme (``https:``, ``javascript:``) is refused by the
    leading ``/``. Browsers drop tabs and line breaks inside a URL, so ``/<tab>/host`` would
    become ``//host``: control characters are refused too."""
    if not target or len(target) > MAX_NEXT_LENGTH or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return default
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    return target


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


def _signed_in(request: Request) -> bool:
    try:
        deps.principal(request)
    except Unauthenticated:
        return False
    return True


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> Response:
    target = local_path(next)
    if not signing_in(request) or _signed_in(request):
        return RedirectResponse(target, status_code=303)
    return _page(request, target)


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(same_origin)])
def sign_in(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    target = local_path(next)
    if not signing_in(request):
        return RedirectResponse(target, status_code=303)
    authenticator = _authenticator(request)
    address = _address(request)
    try:
        user = authenticator.sign_in(username.strip(), password, address)
    except SignInFailed:
        return _page(request, target, status_code=401, error=WRONG, username=username)
    except TooManyAttempts:
        return _page(request, target, status_code=429, error=TOO_MANY, username=username)
    # A session this browser held before ends: the new one has a new id (no fixation), and
    # the old one is not left behind alive.
    old = deps.session_cookie(request)
    if old is not None:
        authenticator.end_session(old, address)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, authenticator.start_session(user, address))
    return response


@router.post("/logout", dependencies=[Depends(same_origin)])
def sign_out(request: Request) -> Response:
    if not signing_in(request):
        return RedirectResponse(HOME, status_code=303)
    secret = deps.session_cookie(request)
    if secret is not None:
        _authenticator(request).end_session(secret, _address(request))
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


def _page(
    request: Request, target: str, *, status_code: int = 200, error: str = "", username: str = ""
) -> HTMLResponse:
    settings = request.app.state.settings
    sso = f"/auth/oidc/login?{urlencode({'next': target})}" if settings.oidc_issuer else None
    response = render(
        request,
        "login.html",
        status_code=status_code,
        next=target,
        error=error,
        # Shown again after a refusal, unless it is not a name anyone could have (a pasted
        # password, 10 kB of junk).
        username=username.strip()[:100],
        sso_href=sso,
        sso_name=settings.oidc_display_name,
    )
    if status_code == 429:
        response.headers["Retry-After"] = "60"
    return response
