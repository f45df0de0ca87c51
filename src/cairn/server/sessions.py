"""The browser session's cookie: how it is set and cleared (docs/access.md, "Sessions").

HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it), path ``/``; over
https also ``Secure`` with the ``__Host-`` prefix, which browsers accept only from a secure
origin, for the exact host, without a Domain: no other site or subdomain can set or shadow it.
The cookie holds the session's random id and nothing else; the server keeps the session.
"""

from __future__ import annotations

from fastapi import Request, Response

from cairn.server.deps import SECURE_SESSION_COOKIE, SESSION_COOKIE

#: Where a sign-in goes when it was given nowhere (or somewhere not allowed) to return to.
DEFAULT_NEXT = "/projects"
_MAX_NEXT = 2000


def safe_next(value: str | None) -> str:
    """``next`` if it is a path on this server, else :data:`DEFAULT_NEXT`: a sign-in never
    sends the browser to another site (``//evil.example`` and ``/\\evil.example`` are other
    sites to a browser; so is anything with a scheme)."""
    if (
        not value
        or len(value) > _MAX_NEXT
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value)
    ):
        return DEFAULT_NEXT
    return value


def served_over_https(request: Request) -> bool:
    """Whether the browser reached us over https: directly, or through the proxy named by
    ``public_url``."""
    public_url = request.app.state.settings.public_url
    return request.url.scheme == "https" or bool(public_url and public_url.startswith("https://"))


def set_session_cookie(response: Response, request: Request, secret: str) -> None:
    """Put a new session's id in the browser; it lives until the session's absolute expiry."""
    secure = served_over_https(request)
    response.set_cookie(
        SECURE_SESSION_COOKIE if secure else SESSION_COOKIE,
        secret,
        max_age=request.app.state.settings.session_max_s,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    secure = served_over_https(request)
    for name in (SECURE_SESSION_COOKIE, SESSION_COOKIE):
        response.delete_cookie(
            name, path="/", secure=secure or name == SECURE_SESSION_COOKIE, httponly=True, samesite="lax"
        )
