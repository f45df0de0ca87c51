"""Users, credentials, teams and role grants in SQL (docs/access.md).

Tokens and sessions are found by the SHA-256 of their secret, through a unique index, in one
query that also reads the owner: checking a request's credential is a single indexed lookup.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cairn.core.access import ApiToken, Grant, ResourceKind, Role, SsoLogin, SubjectKind, Team, User
from cairn.core.clock import now_ms
from cairn.core.errors import AlreadyExists, GrantNotFound, TeamNotFound, TokenNotFound, UserNotFound
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction

_u = t.users.c
_k = t.api_tokens.c
_s = t.sessions.c
_m = t.team_members.c
_g = t.grants.c
_a = t.sign_in_attempts.c
_o = t.sso_logins.c

#: Every request's role check runs this query: built once with bound parameters, since
#: building the expression anew cost more than running it (bench/auth.py).
_ROLES_HELD_OF_ALL = select(_g.resource, _g.role).where(
    _g.resource_kind == bindparam("kind"),
    or_(
        and_(_g.subject_kind == SubjectKind.USER.value, _g.subject == bindparam("username")),
        and_(
            _g.subject_kind == SubjectKind.TEAM.value,
            _g.subject.in_(
                select(_m.team)
                .join(t.users, _u.id == _m.user_id)
                .where(_u.username == bindparam("username"))
                .scalar_subquery()
            ),
        ),
    ),
)
_ROLES_HELD_OF = _ROLES_HELD_OF_ALL.where(_g.resource.in_(bindparam("resources", expanding=True)))

#: What a session lookup returns besides its user: created, last seen and absolute expiry (ms).
SessionTimes = tuple[int, int, int]


class SqlAccessStore:
    """Implements :class:`cairn.store.base.AccessStore`."""

    _engines: Engines
    #: Bumped by every change that can take access away (a revoked token, a disabled user, a
    #: new password, an ended session), so that credential caches in this process drop at once.
    #: Also by every change to grants and team memberships: the role policy keeps a user's
    #: roles for a second (service/policy.py), and a role taken away must act at once.
    access_generation: int = 0

    def _access_changed(self) -> None:
        self.access_generation += 1

    # -- users ------------------------------------------------------------------------------

    def create_user(
        self,
        *,
        username: str,
        display_name: str,
        email: str,
        password_hash: str | None,
        is_admin: bool,
        is_service: bool = False,
        source: str = "local",
        external_id: str | None = None,
    ) -> User:
        now = now_ms()
        row = {
            "id": uuid.uuid4().hex,
            "username": username,
            "display_name": display_name,
            "email": email,
            "password_hash": password_hash,
            "is_admin": is_admin,
            "disabled": False,
            "is_service": is_service,
            "source": source,
            "external_id": external_id,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with transaction(self._engines.write) as conn:
                if conn.scalar(select(_u.id).where(func.lower(_u.username) == username.lower())) is not None:
                    raise AlreadyExists(f"a user named {username!r} exists", details={"username": username})
                conn.execute(insert(t.users), row)
        except IntegrityError:
            raise AlreadyExists(f"a user named {username!r} exists", details={"username": username}) from None
        return _user(row)

    def get_user(self, username: str) -> User:
        with reading(self._engines) as conn:
            return _user(_user_row(conn, username))

    def find_external_user(self, source: str, external_id: str) -> User | None:
        with reading(self._engines) as conn:
            row = conn.execute(select(t.users).where(_u.source == source, _u.external_id == external_id)).one_or_none()
        return None if row is None else _user(row._mapping)

    def list_users(self) -> list[User]:
        with reading(self._engines) as conn:
            return [_user(row._mapping) for row in conn.execute(select(t.users).order_by(_u.username))]

    def count_admins(self) -> int:
        with reading(self._engines) as conn:
            return int(conn.scalar(select(func.count()).where(_u.is_admin.is_(True), _u.disabled.is_(False))) or 0)

    def update_user(
        self,
        username: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        is_admin: bool | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
    ) -> User:
        """Change what is given. Disabling a user, or setting a new password, ends all of the
        user's browser sessions in the same transaction."""
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("display_name", display_name),
                ("email", email),
                ("is_admin", is_admin),
                ("disabled", disabled),
                ("password_hash", password_hash),
            )
            if value is not None
        }
        with transaction(self._engines.write) as conn:
            row = _user_row(conn, username)
            if changes:
                conn.execute(update(t.users).where(_u.id == row.id).values(updated_at=now_ms(), **changes))
            if disabled or password_hash is not None or is_admin is False:
                conn.execute(delete(t.sessions).where(_s.user_id == row.id))
            self._access_changed()
            return _user(_user_row(conn, username)._mapping)

    def password_hash(self, username: str) -> tuple[User, str | None] | None:
        """The user and their password hash; None when there is no such user."""
        with reading(self._engines) as conn:
            row = conn.execute(select(t.users).where(_u.username == username)).one_or_none()
        return None if row is None else (_user(row._mapping), row.password_hash)

    # -- API tokens -------------------------------------------------------------------------

    def create_token(self, username: str, *, name: str, digest: str, hint: str, expires_at: int | None) -> ApiToken:
        row = {
            "id": uuid.uuid4().hex,
            "name": name,
            "digest": digest,
            "hint": hint,
            "created_at": now_ms(),
            "expires_at": expires_at,
            "last_used_at": None,
            "revoked_at": None,
        }
        with transaction(self._engines.write) as conn:
            row["user_id"] = _user_row(conn, username).id
            conn.execute(insert(t.api_tokens), row)
        return _token(row, username)

    def list_tokens(self, username: str | None = None) -> list[ApiToken]:
        query = select(t.api_tokens, _u.username).join(t.users, _u.id == _k.user_id)
        if username is not None:
            query = query.where(_u.username == username)
        with reading(self._engines) as conn:
            rows = conn.execute(query.order_by(_k.created_at, _k.id)).all()
        return [_token(row._mapping, row.username) for row in rows]

    def get_token(self, token_id: str) -> ApiToken:
        with reading(self._engines) as conn:
            row = conn.execute(
                select(t.api_tokens, _u.username).join(t.users, _u.id == _k.user_id).where(_k.id == token_id)
            ).one_or_none()
        if row is None:
            raise TokenNotFound(f"no API token with id {token_id!r}", details={"token_id": token_id})
        return _token(row._mapping, row.username)

    def revoke_token(self, token_id: str) -> ApiToken:
        with transaction(self._engines.write) as conn:
            conn.execute(
                update(t.api_tokens).where(_k.id == token_id, _k.revoked_at.is_(None)).values(revoked_at=now_ms())
            )
        self._access_changed()
        return self.get_token(token_id)

    def token_owner(self, digest: str) -> tuple[ApiToken, User] | None:
        """The token with this digest and its user, revoked, expired or not; None if unknown."""
        with reading(self._engines) as conn:
            row = conn.execute(
                select(t.api_tokens, t.users).join(t.users, _u.id == _k.user_id).where(_k.digest == digest)
            ).one_or_none()
        if row is None:
            return None
        values = row._mapping
        token = ApiToken(
            id=values[_k.id],
            username=values[_u.username],
            name=values[_k.name],
            hint=values[_k.hint],
            created_at=values[_k.created_at],
            expires_at=values[_k.expires_at],
            last_used_at=values[_k.last_used_at],
            revoked_at=values[_k.revoked_at],
        )
        return token, _user({column.name: values[column] for column in t.users.c})

    def touch_token(self, token_id: str, at: int) -> None:
        with transaction(self._engines.write) as conn:
            conn.execute(update(t.api_tokens).where(_k.id == token_id).values(last_used_at=at))

    # -- browser sessions -------------------------------------------------------------------

    def create_session(self, digest: str, username: str, *, expires_at: int, address: str | None) -> None:
        now = now_ms()
        with transaction(self._engines.write) as conn:
            user_id = _user_row(conn, username).id
            conn.execute(
                insert(t.sessions),
                {
                    "digest": digest,
                    "user_id": user_id,
                    "created_at": now,
                    "last_seen_at": now,
                    "expires_at": expires_at,
                    "address": address,
                },
            )

    def session_owner(self, digest: str) -> tuple[SessionTimes, User] | None:
        with reading(self._engines) as conn:
            row = conn.execute(
                select(_s.created_at, _s.last_seen_at, _s.expires_at, t.users)
                .join(t.users, _u.id == _s.user_id)
                .where(_s.digest == digest)
            ).one_or_none()
        if row is None:
            return None
        values = row._mapping
        user = _user({column.name: values[column] for column in t.users.c})
        return (values[_s.created_at], values[_s.last_seen_at], values[_s.expires_at]), user

    def touch_session(self, digest: str, at: int) -> None:
        with transaction(self._engines.write) as conn:
            conn.execute(update(t.sessions).where(_s.digest == digest).values(last_seen_at=at))

    def delete_session(self, digest: str) -> None:
        with transaction(self._engines.write) as conn:
            conn.execute(delete(t.sessions).where(_s.digest == digest))
        self._access_changed()

    def delete_expired_sessions(self, *, before: int, idle_before: int) -> int:
        with transaction(self._engines.write) as conn:
            result = conn.execute(
                delete(t.sessions).where(or_(_s.expires_at <= before, _s.last_seen_at <= idle_before))
            )
        return int(result.rowcount or 0)

    # -- teams ------------------------------------------------------------------------------

    def create_team(self, name: str, description: str) -> Team:
        try:
            with transaction(self._engines.write) as conn:
                if conn.scalar(select(t.teams.c.name).where(t.teams.c.name == name)) is not None:
                    raise AlreadyExists(f"a team named {name!r} exists", details={"team": name})
                conn.execute(insert(t.teams), {"name": name, "description": description, "created_at": now_ms()})
        except IntegrityError:
            raise AlreadyExists(f"a team named {name!r} exists", details={"team": name}) from None
        return self.get_team(name)

    def get_team(self, name: str) -> Team:
        with reading(self._engines) as conn:
            return _team(conn, _team_row(conn, name))

    def list_teams(self) -> list[Team]:
        with reading(self._engines) as conn:
            return [_team(conn, row) for row in conn.execute(select(t.teams).order_by(t.teams.c.name))]

    def delete_team(self, name: str) -> None:
        with transaction(self._engines.write) as conn:
            _team_row(conn, name)
            conn.execute(delete(t.grants).where(_g.subject_kind == SubjectKind.TEAM.value, _g.subject == name))
            conn.execute(delete(t.teams).where(t.teams.c.name == name))
        self._access_changed()

    def set_team_member(self, team: str, username: str, member: bool) -> Team:
        with transaction(self._engines.write) as conn:
            _team_row(conn, team)
            user_id = _user_row(conn, username).id
            conn.execute(delete(t.team_members).where(_m.team == team, _m.user_id == user_id))
            if member:
                conn.execute(insert(t.team_members), {"team": team, "user_id": user_id})
            self._access_changed()
            return _team(conn, _team_row(conn, team))

    def teams_of(self, username: str) -> list[str]:
        with reading(self._engines) as conn:
            rows = conn.execute(
                select(_m.team).join(t.users, _u.id == _m.user_id).where(_u.username == username).order_by(_m.team)
            )
            return [row.team for row in rows]

    # -- grants -----------------------------------------------------------------------------

    def set_grant(
        self, kind: ResourceKind, resource: str, subject_kind: SubjectKind, subject: str, role: Role, granted_by: str
    ) -> Grant:
        key = {
            "resource_kind": kind.value,
            "resource": resource,
            "subject_kind": subject_kind.value,
            "subject": subject,
        }
        with transaction(self._engines.write) as conn:
            conn.execute(delete(t.grants).where(*(t.grants.c[name] == value for name, value in key.items())))
            row = {**key, "role": role.value, "granted_by": granted_by, "granted_at": now_ms()}
            conn.execute(insert(t.grants), row)
        self._access_changed()
        return _grant(row)

    def delete_grant(self, kind: ResourceKind, resource: str, subject_kind: SubjectKind, subject: str) -> None:
        with transaction(self._engines.write) as conn:
            result = conn.execute(
                delete(t.grants).where(
                    _g.resource_kind == kind.value,
                    _g.resource == resource,
                    _g.subject_kind == subject_kind.value,
                    _g.subject == subject,
                )
            )
        self._access_changed()
        if not result.rowcount:
            raise GrantNotFound(
                f"{subject_kind.value} {subject!r} holds no role on {kind.value} {resource!r}",
                details={"resource": resource, "subject": subject},
            )

    def list_grants(
        self,
        kind: ResourceKind | None = None,
        resource: str | None = None,
        *,
        subject: tuple[SubjectKind, str] | None = None,
    ) -> list[Grant]:
        query = select(t.grants)
        if kind is not None:
            query = query.where(_g.resource_kind == kind.value)
        if resource is not None:
            query = query.where(_g.resource == resource)
        if subject is not None:
            query = query.where(_g.subject_kind == subject[0].value, _g.subject == subject[1])
        with reading(self._engines) as conn:
            rows = conn.execute(query.order_by(_g.resource_kind, _g.resource, _g.subject_kind, _g.subject))
            return [_grant(row._mapping) for row in rows]

    def roles_held(self, username: str, kind: ResourceKind, resources: Sequence[str] | None = None) -> dict[str, Role]:
        """The best role ``username`` holds, directly or through a team, on each resource of
        ``kind`` (only those in ``resources`` when given) that they hold any role on."""
        query = _ROLES_HELD_OF_ALL
        values: dict[str, object] = {"username": username, "kind": kind.value}
        if resources is not None:
            query = _ROLES_HELD_OF
            values["resources"] = list(resources)
        best: dict[str, Role] = {}
        with reading(self._engines) as conn:
            for row in conn.execute(query, values):
                role = Role(row.role)
                held = best.get(row.resource)
                if held is None or role.rank > held.rank:
                    best[row.resource] = role
        return best

    def rename_grants(self, kind: ResourceKind, old: str, new: str) -> None:
        with transaction(self._engines.write) as conn:
            conn.execute(
                update(t.grants).where(_g.resource_kind == kind.value, _g.resource == old).values(resource=new)
            )
        self._access_changed()

    # -- sign-in attempts -------------------------------------------------------------------

    def count_sign_in_attempts(self, keys: Iterable[str], *, since: int, record_at: int | None = None) -> int:
        """The most attempts any of ``keys`` made since ``since``, counting one more for each
        key at ``record_at`` when given (recorded in the same transaction)."""
        keys = list(keys)
        with transaction(self._engines.write) as conn:
            conn.execute(delete(t.sign_in_attempts).where(_a.attempted_at < since))
            if record_at is not None:
                conn.execute(insert(t.sign_in_attempts), [{"key": key, "attempted_at": record_at} for key in keys])
            counts = conn.execute(
                select(_a.key, func.count()).where(_a.key.in_(keys), _a.attempted_at >= since).group_by(_a.key)
            ).all()
        return max((int(count) for _key, count in counts), default=0)

    # -- single sign-ons under way ----------------------------------------------------------

    def save_sso_login(self, state_digest: str, login: SsoLogin, *, expired_before: int) -> None:
        row = {
            "state_digest": state_digest,
            "nonce": login.nonce,
            "code_verifier": login.code_verifier,
            "next_path": login.next_path,
            "created_at": login.created_at,
        }
        with transaction(self._engines.write) as conn:
            # Abandoned sign-ons (the user closed the provider's tab) go here, not in a sweeper.
            conn.execute(delete(t.sso_logins).where(_o.created_at < expired_before))
            conn.execute(insert(t.sso_logins), row)

    def take_sso_login(self, state_digest: str) -> SsoLogin | None:
        with transaction(self._engines.write) as conn:
            row = conn.execute(select(t.sso_logins).where(_o.state_digest == state_digest)).one_or_none()
            if row is None:
                return None
            # Two callbacks with one state may both have read the row; only the one whose
            # delete removed it may go on.
            if conn.execute(delete(t.sso_logins).where(_o.state_digest == state_digest)).rowcount != 1:
                return None
        values = row._mapping
        return SsoLogin(values["nonce"], values["code_verifier"], values["next_path"], values["created_at"])


