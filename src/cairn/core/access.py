"""Users, teams, roles and credentials: the entities of access control (docs/access.md).

Roles are one scale, the same for projects and registered models: a role includes every role
below it. Credentials are never kept in the clear: a password as an argon2id hash, an API token
and a session id as their SHA-256 (they are 256 random bits, so a fast hash is enough and lets a
request be checked in microseconds).
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from importlib import resources

from cairn.core.errors import InvalidValue

#: Every API token starts with this, so a leaked one is easy to recognise (secret scanners).
TOKEN_PREFIX = "cairn_"
#: Characters of a token kept in the clear to tell tokens apart in a listing.
TOKEN_HINT_LENGTH = len(TOKEN_PREFIX) + 4
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
#: Credentials longer than this are refused before any hashing (a token or session id is ~50).
MAX_CREDENTIAL_LENGTH = 200
MAX_USERNAME_LENGTH = 100
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$"
_USERNAME = re.compile(USERNAME_PATTERN)


class Role(enum.StrEnum):
    """What a user or team may do in one project or registered model; each includes the ones
    before it."""

    VIEWER = "viewer"  # read
    EDITOR = "editor"  # log runs, artifacts, comments, notes; register versions
    MAINTAINER = "maintainer"  # delete runs, manage webhooks and saved views; merge reviews
    ADMIN = "admin"  # members and settings

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {role: rank for rank, role in enumerate(Role)}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise InvalidValue(f"{str(value)[:40]!r} is not a role (one of {known})") from None


class ResourceKind(enum.StrEnum):
    """What a role is held on."""

    PROJECT = "project"
    MODEL = "model"


class SubjectKind(enum.StrEnum):
    """Who holds a role."""

    USER = "user"
    TEAM = "team"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    display_name: str
    email: str
    #: Global admins may do everything, everywhere.
    is_admin: bool
    disabled: bool
    #: A service account: holds tokens for CI and serving, cannot sign in with a password.
    is_service: bool
    #: Where the account came from: ``local`` or the OpenID Connect issuer that provisioned it.
    source: str
    created_at: int


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A personal or service token, as listed: never the secret itself."""

    id: str
    username: str
    name: str
    #: The token's first characters (``cairn_AbCd``), to tell tokens apart.
    hint: str
    created_at: int
    #: Milliseconds since the epoch; None never expires.
    expires_at: int | None
    last_used_at: int | None
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    description: str
    members: tuple[str, ...]
    created_at: int


@dataclass(frozen=True, slots=True)
class Grant:
    """``subject`` (a user or team) holds ``role`` on ``resource`` (a project or model name)."""

    resource_kind: ResourceKind
    resource: str
    subject_kind: SubjectKind
    subject: str
    role: Role
    granted_by: str
    granted_at: int


@dataclass(frozen=True, slots=True)
class SsoLogin:
    """A single sign-on the browser has started at the identity provider: what the callback
    needs to finish it (kept by the server under the SHA-256 of its ``state``, taken once)."""

    nonce: str
    #: The PKCE secret whose S256 hash went to the provider with the authorization request.
    code_verifier: str
    #: The local path to return to once signed in.
    next_path: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the caller is, as the server sees them (``GET /api/v1/me``, ``cairn whoami``)."""

    username: str
    #: May do everything, everywhere: a global admin, or anyone where no sign-in is required.
    is_admin: bool
    #: Signed in by session or token (False in embedded mode and on a server without sign-in).
    authenticated: bool
    #: How they proved it: ``session``, ``token``, ``sso`` or ``local``.
    via: str
    #: The teams they belong to, by name.
    teams: tuple[str, ...]
    #: Their account; None for a name no account has (embedded mode, a server without sign-in).
    user: User | None


def check_username(value: object) -> str:
    if not isinstance(value, str) or not _USERNAME.fullmatch(value):
        shown = repr(value)[:60]
        raise InvalidValue(
            f"user name {shown} must be 1 to 100 letters, digits or . _ @ + -, starting with a letter or digit"
        )
    return value


def username_from_claims(preferred: object, email: object, subject: str) -> str:
    """The user name to give someone an identity provider signs in for the first time: their
    ``preferred_username``, else their email's local part, else the provider's subject id,
    the first that still has a letter or digit once made a valid name (characters a name may
    not hold become ``-``; cut to the length a name may have)."""
    local_part = email.rpartition("@")[0] if isinstance(email, str) and "@" in email else None
    for candidate in (preferred, local_part, subject):
        if not isinstance(candidate, str):
            continue
        name = re.sub(r"[^A-Za-z0-9._@+-]+", "-", candidate).lstrip("._@+-")[:MAX_USERNAME_LENGTH]
        if name:
            return name
    # A subject of nothing but punctuation: no provider sends one, but a name must come out.
    return "user-" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def check_password(password: object, username: str = "") -> str:
    """A password a user may choose (NIST SP 800-63B): 12 to 1,024 characters, not a common
    password and not the user name. No composition rules and no forced rotation."""
    if not isinstance(password, str):
        raise InvalidValue("a password must be text")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidValue(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidValue(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.casefold()
    if folded in common_passwords() or (username and folded == username.casefold()):
        raise InvalidValue("that password is too common: choose another")
    return password


_COMMON: frozenset[str] | None = None


def common_passwords() -> frozenset[str]:
    """The common passwords a user may not choose (those of 12 characters or more among the
    most used in public breach lists), lower-cased."""
    global _COMMON
    if _COMMON is None:
        text = resources.files("cairn.core").joinpath("common_passwords.txt").read_text("utf-8")
        _COMMON = frozenset(line.strip().casefold() for line in text.splitlines() if line.strip())
    return _COMMON


def new_token() -> str:
    """A fresh API token: the prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_session_id() -> str:
    """A fresh browser session id: 256 random bits."""
    return secrets.token_urlsafe(32)


def credential_digest(secret: str) -> str:
    """What the store keeps of a token or session id: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
