"""Authentication: from a password, a session cookie or an API token to a principal
(docs/access.md). The server's edge calls it; authorisation is the policy's business.

Every refusal is the same Unauthenticated (or SignInFailed) with the same message, whether the
user is unknown, disabled, the password wrong, the token revoked, expired or forged: an
attacker learns nothing from the answer. A sign-in for a user who does not exist still verifies
a password against a hash, so it takes as long as one for a user who does.
"""

from __future__ import annotations

import datetime
import re
import time
from dataclasses import dataclass

from argon2.exceptions import InvalidHashError, VerificationError

from cairn.core.access import (
    MAX_CREDENTIAL_LENGTH,
    MAX_PASSWORD_LENGTH,
    TOKEN_PREFIX,
    USERNAME_PATTERN,
    User,
    credential_digest,
    new_session_id,
)
from cairn.core.clock import now_ms
from cairn.core.errors import SignInFailed, TooManyAttempts, Unauthenticated
from cairn.core.events import EventType, user_subject
from cairn.service.access import PASSWORDS
from cairn.service.policy import Principal
from cairn.store.base import MetadataStore

#: Sign-in attempts allowed per user name and per address in a rolling minute.
SIGN_IN_ATTEMPTS_PER_MINUTE = 10
_MINUTE_MS = 60_000
#: How often a credential's "last used" is written at most (a write per request would cost).
_TOUCH_EVERY_MS = 60_000
#: Verified when the user does not exist, so that answer takes as long as a wrong password.
_DUMMY_HASH = PASSWORDS.hash("not a password anyone has: equalises sign-in timing")
_USERNAME = re.compile(USERNAME_PATTERN)
_REFUSED = "sign in first: the credential is missing, unknown, expired or revoked"
_WRONG = "wrong user name or password"


#: Seconds a token found good is trusted before the store is read again (see token_principal).
TOKEN_RECHECK_S = 1.0
_MAX_CACHED_TOKENS = 10_000


@dataclass(frozen=True, slots=True)
class _CheckedToken:
    user: User
    expires_at: int | None
    #: The store's access generation when the token was read.
    generation: int
    #: time.monotonic() then.
    at: float


@dataclass(frozen=True)
class SessionLimits:
    #: A session unused this long ends (milliseconds).
    idle_ms: int = 8 * 3600_000
    #: A session ends this long after sign-in, used or not.
    absolute_ms: int = 7 * 86_400_000