def _user_row(conn: Connection, username: str) -> Row[Any]:
    row = conn.execute(select(t.users).where(_u.username == username)).one_or_none()
    if row is None:
        raise UserNotFound(f"no user named {username!r}", details={"username": username})
    return row


def _team_row(conn: Connection, name: str) -> Row[Any]:
    row = conn.execute(select(t.teams).where(t.teams.c.name == name)).one_or_none()
    if row is None:
        raise TeamNotFound(f"no team named {name!r}", details={"team": name})
    return row


def _user(row: Any) -> User:
    values = row._mapping if hasattr(row, "_mapping") else row
    return User(
        id=values["id"],
        username=values["username"],
        display_name=values["display_name"],
        email=values["email"],
        is_admin=bool(values["is_admin"]),
        disabled=bool(values["disabled"]),
        is_service=bool(values["is_service"]),
        source=values["source"],
        created_at=values["created_at"],
    )


def _token(values: Any, username: str) -> ApiToken:
    return ApiToken(
        id=values["id"],
        username=username,
        name=values["name"],
        hint=values["hint"],
        created_at=values["created_at"],
        expires_at=values["expires_at"],
        last_used_at=values["last_used_at"],
        revoked_at=values["revoked_at"],
    )


def _team(conn: Connection, row: Row[Any]) -> Team:
    members = conn.execute(
        select(_u.username).join(t.team_members, _m.user_id == _u.id).where(_m.team == row.name).order_by(_u.username)
    )
    return Team(row.name, row.description, tuple(member.username for member in members), row.created_at)


def _grant(values: Any) -> Grant:
    return Grant(
        resource_kind=ResourceKind(values["resource_kind"]),
        resource=values["resource"],
        subject_kind=SubjectKind(values["subject_kind"]),
        subject=values["subject"],
        role=Role(values["role"]),
        granted_by=values["granted_by"],
        granted_at=values["granted_at"],
    )
