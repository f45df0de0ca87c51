"""Managing access, mixed into :class:`TrackingService` (docs/access.md): users, API tokens,
teams and the roles users and teams hold on projects and registered models.

- only a global admin creates, changes, disables and enables users and teams;
- a user changes their own password and display name, and creates, lists and revokes their own
  tokens; an admin also those of service accounts (and revokes anyone's);
- a project's or model's admins (and global admins) grant and revoke roles on it; anyone who
  can see it can list who holds which role;
- the last enabled global admin cannot be disabled or lose the admin flag;
- every change is in the event log, with who made it and from where.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cairn.core import limits
from cairn.core.access import (
    TOKEN_HINT_LENGTH,
    ApiToken,
    Grant,
    Identity,
    ResourceKind,
    Role,
    SubjectKind,
    Team,
    User,
    check_password,
    check_username,
    credential_digest,
    new_token,
)
from cairn.core.clock import now_ms
from cairn.core.errors import InvalidValue, PermissionDenied, TokenNotFound, UserNotFound
from cairn.core.events import EventType, members_subject, team_subject, user_subject
from cairn.service.events import EventRules
from cairn.service.policy import Action

if TYPE_CHECKING:
    from cairn.service.policy import Policy, Principal
    from cairn.store.base import MetadataStore

#: argon2id with argon2-cffi's defaults (RFC 9106's second recommendation: 64 MiB, 3 passes).
PASSWORDS = PasswordHasher()
MAX_DISPLAY_NAME = 250
MAX_EMAIL = 320
MAX_TEAM_DESCRIPTION = 2000
#: The longest a token may be asked to live: a year.
MAX_TOKEN_LIFETIME_MS = 366 * 86_400_000


class AccessRules(EventRules):
    store: MetadataStore
    principal: Principal
    policy: Policy

    # -- who is acting ----------------------------------------------------------------------

    def whoami(self) -> Identity:
        """The acting principal: name, whether they may do everything (the policy says), how
        they signed in, their teams and their account if one has their name."""
        try:
            self.policy.check(self.principal, Action.ADMIN, None)
            is_admin = True
        except PermissionDenied:
            is_admin = False
        try:
            user: User | None = self.store.get_user(self.principal.name)
        except UserNotFound:
            user = None
        teams = tuple(self.store.teams_of(self.principal.name)) if user is not None else ()
        return Identity(
            username=self.principal.name,
            is_admin=is_admin,
            authenticated=self.principal.authenticated,
            via=self.principal.via,
            teams=teams,
            user=user,
        )

    # -- users ------------------------------------------------------------------------------

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
        """A new user (admins only). A service account has no password and signs in only with
        tokens an admin creates for it. Raises AlreadyExists, InvalidValue."""
        check_username(username)
        display_name = limits.check_text(display_name, "display name", MAX_DISPLAY_NAME) or username
        email = limits.check_text(email, "email", MAX_EMAIL)
        if is_service and password is not None:
            raise InvalidValue("a service account signs in with tokens, not a password")
        # Before hashing: argon2 costs 64 MiB and a noticeable time, not to be spent for anyone.
        self._require_admin("create users")
        hashed = None if password is None else PASSWORDS.hash(check_password(password, username))
        with self.store.atomic():
            user = self.store.create_user(
                username=username,
                display_name=display_name,
                email=email,
                password_hash=hashed,
                is_admin=is_admin,
                is_service=is_service,
            )
            self._record(
                EventType.USER_CREATED,
                user_subject(username),
                {"is_admin": is_admin, "is_service": is_service, "source": user.source},
            )
        return user

    def get_user(self, username: str) -> User:
        """A user, for themself or an admin; UserNotFound for anyone else (names do not leak)."""
        if username != self.principal.name:
            self._require_admin("look users up", hidden=UserNotFound(f"no user named {username!r}"))
        return self.store.get_user(username)

    def list_users(self) -> list[User]:
        self._require_admin("list users")
        return self.store.list_users()

    def update_user(
        self,
        username: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        is_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Change a user. Their own display name and email anyone may change; the rest, and
        other users, only an admin. Disabling ends the user's sessions and refuses their tokens
        at once."""
        if display_name is not None:
            limits.check_text(display_name, "display name", MAX_DISPLAY_NAME)
        if email is not None:
            limits.check_text(email, "email", MAX_EMAIL)
        if username != self.principal.name:
            self._require_admin("change users", hidden=UserNotFound(f"no user named {username!r}"))
        elif is_admin is not None or disabled is not None:
            # One's own name is no secret: making oneself admin is refused, not "no such user".
            self._require_admin("make admins or disable and enable users")
        with self.store.atomic():
            before = self.store.get_user(username)
            losing_admin = before.is_admin and not before.disabled and (is_admin is False or disabled is True)
            if losing_admin and self.store.count_admins() <= 1:
                raise PermissionDenied(f"{username!r} is the last admin: make another admin first")
            user = self.store.update_user(
                username, display_name=display_name, email=email, is_admin=is_admin, disabled=disabled
            )
            changed = {
                name: value
                for name, value in (
                    ("display_name", display_name),
                    ("email", email),
                    ("is_admin", is_admin),
                    ("disabled", disabled),
                )
                if value is not None
            }
            self._record(EventType.USER_UPDATED, user_subject(username), changed)
        return user

    def set_password(self, username: str, password: str, *, current_password: str | None = None) -> None:
        """A new password: a user for themself (with their current one), an admin for anyone.
        Ends the user's browser sessions."""
        user = self.store.get_user(username) if username == self.principal.name else None
        if user is None or self.principal.is_admin:
            self._require_admin("reset passwords", hidden=UserNotFound(f"no user named {username!r}"))
        else:
            found = self.store.password_hash(username)
            if found is None or found[1] is None or not verify_password(found[1], current_password or ""):
                raise PermissionDenied("the current password is wrong")
        if self.store.get_user(username).is_service:
            raise InvalidValue("a service account signs in with tokens, not a password")
        hashed = PASSWORDS.hash(check_password(password, username))
        with self.store.atomic():
            self.store.update_user(username, password_hash=hashed)
            self._record(EventType.USER_UPDATED, user_subject(username), {"password": "changed"})

    # -- API tokens -------------------------------------------------------------------------

    def create_token(
        self, name: str, *, username: str | None = None, expires_at: int | None = None, now: int | None = None
    ) -> tuple[ApiToken, str]:
        """A new API token for the acting user (or, by an admin, a service account), and its
        secret, which is never shown again. ``expires_at`` is milliseconds since the epoch."""
        limits.check_name(name, "token name")
        owner = username or self.principal.name
        if owner != self.principal.name:
            self._require_admin("create tokens for others", hidden=UserNotFound(f"no user named {owner!r}"))
            # A token acts as its owner: a signed-in admin makes them for service accounts, never
            # for another person (who would then be impersonated). Without sign-in the operator
            # of the store sets accounts up for everyone.
            if self.principal.authenticated and not self.store.get_user(owner).is_service:
                raise PermissionDenied(
                    f"{owner!r} is a person: only they create their tokens (an admin makes tokens for service accounts)"
                )
        if expires_at is not None:
            limits.check_timestamp(expires_at)
            current = now or now_ms()
            if expires_at <= current:
                raise InvalidValue("a token's expiry must be in the future")
            if expires_at - current > MAX_TOKEN_LIFETIME_MS:
                raise InvalidValue("a token may live at most a year")
        self._require_signed_in_user(owner)
        secret = new_token()
        with self.store.atomic():
            token = self.store.create_token(
                owner,
                name=name,
                digest=credential_digest(secret),
                hint=secret[:TOKEN_HINT_LENGTH],
                expires_at=expires_at,
            )
            self._record(
                EventType.TOKEN_CREATED,
                f"{user_subject(owner)}/tokens/{token.id}",
                {"name": name, "expires_at": expires_at},
            )
        return token, secret

    def list_tokens(self, username: str | None = None) -> list[ApiToken]:
        """The acting user's tokens; an admin may ask for anyone's, or everyone's (``"*"``)."""
        owner = username or self.principal.name
        if owner != self.principal.name:
            self._require_admin("list others' tokens", hidden=UserNotFound(f"no user named {owner!r}"))
            if owner != "*":
                self.store.get_user(owner)  # an unknown user is no user without tokens
        return self.store.list_tokens(None if owner == "*" else owner)

    def revoke_token(self, token_id: str) -> ApiToken:
        """Revoke a token at once: its owner, or an admin."""
        limits.check_name(token_id, "token id")
        token = self.store.get_token(token_id)
        if token.username != self.principal.name:
            self._require_admin("revoke others' tokens", hidden=TokenNotFound(f"no API token with id {token_id!r}"))
        with self.store.atomic():
            revoked = self.store.revoke_token(token_id)
            self._record(
                EventType.TOKEN_REVOKED, f"{user_subject(token.username)}/tokens/{token_id}", {"name": token.name}
            )
        return revoked

    # -- teams ------------------------------------------------------------------------------

    def create_team(self, name: str, description: str = "") -> Team:
        check_username(name)
        limits.check_text(description, "team description", MAX_TEAM_DESCRIPTION)
        self._require_admin("create teams")
        with self.store.atomic():
            team = self.store.create_team(name, description)
            self._record(EventType.TEAM_CREATED, team_subject(name), {})
        return team

    def delete_team(self, name: str) -> None:
        self._require_admin("delete teams")
        with self.store.atomic():
            self.store.delete_team(name)
            self._record(EventType.TEAM_DELETED, team_subject(name), {})

    def list_teams(self) -> list[Team]:
        self.policy.check(self.principal, Action.READ, None)
        return self.store.list_teams()

    def set_team_member(self, team: str, username: str, member: bool = True) -> Team:
        self._require_admin("change teams")
        with self.store.atomic():
            changed = self.store.set_team_member(team, username, member)
            type_ = EventType.TEAM_MEMBER_ADDED if member else EventType.TEAM_MEMBER_REMOVED
            self._record(type_, team_subject(team), {"user": username})
        return changed

    # -- roles ------------------------------------------------------------------------------

    def grant_role(self, kind: ResourceKind, resource: str, subject: str, role: Role, *, team: bool = False) -> Grant:
        """Give a user (or a team) ``role`` on a project or model, replacing the one it held.
        Needs the admin role there. Raises UserNotFound/TeamNotFound, NotFound for the resource."""
        subject_kind = SubjectKind.TEAM if team else SubjectKind.USER
        self._require_resource(kind, resource, Action.ADMIN)
        if team:
            self.store.get_team(subject)
        else:
            self.store.get_user(subject)
        with self.store.atomic():
            grant = self.store.set_grant(kind, resource, subject_kind, subject, role, self.principal.name)
            self._record(
                EventType.ROLE_GRANTED,
                members_subject(kind.value, resource),
                {subject_kind.value: subject, "role": role.value},
            )
        return grant

    def revoke_role(self, kind: ResourceKind, resource: str, subject: str, *, team: bool = False) -> None:
        subject_kind = SubjectKind.TEAM if team else SubjectKind.USER
        self._require_resource(kind, resource, Action.ADMIN)
        with self.store.atomic():
            self.store.delete_grant(kind, resource, subject_kind, subject)
            self._record(EventType.ROLE_REVOKED, members_subject(kind.value, resource), {subject_kind.value: subject})

    def list_grants(self, kind: ResourceKind, resource: str) -> list[Grant]:
        """Who holds which role on a project or model; for anyone who can see it."""
        self._require_resource(kind, resource, Action.READ)
        return self.store.list_grants(kind, resource)

    def my_role(self, kind: ResourceKind, resource: str) -> Role | None:
        """The acting principal's role on a project or model (what the dashboard offers)."""
        return self.policy.role(self.principal, kind, resource)

    # -- helpers ----------------------------------------------------------------------------

    def _require_resource(self, kind: ResourceKind, resource: str, action: Action) -> None:
        if kind is ResourceKind.MODEL:
            self.store.get_model(resource)
            self.policy.check_model(self.principal, action, resource)
        else:
            self.store.get_project(resource, with_counts=False)
            self.policy.check(self.principal, action, resource)

    def _require_admin(self, what: str, *, hidden: Exception | None = None) -> None:
        """Only a global admin (and everyone under AllowAll) may go on."""
        try:
            self.policy.check(self.principal, Action.ADMIN, None)
        except PermissionDenied:
            if hidden is not None:
                raise hidden from None
            raise PermissionDenied(f"only an admin may {what}") from None

    def _require_signed_in_user(self, username: str) -> None:
        user = self.store.get_user(username)
        if user.disabled:
            raise PermissionDenied(f"{username!r} is disabled")


def verify_password(hashed: str, password: str) -> bool:
    """Whether ``password`` matches an argon2 hash; False for a mismatch or a damaged hash.
    Sign-in (service/authn.py) and a password change share it."""
    try:
        return PASSWORDS.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