class Authenticator:
    """Signs users in and turns credentials into principals, over one store."""

    def __init__(self, store: MetadataStore, limits: SessionLimits | None = None) -> None:
        self.store = store
        self.limits = limits or SessionLimits()
        self._tokens: dict[str, _CheckedToken] = {}

    # -- passwords and sessions -------------------------------------------------------------

    def sign_in(self, username: str, password: str, address: str | None) -> User:
        """The user whose name and password these are. Raises TooManyAttempts past the rate
        limit, SignInFailed for anything else wrong (the same answer whatever it was)."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise SignInFailed(_WRONG)
        # What the audit log names: the name given if a user could have it, else nobody (a NUL
        # or 10 kB of junk goes no further than this line).
        given = username if _USERNAME.fullmatch(username) else ""
        keys = [f"user:{(given or credential_digest(username)).casefold()}"] + (
            [f"address:{address}"] if address else []
        )
        now = now_ms()
        attempts = self.store.count_sign_in_attempts(keys, since=now - _MINUTE_MS, record_at=now)
        if attempts > SIGN_IN_ATTEMPTS_PER_MINUTE:
            self._audit(EventType.USER_SIGN_IN_FAILED, given, address, {"reason": "rate_limited"})
            raise TooManyAttempts(
                f"too many sign-in attempts: at most {SIGN_IN_ATTEMPTS_PER_MINUTE} a minute per user and per "
                "address; wait a minute"
            )
        found = None
        # Only a name a user could have is looked up: PostgreSQL refuses a NUL in a query
        # parameter, and a name no user can have needs no query to be unknown.
        if given and len(password) <= MAX_PASSWORD_LENGTH:
            found = self.store.password_hash(given)
        hashed = found[1] if found is not None and found[1] is not None else _DUMMY_HASH
        verified = _verify(hashed, password[:MAX_PASSWORD_LENGTH])
        if found is None or found[1] is None or not verified or found[0].disabled:
            self._audit(EventType.USER_SIGN_IN_FAILED, given, address, {})
            raise SignInFailed(_WRONG)
        user = found[0]
        if PASSWORDS.check_needs_rehash(hashed):
            self.store.update_user(user.username, password_hash=PASSWORDS.hash(password))
        return user

    def start_session(self, user: User, address: str | None, *, via: str = "password") -> str:
        """A new session for ``user`` (always a new id: no fixation) and its secret, for the
        cookie; the sign-in goes into the audit log."""
        secret = new_session_id()
        now = now_ms()
        self.store.create_session(
            credential_digest(secret), user.username, expires_at=now + self.limits.absolute_ms, address=address
        )
        self._audit(EventType.USER_SIGNED_IN, user.username, address, {"via": via})
        return secret

    def session_principal(self, secret: str, address: str | None) -> Principal:
        """Who holds this session. Raises Unauthenticated for an unknown, ended, expired or
        idle session, or a disabled user's."""
        if not secret or len(secret) > MAX_CREDENTIAL_LENGTH:
            raise Unauthenticated(_REFUSED)
        digest = credential_digest(secret)
        found = self.store.session_owner(digest)
        now = now_ms()
        if found is None:
            raise Unauthenticated(_REFUSED)
        (_created, last_seen, expires_at), user = found
        if user.disabled or now >= expires_at or now - last_seen >= self.limits.idle_ms:
            self.store.delete_session(digest)
            raise Unauthenticated(_REFUSED)
        if now - last_seen >= _TOUCH_EVERY_MS:
            self.store.touch_session(digest, now)
        return _principal(user, address, "session")

    def end_session(self, secret: str, address: str | None) -> None:
        """Sign out: the session ends on the server, whatever the browser keeps."""
        if not secret or len(secret) > MAX_CREDENTIAL_LENGTH:
            return
        digest = credential_digest(secret)
        found = self.store.session_owner(digest)
        self.store.delete_session(digest)
        if found is not None:
            self._audit(EventType.USER_SIGNED_OUT, found[1].username, address, {})

    # -- API tokens -------------------------------------------------------------------------

    def token_principal(self, secret: str, address: str | None) -> Principal:
        """Who holds this API token. Raises Unauthenticated for an unknown, revoked or expired
        token, or a disabled user's.

        A token found good is trusted for :data:`TOKEN_RECHECK_S` without reading the store
        again (a read costs more than the rest of a small request), unless this process has
        since revoked a token, disabled a user or changed a password: then at once. Another
        server process's revocation acts within that second."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_CREDENTIAL_LENGTH:
            raise Unauthenticated(_REFUSED)
        digest = credential_digest(secret)
        now = now_ms()
        checked = self._tokens.get(digest)
        if (
            checked is not None
            and checked.generation == self.store.access_generation
            and time.monotonic() - checked.at < TOKEN_RECHECK_S
            and (checked.expires_at is None or now < checked.expires_at)
        ):
            return _principal(checked.user, address, "token")
        self._tokens.pop(digest, None)
        generation = self.store.access_generation
        found = self.store.token_owner(digest)
        if found is None:
            raise Unauthenticated(_REFUSED)
        token, user = found
        if token.revoked_at is not None or user.disabled or (token.expires_at is not None and now >= token.expires_at):
            raise Unauthenticated(_REFUSED)
        if len(self._tokens) >= _MAX_CACHED_TOKENS:
            self._tokens.clear()
        self._tokens[digest] = _CheckedToken(user, token.expires_at, generation, time.monotonic())
        last = token.last_used_at
        if last is None or now - last >= _TOUCH_EVERY_MS:
            self.store.touch_token(token.id, now)
            if last is None or _day(last) != _day(now):
                self._audit(
                    EventType.TOKEN_USED,
                    user.username,
                    address,
                    {"token": token.id, "name": token.name},
                    subject=f"{user_subject(user.username)}/tokens/{token.id}",
                )
        return _principal(user, address, "token")

    # -- single sign-on ---------------------------------------------------------------------

    def sso_user(
        self, issuer: str, subject: str, *, username: str, display_name: str, email: str, teams: list[str]
    ) -> User:
        """The user an identity provider vouches for, created on first sign-in; their team
        memberships follow the provider's groups that map to existing teams."""
        user = self.store.find_external_user(issuer, subject)
        if user is None:
            user = self.store.create_user(
                username=username,
                display_name=display_name or username,
                email=email,
                password_hash=None,
                is_admin=False,
                source=issuer,
                external_id=subject,
            )
            self._audit(EventType.USER_CREATED, user.username, None, {"source": issuer}, actor=user.username)
        if user.disabled:
            raise Unauthenticated(_REFUSED)
        known = {team.name for team in self.store.list_teams()}
        held = set(self.store.teams_of(user.username))
        for team in sorted(known & set(teams)):
            if team not in held:
                self.store.set_team_member(team, user.username, True)
        return user

    # -- the audit log ----------------------------------------------------------------------

    def _audit(
        self,
        type_: EventType,
        username: str,
        address: str | None,
        data: dict[str, object],
        *,
        subject: str | None = None,
        actor: str | None = None,
    ) -> None:
        details = {**data, **({"address": address} if address else {})}
        name = username if username else "anonymous"
        self.store.append_event(type_, subject or user_subject(name), actor or name, details)


def _principal(user: User, address: str | None, via: str) -> Principal:
    return Principal(user.username, is_admin=user.is_admin, authenticated=True, address=address, via=via)


def _verify(hashed: str, password: str) -> bool:
    try:
        return PASSWORDS.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _day(ms: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).date()
