"""Request and response models of the access routes (routes/access.py): users, API tokens,
teams, role grants and who is signed in. Beside :mod:`cairn.server.schemas`, whose conventions
they follow: a rule the service checks (a user name's characters, a password's length) is
stated for the OpenAPI document only, so a bad value is the same error over HTTP as embedded.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import Field

from cairn.core import limits
from cairn.core.access import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    USERNAME_PATTERN,
    ResourceKind,
    Role,
    SubjectKind,
)
from cairn.server.schemas import NAME_RULE, Millis, Name, Out, Strict, documented, text_rule
from cairn.service.access import MAX_DISPLAY_NAME, MAX_EMAIL, MAX_TEAM_DESCRIPTION

USERNAME_RULE: dict[str, Any] = {"pattern": USERNAME_PATTERN, "maxLength": 100}
PASSWORD_RULE: dict[str, Any] = {
    "minLength": MIN_PASSWORD_LENGTH,
    "maxLength": MAX_PASSWORD_LENGTH,
    "description": "12 to 1,024 characters; not a common password nor the user name",
}

Username = Annotated[str, documented(USERNAME_RULE)]
Password = Annotated[str, documented(PASSWORD_RULE)]
DisplayName = Annotated[str, documented(text_rule(MAX_DISPLAY_NAME))]
Email = Annotated[str, documented(text_rule(MAX_EMAIL))]
UsernamePath = Annotated[str, Path(min_length=1, max_length=100, json_schema_extra=USERNAME_RULE)]
TeamPath = Annotated[str, Path(min_length=1, max_length=100, json_schema_extra=USERNAME_RULE)]
TokenIdPath = Annotated[str, Path(min_length=1, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=NAME_RULE)]
#: Who holds a role: a user name or a team name (the same characters).
SubjectPath = Annotated[str, Path(min_length=1, max_length=100, json_schema_extra=USERNAME_RULE)]


# -- users -------------------------------------------------------------------------------------


class UserCreate(Strict):
    username: Username
    password: Password | None = Field(default=None, description="none for a service account")
    display_name: DisplayName = ""
    email: Email = ""
    is_admin: bool = Field(default=False, strict=True, description="a global admin: may do everything")
    is_service: bool = Field(default=False, strict=True, description="signs in with tokens only, never a password")


class UserPatch(Strict):
    display_name: DisplayName | None = None
    email: Email | None = None
    is_admin: bool | None = Field(default=None, strict=True)
    disabled: bool | None = Field(default=None, strict=True, description="true ends the user's sessions and tokens")


class PasswordSet(Strict):
    password: Password
    current_password: str | None = Field(
        default=None, max_length=MAX_PASSWORD_LENGTH, description="needed when changing one's own password"
    )


class UserOut(Out):
    id: str
    username: str
    display_name: str
    email: str
    is_admin: bool
    disabled: bool
    is_service: bool
    source: str = Field(description="local, or the OpenID Connect issuer that provisioned the account")
    created_at: int


class UserList(Out):
    users: list[UserOut]


class IdentityOut(Out):
    username: str
    is_admin: bool = Field(description="may do everything: a global admin, or anyone where sign-in is off")
    authenticated: bool
    via: str = Field(description="session, token, sso or local")
    teams: list[str]
    user: UserOut | None = Field(description="the account, if one has that name")


# -- API tokens --------------------------------------------------------------------------------


class TokenCreate(Strict):
    name: Name = Field(description="what the token is for, to tell tokens apart")
    user: Username | None = Field(default=None, description="admins: a service account to make it for")
    expires_at: Millis | None = Field(default=None, description="none never expires; at most a year ahead")


class SignIn(Strict):
    # Unbounded here on purpose: an oversized credential is the same 401 as a wrong one.
    username: str
    password: str
    token_name: Name = Field(description="the new token's name, e.g. 'cairn login on laptop'")
    expires_at: Millis | None = None


class TokenOut(Out):
    id: str
    username: str
    name: str
    hint: str = Field(description="the token's first characters, to recognise it")
    created_at: int
    expires_at: int | None
    last_used_at: int | None
    revoked_at: int | None


class TokenCreatedOut(Out):
    token: TokenOut
    secret: str = Field(description="the token itself: in this answer only, never again")


class TokenList(Out):
    tokens: list[TokenOut]


# -- teams -------------------------------------------------------------------------------------


class TeamCreate(Strict):
    name: Username
    description: Annotated[str, documented(text_rule(MAX_TEAM_DESCRIPTION))] = ""


class TeamOut(Out):
    name: str
    description: str
    members: list[str]
    created_at: int


class TeamList(Out):
    teams: list[TeamOut]


# -- role grants -------------------------------------------------------------------------------


class GrantIn(Strict):
    subject: Username = Field(description="a user name, or a team name with team: true")
    role: Role
    team: bool = Field(default=False, strict=True)


class GrantOut(Out):
    resource_kind: ResourceKind
    resource: str
    subject_kind: SubjectKind
    subject: str
    role: Role
    granted_by: str
    granted_at: int


class GrantList(Out):
    members: list[GrantOut]
