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
import secrets
import time
from dataclasses import dataclass

from cairn.core.access import (
    MAX_CREDENTIAL_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_USERNAME_LENGTH,
    TOKEN_PREFIX,
    USERNAME_PATTERN,
    SsoLogin,
    User,
    check_username,
    credential_digest,
    new_session_id,
)
from cairn.core.clock import now_ms
from cairn.core.errors import AlreadyExists, SignInFailed, SingleSignOnFailed, TooManyAttempts, Unauthenticated
from cairn.core.events import EventType, team_subject, user_subject
from cairn.service.access import PASSWORDS, verify_password
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


#: How long a single sign-on may stay at the identity provider before its state expires.
SSO_LOGIN_TTL_MS = 10 * 60_000
SSO_EXPIRED = "the sign-in expired or was already used: try again"
#: Names tried as ``NAME-2``… when another provider identity holds NAME.
_MAX_NAME_SUFFIX = 99


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
        self._passwords: dict[str, _CheckedToken] = {}

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
        verified = verify_password(hashed, password[:MAX_PASSWORD_LENGTH])
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
        self.signed_in(user, address, via=via)
        return secret

    def signed_in(self, user: User, address: str | None, *, via: str) -> None:
        """Put a sign-in in the audit log (a session's, or a password exchanged for a token
        by ``cairn login``)."""
        self._audit(EventType.USER_SIGNED_IN, user.username, address, {"via": via})

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

    def password_principal(self, username: str, password: str, address: str | None) -> Principal:
        """Who signs in with this name and password on every request (HTTP Basic, as the
        MLflow client sends ``MLFLOW_TRACKING_PASSWORD``). A pair found good is trusted as a
        token is (:data:`TOKEN_RECHECK_S`, or until this process changes access), so that a
        script's thousand requests are not a thousand password hashes and sign-in attempts;
        a wrong pair is a failed sign-in, rate-limited like any other."""
        digest = credential_digest(f"{username}\0{password}")
        checked = self._passwords.get(digest)
        if (
            checked is not None
            and checked.generation == self.store.access_generation
            and time.monotonic() - checked.at < TOKEN_RECHECK_S
        ):
            return _principal(checked.user, address, "password")
        self._passwords.pop(digest, None)
        generation = self.store.access_generation
        user = self.sign_in(username, password, address)
        if len(self._passwords) >= _MAX_CACHED_TOKENS:
            self._passwords.clear()
        self._passwords[digest] = _CheckedToken(user, None, generation, time.monotonic())
        return _principal(user, address, "password")

    # -- single sign-on ---------------------------------------------------------------------

    def begin_sso(self, next_path: str) -> tuple[str, SsoLogin]:
        """A new single sign-on: its ``state`` (for the provider and the browser) and what the
        callback will need, kept in the store so any server process can finish it, once."""
        state = secrets.token_urlsafe(32)
        now = now_ms()
        # 64 characters of the URL-safe alphabet: within PKCE's 43 to 128 unreserved ones.
        login = SsoLogin(secrets.token_urlsafe(32), secrets.token_urlsafe(48), next_path, now)
        self.store.save_sso_login(credential_digest(state), login, expired_before=now - SSO_LOGIN_TTL_MS)
        return state, login

    def finish_sso(self, state: str) -> SsoLogin:
        """The sign-on this ``state`` began, taken so that it cannot be finished twice. Raises
        SingleSignOnFailed for an unknown, used or expired state."""
        if not state or len(state) > MAX_CREDENTIAL_LENGTH:
            raise SingleSignOnFailed(SSO_EXPIRED)
        login = self.store.take_sso_login(credential_digest(state))
        if login is None or now_ms() - login.created_at >= SSO_LOGIN_TTL_MS:
            raise SingleSignOnFailed(SSO_EXPIRED)
        return login

    def sso_user(
        self,
        issuer: str,
        subject: str,
        *,
        username: str,
        display_name: str,
        email: str,
        teams: list[str],
        address: str | None = None,
    ) -> User:
        """The user an identity provider vouches for, created on first sign-in under
        ``username`` (or ``username-2``… if another provider identity holds it; never a local
        account's: that is refused with AlreadyExists). Their name and email follow the
        provider's; they join the teams named by their provider groups (never leave one: a team
        may also be joined by hand). Raises Unauthenticated for a disabled user."""
        user = self.store.find_external_user(issuer, subject)
        if user is None:
            user = self._provision(issuer, subject, username, display_name or username, email, address)
        elif (display_name and display_name != user.display_name) or (email and email != user.email):
            user = self.store.update_user(user.username, display_name=display_name or None, email=email or None)
        if user.disabled:
            self._audit(EventType.USER_SIGN_IN_FAILED, user.username, address, {"via": "sso"})
            raise Unauthenticated(_REFUSED)
        known = {team.name for team in self.store.list_teams()}
        held = set(self.store.teams_of(user.username))
        for team in sorted(known.intersection(teams) - held):
            self.store.set_team_member(team, user.username, True)
            self._audit(
                EventType.TEAM_MEMBER_ADDED,
                user.username,
                address,
                {"user": user.username, "via": "sso"},
                subject=team_subject(team),
            )
        return user

    def _provision(
        self, issuer: str, subject: str, username: str, display_name: str, email: str, address: str | None
    ) -> User:
        check_username(username)
        for attempt in range(1, _MAX_NAME_SUFFIX + 1):
            suffix = "" if attempt == 1 else f"-{attempt}"
            name = username[: MAX_USERNAME_LENGTH - len(suffix)] + suffix
            try:
                user = self.store.create_user(
                    username=name,
                    display_name=display_name,
                    email=email,
                    password_hash=None,
                    is_admin=False,
                    source=issuer,
                    external_id=subject,
                )
            except AlreadyExists:
                holder = next((u for u in self.store.list_users() if u.username.casefold() == name.casefold()), None)
                if holder is not None and holder.source == "local":
                    # The provider's "ann" need not be this server's ann: taking the account over
                    # would hand its roles (an admin's, perhaps) to whoever the provider names so.
                    self._audit(EventType.USER_SIGN_IN_FAILED, name, address, {"via": "sso", "reason": "name_taken"})
                    raise AlreadyExists(
                        f"this server has a local account named {name!r}; single sign-on does not take over local "
                        "accounts. Ask an admin to resolve it (docs/access.md, 'Single sign-on')",
                        details={"username": name},
                    ) from None
                continue
            self._audit(EventType.USER_CREATED, user.username, address, {"source": issuer, "via": "sso"})
            return user
        raise AlreadyExists(f"no free user name like {username!r} is left", details={"username": username})

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


def _day(ms: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).date()
