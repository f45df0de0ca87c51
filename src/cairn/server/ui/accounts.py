"""A user's own account (``/account``) and the admins' page of users and teams
(``/admin/users``); docs/access.md.

The pages only ask the service, which decides: anyone signed in manages their own API tokens
and password; only a global admin lists, creates, disables and enables users, resets passwords,
makes admins and manages teams (anyone else gets the service's 403).

A new token's secret appears on one page only: the answer to the form that created it, marked
``no-store``; the account page lists tokens by name and first characters. Every write is a
form post from the dashboard's own origin (context.same_origin), then a redirect back (303)
with a fixed notice; what the service refuses is shown above the forms, with nothing stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cairn.core.access import MAX_PASSWORD_LENGTH
from cairn.core.errors import CairnError, InvalidValue, Unauthenticated
from cairn.server import deps
from cairn.server.sessions import set_session_cookie
from cairn.server.ui.context import now_ms, same_origin, service
from cairn.server.ui.templating import render
from cairn.service.authn import Authenticator
from cairn.service.tracking import TrackingService

router = APIRouter(include_in_schema=False)
_WRITES = [Depends(same_origin)]

#: The lifetimes the token form offers, in days (none: never expires).
TOKEN_LIFETIMES_DAYS = (7, 30, 90, 365)
_DAY_MS = 86_400_000
#: What a redirect back may say; the page shows only these (no text from the URL).
NOTICES = {
    "token-revoked": "The token is revoked: it no longer signs anyone in.",
    "password-changed": "Your password is changed. Your other browser sessions have ended.",
    "user-created": "The user is created.",
    "user-updated": "The user is changed.",
    "password-reset": "The password is reset; the user's browser sessions have ended.",
    "team-created": "The team is created.",
    "team-deleted": "The team is deleted.",
    "team-changed": "The team's members are changed.",
}


def _back(url: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?notice={notice}", status_code=303)


def _refused(exc: CairnError) -> bool:
    """A refusal the page shows beside its forms (rather than the error page)."""
    return not isinstance(exc, Unauthenticated) and exc.http_status < 500


# -- my account ---------------------------------------------------------------------------------


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> HTMLResponse:
    return _account(request, service(request))


def _account(
    request: Request, tracking: TrackingService, *, status_code: int = 200, error: CairnError | None = None
) -> HTMLResponse:
    me = tracking.get_user(tracking.principal.name)
    return render(
        request,
        "account.html",
        status_code=status_code,
        me=me,
        tokens=tracking.list_tokens(),
        lifetimes=TOKEN_LIFETIMES_DAYS,
        error=error,
        notice=NOTICES.get(request.query_params.get("notice", "")),
        max_password=MAX_PASSWORD_LENGTH,
        now=now_ms(),
    )


@router.post("/account/tokens", response_class=HTMLResponse, dependencies=_WRITES)
def create_token(
    request: Request, name: Annotated[str, Form()] = "", expires_in_days: Annotated[str, Form()] = ""
) -> Response:
    tracking = service(request)
    try:
        expires_at = _expiry(expires_in_days)
        token, secret = tracking.create_token(name.strip(), expires_at=expires_at)
    except CairnError as exc:
        if not _refused(exc):
            raise
        return _account(request, tracking, status_code=exc.http_status, error=exc)
    response = render(request, "token_created.html", token=token, secret=secret, now=now_ms())
    # The one page with the secret: no cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _expiry(days: str) -> int | None:
    if not days.strip():
        return None
    if not days.strip().isdigit() or int(days) not in TOKEN_LIFETIMES_DAYS:
        offered = ", ".join(str(d) for d in TOKEN_LIFETIMES_DAYS)
        raise InvalidValue(f"a token's lifetime is one of {offered} days, or none")
    return now_ms() + int(days) * _DAY_MS


@router.post("/account/tokens/{token_id}/revoke", dependencies=_WRITES)
def revoke_token(request: Request, token_id: str, back: Annotated[str, Form()] = "") -> Response:
    service(request).revoke_token(token_id)
    return _back("/admin/users" if back == "admin" else "/account", "token-revoked")


@router.post("/account/password", response_class=HTMLResponse, dependencies=_WRITES)
def change_password(
    request: Request, current_password: Annotated[str, Form()] = "", new_password: Annotated[str, Form()] = ""
) -> Response:
    tracking = service(request)
    me = tracking.principal.name
    try:
        tracking.set_password(me, new_password, current_password=current_password)
    except CairnError as exc:
        if not _refused(exc):
            raise
        return _account(request, tracking, status_code=exc.http_status, error=exc)
    # A new password ends every session of the user, this one too (the store does, in the same
    # transaction): the person who just proved it stays signed in, with a new session.
    response = _back("/account", "password-changed")
    authenticator: Authenticator | None = request.app.state.authenticator
    if authenticator is not None and deps.session_cookie(request) is not None:
        address = request.client.host if request.client else None
        set_session_cookie(response, request, authenticator.start_session(tracking.get_user(me), address))
    return response


# -- users and teams (admins) -------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request) -> HTMLResponse:
    return _users(request, service(request))


def _users(
    request: Request, tracking: TrackingService, *, status_code: int = 200, error: CairnError | None = None
) -> HTMLResponse:
    users = tracking.list_users()  # admins only: anyone else gets the service's 403 here
    return render(
        request,
        "admin_users.html",
        status_code=status_code,
        users=users,
        teams=tracking.list_teams(),
        service_tokens={u.username: tracking.list_tokens(u.username) for u in users if u.is_service},
        error=error,
        notice=NOTICES.get(request.query_params.get("notice", "")),
        max_password=MAX_PASSWORD_LENGTH,
        now=now_ms(),
    )


def _admin_act(request: Request, write: Callable[[TrackingService], Any], notice: str) -> Response:
    """Do ``write`` as the signed-in admin and go back to the users page; if the service
    refuses, the page again with why."""
    tracking = service(request)
    try:
        write(tracking)
    except CairnError as exc:
        if not _refused(exc):
            raise
        return _users(request, tracking, status_code=exc.http_status, error=exc)
    return _back("/admin/users", notice)


@router.post("/admin/users", response_class=HTMLResponse, dependencies=_WRITES)
def create_user(
    request: Request,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "person",
    is_admin: Annotated[bool, Form()] = False,
) -> Response:
    service_account = kind == "service"
    return _admin_act(
        request,
        lambda t: t.create_user(
            username.strip(),
            password=None if service_account else password,
            display_name=display_name.strip(),
            email=email.strip(),
            is_admin=is_admin,
            is_service=service_account,
        ),
        "user-created",
    )


@router.post("/admin/users/{username}/password", response_class=HTMLResponse, dependencies=_WRITES)
def reset_password(request: Request, username: str, password: Annotated[str, Form()] = "") -> Response:
    return _admin_act(request, lambda t: t.set_password(username, password), "password-reset")


@router.post("/admin/users/{username}/tokens", response_class=HTMLResponse, dependencies=_WRITES)
def create_service_token(
    request: Request, username: str, name: Annotated[str, Form()] = "", expires_in_days: Annotated[str, Form()] = ""
) -> Response:
    """A token for a service account (which cannot sign in to make its own)."""
    tracking = service(request)
    try:
        token, secret = tracking.create_token(name.strip(), username=username, expires_at=_expiry(expires_in_days))
    except CairnError as exc:
        if not _refused(exc):
            raise
        return _users(request, tracking, status_code=exc.http_status, error=exc)
    response = render(request, "token_created.html", token=token, secret=secret, now=now_ms())
    response.headers["Cache-Control"] = "no-store"
    return response


#: The switches of a user row: the form's action, and the (disabled, is_admin) it sets.
_USER_CHANGES: dict[str, tuple[bool | None, bool | None]] = {
    "disable": (True, None),
    "enable": (False, None),
    "make-admin": (None, True),
    "unmake-admin": (None, False),
}


# After the users' other forms: this route's {change} would take "password" and "tokens".
@router.post("/admin/users/{username}/{change}", response_class=HTMLResponse, dependencies=_WRITES)
def change_user(request: Request, username: str, change: str) -> Response:
    if change not in _USER_CHANGES:
        raise InvalidValue(f"no such change to a user: {change[:40]!r}")
    disabled, is_admin = _USER_CHANGES[change]
    return _admin_act(request, lambda t: t.update_user(username, disabled=disabled, is_admin=is_admin), "user-updated")


@router.post("/admin/teams", response_class=HTMLResponse, dependencies=_WRITES)
def create_team(
    request: Request, name: Annotated[str, Form()] = "", description: Annotated[str, Form()] = ""
) -> Response:
    return _admin_act(request, lambda t: t.create_team(name.strip(), description.strip()), "team-created")


@router.post("/admin/teams/{team}/delete", response_class=HTMLResponse, dependencies=_WRITES)
def delete_team(request: Request, team: str) -> Response:
    return _admin_act(request, lambda t: t.delete_team(team), "team-deleted")


@router.post("/admin/teams/{team}/members", response_class=HTMLResponse, dependencies=_WRITES)
def add_team_member(request: Request, team: str, username: Annotated[str, Form()] = "") -> Response:
    return _admin_act(request, lambda t: t.set_team_member(team, username.strip(), True), "team-changed")


@router.post("/admin/teams/{team}/members/{username}/remove", response_class=HTMLResponse, dependencies=_WRITES)
def remove_team_member(request: Request, team: str, username: str) -> Response:
    return _admin_act(request, lambda t: t.set_team_member(team, username, False), "team-changed")
