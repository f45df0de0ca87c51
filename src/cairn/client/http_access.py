"""Users, API tokens, teams and role grants over REST API v1: the part of
:class:`~cairn.client.http.HttpTracking` that manages access (docs/access.md).

Every name is escaped into one path segment, so a name with a slash reaches the same route
and gets the same answer (a user_not_found, say) as in embedded mode.
"""

from __future__ import annotations

from cairn.client.http_paths import API, OverHttp, model_url, segment
from cairn.core import limits
from cairn.core.access import ApiToken, Grant, Identity, ResourceKind, Role, SubjectKind, Team, User
from cairn.core.access_wire import (
    grant_from_wire,
    identity_from_wire,
    team_from_wire,
    token_from_wire,
    user_from_wire,
)


def user_url(username: str) -> str:
    return f"{API}/users/{segment(username)}"


def team_url(name: str) -> str:
    return f"{API}/teams/{segment(name)}"


def members_url(kind: ResourceKind, resource: str) -> str:
    if kind is ResourceKind.MODEL:
        return f"{model_url(resource)}/members"
    return f"{API}/projects/{segment(limits.check_name(resource, 'project name'))}/members"


class AccessOverHttp(OverHttp):
    """Mixed into HttpTracking, which provides ``_request``."""

    def sign_in_for_token(
        self, username: str, password: str, token_name: str, *, expires_at: int | None = None
    ) -> tuple[ApiToken, str]:
        """A new personal token for the user whose name and password these are (``cairn
        login``); HTTP only, as embedded mode has nobody to sign in. Raises SignInFailed,
        TooManyAttempts, NotFound (a server without sign-in)."""
        body = {"username": username, "password": password, "token_name": token_name, "expires_at": expires_at}
        data = self._request("POST", f"{API}/auth/token", body=body)
        return token_from_wire(data["token"]), data["secret"]

    def whoami(self) -> Identity:
        return identity_from_wire(self._request("GET", f"{API}/me"))

    # -- users ----------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        *,
        password: str | None = None,
        display_name: str = "",
        email: str = "",
        is_admin: bool = False,
        is_service: bool = False,
    ) -> User:
        body = {
            "username": username,
            "password": password,
            "display_name": display_name,
            "email": email,
            "is_admin": is_admin,
            "is_service": is_service,
        }
        return user_from_wire(self._request("POST", f"{API}/users", body=body))

    def get_user(self, username: str) -> User:
        return user_from_wire(self._request("GET", user_url(username)))

    def list_users(self) -> list[User]:
        return [user_from_wire(u) for u in self._request("GET", f"{API}/users")["users"]]

    def update_user(
        self,
        username: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        is_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> User:
        changes = {"display_name": display_name, "email": email, "is_admin": is_admin, "disabled": disabled}
        body = {k: v for k, v in changes.items() if v is not None}
        return user_from_wire(self._request("PATCH", user_url(username), body=body))

    def set_password(self, username: str, password: str, *, current_password: str | None = None) -> None:
        body = {"password": password, "current_password": current_password}
        self._request("PUT", f"{user_url(username)}/password", body=body)

    # -- API tokens -----------------------------------------------------------------------

    def create_token(
        self, name: str, *, username: str | None = None, expires_at: int | None = None
    ) -> tuple[ApiToken, str]:
        body = {"name": name, "user": username, "expires_at": expires_at}
        data = self._request("POST", f"{API}/tokens", body=body)
        return token_from_wire(data["token"]), data["secret"]

    def list_tokens(self, username: str | None = None) -> list[ApiToken]:
        data = self._request("GET", f"{API}/tokens", params={"user": username})
        return [token_from_wire(t) for t in data["tokens"]]

    def revoke_token(self, token_id: str) -> ApiToken:
        limits.check_name(token_id, "token id")
        return token_from_wire(self._request("DELETE", f"{API}/tokens/{segment(token_id)}"))

    # -- teams ----------------------------------------------------------------------------

    def create_team(self, name: str, description: str = "") -> Team:
        body = {"name": name, "description": description}
        return team_from_wire(self._request("POST", f"{API}/teams", body=body))

    def delete_team(self, name: str) -> None:
        self._request("DELETE", team_url(name))

    def list_teams(self) -> list[Team]:
        return [team_from_wire(t) for t in self._request("GET", f"{API}/teams")["teams"]]

    def set_team_member(self, team: str, username: str, member: bool = True) -> Team:
        url = f"{team_url(team)}/members/{segment(username)}"
        return team_from_wire(self._request("PUT" if member else "DELETE", url))

    # -- roles ----------------------------------------------------------------------------

    def grant_role(self, kind: ResourceKind, resource: str, subject: str, role: Role, *, team: bool = False) -> Grant:
        body = {"subject": subject, "role": Role(role).value, "team": team}
        return grant_from_wire(self._request("PUT", members_url(kind, resource), body=body))

    def revoke_role(self, kind: ResourceKind, resource: str, subject: str, *, team: bool = False) -> None:
        subject_kind = SubjectKind.TEAM if team else SubjectKind.USER
        url = f"{members_url(kind, resource)}/{subject_kind.value}/{segment(subject)}"
        self._request("DELETE", url)

    def list_grants(self, kind: ResourceKind, resource: str) -> list[Grant]:
        return [grant_from_wire(g) for g in self._request("GET", members_url(kind, resource))["members"]]
