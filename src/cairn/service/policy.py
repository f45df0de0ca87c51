"""Who is acting, and whether they may: the one place authorisation is decided (docs/access.md).

Every service method asks its policy before it reads or changes anything. Embedded mode, ``cairn
ui`` and a server started with ``--insecure-no-auth`` use :class:`AllowAll`: one person's tool.
A server with authentication uses :class:`RolePolicy`, which reads the roles users and their
teams hold on projects and registered models. The routes never decide: the embedded SDK, every
HTTP route and every dashboard page share these rules.

A project or model the principal holds no role on answers as if it did not exist (404, not
403), so its name does not leak; one they can see but not change answers PermissionDenied.
"""

from __future__ import annotations

import contextlib
import enum
import getpass
import os
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from cairn.core.access import ResourceKind, Role
from cairn.core.errors import (
    CairnError,
    ModelNotFound,
    PermissionDenied,
    ProjectNotFound,
    RunNotFound,
    Unauthenticated,
)
from cairn.core.limits import check_name

if TYPE_CHECKING:
    from cairn.core.entities import Run
    from cairn.store.base import AccessStore


class Action(enum.StrEnum):
    READ = "read"  # viewer
    WRITE = "write"  # editor: log runs, artifacts, comments, notes; register model versions
    DELETE = "delete"  # maintainer: delete runs and versions
    MAINTAIN = "maintain"  # maintainer: webhooks, saved views, merging reviews
    ADMIN = "admin"  # admin: members and settings

    @property
    def role(self) -> Role:
        return _NEEDED[self]

    @classmethod
    def needing(cls, role: Role) -> Action:
        """The action whose check asks for ``role`` (a protected alias names roles, not actions)."""
        return _FOR_ROLE[role]


_NEEDED = {
    Action.READ: Role.VIEWER,
    Action.WRITE: Role.EDITOR,
    Action.DELETE: Role.MAINTAINER,
    Action.MAINTAIN: Role.MAINTAINER,
    Action.ADMIN: Role.ADMIN,
}
_FOR_ROLE = {
    Role.VIEWER: Action.READ,
    Role.EDITOR: Action.WRITE,
    Role.MAINTAINER: Action.MAINTAIN,
    Role.ADMIN: Action.ADMIN,
}


@dataclass(frozen=True, slots=True)
class Principal:
    """A user or token acting through the service."""

    name: str
    #: A global admin: may do everything, everywhere (and the one person of embedded mode).
    is_admin: bool = False
    #: Signed in to a server with authentication (by session or token), so the name is proven.
    authenticated: bool = False
    #: The client's address, for the audit log; None in embedded mode.
    address: str | None = None
    #: How the principal proved who they are: ``session``, ``token``, ``sso`` or ``local``.
    via: str = "local"

    @classmethod
    def local_user(cls) -> Principal:
        """Who acts from this machine: ``CAIRN_USER`` if set, else the operating-system user.
        It acts in embedded mode; against a server without authentication the HTTP client names
        it (docs/architecture.md, "Who is acting"); with authentication a token says who."""
        configured = os.environ.get("CAIRN_USER", "").strip()
        if configured:
            return cls(check_name(configured, "CAIRN_USER"))
        try:
            return cls(getpass.getuser())
        except (KeyError, OSError):  # no passwd entry, as in some containers
            return cls("unknown")


class Policy(Protocol):
    def check(self, principal: Principal, action: Action, project: str | None) -> None:
        """Return if ``principal`` may do ``action`` in ``project`` (None: the server as a
        whole); raise ProjectNotFound if they may not see it, PermissionDenied if they may see
        it but not do this."""
        ...

    def check_model(self, principal: Principal, action: Action, model: str | None) -> None:
        """The same for a registered model (None: the registry as a whole); ModelNotFound for
        one they may not see."""
        ...

    def check_somewhere(self, principal: Principal, action: Action, kind: ResourceKind) -> None:
        """Return if ``principal`` may do ``action`` on at least one project (or model): what
        storing content-addressed bytes needs, which belong to no project until an artifact of
        a run names them (and naming them needs the right to write to that run)."""
        ...

    def visible(
        self, principal: Principal, kind: ResourceKind, names: Collection[str] | None = None
    ) -> set[str] | None:
        """Of ``names`` (every one when None), those ``principal`` may see; None means all."""
        ...

    def role(self, principal: Principal, kind: ResourceKind, name: str) -> Role | None:
        """The principal's role on a project or model (admin for global admins and AllowAll)."""
        ...


class AllowAll:
    """Everyone may do everything: one person's tool (embedded mode, ``cairn ui``) or a server
    behind a proxy that authenticates (``--insecure-no-auth``)."""

    def check(self, principal: Principal, action: Action, project: str | None) -> None:
        return None

    def check_model(self, principal: Principal, action: Action, model: str | None) -> None:
        return None

    def check_somewhere(self, principal: Principal, action: Action, kind: ResourceKind) -> None:
        return None

    def visible(
        self, principal: Principal, kind: ResourceKind, names: Collection[str] | None = None
    ) -> set[str] | None:
        return None

    def role(self, principal: Principal, kind: ResourceKind, name: str) -> Role | None:
        return Role.ADMIN


#: Seconds a role found is trusted before the store is read again (see RolePolicy._held).
ROLES_RECHECK_S = 1.0
_MAX_CACHED_USERS = 10_000


@dataclass(frozen=True, slots=True)
class _HeldRoles:
    roles: dict[str, Role]
    #: The store's access generation when the roles were read.
    generation: int
    #: time.monotonic() then.
    at: float


class RolePolicy:
    """Roles held on projects and registered models, directly or through teams; global admins
    may do everything. On the server as a whole (``None``) a signed-in user may read (what
    each listing then shows is filtered by :meth:`visible`) and only an admin may change."""

    def __init__(self, store: AccessStore) -> None:
        self.store = store
        self._cache: dict[tuple[str, ResourceKind], _HeldRoles] = {}

    def check(self, principal: Principal, action: Action, project: str | None) -> None:
        self._check(principal, action, ResourceKind.PROJECT, project)

    def check_model(self, principal: Principal, action: Action, model: str | None) -> None:
        self._check(principal, action, ResourceKind.MODEL, model)

    def check_somewhere(self, principal: Principal, action: Action, kind: ResourceKind) -> None:
        _require_signed_in(principal)
        if principal.is_admin:
            return
        if not any(held.includes(action.role) for held in self.store.roles_held(principal.name, kind).values()):
            raise PermissionDenied(
                f"{action.value} needs the {action.role.value} role on some {kind.value}; "
                f"{principal.name!r} holds none",
                details={"needed": action.role.value},
            )

    def visible(
        self, principal: Principal, kind: ResourceKind, names: Collection[str] | None = None
    ) -> set[str] | None:
        _require_signed_in(principal)
        if principal.is_admin:
            return None
        return set(self.store.roles_held(principal.name, kind, None if names is None else list(names)))

    def role(self, principal: Principal, kind: ResourceKind, name: str) -> Role | None:
        _require_signed_in(principal)
        if principal.is_admin:
            return Role.ADMIN
        return self._held(principal.name, kind, name)

    def _check(self, principal: Principal, action: Action, kind: ResourceKind, name: str | None) -> None:
        _require_signed_in(principal)
        if principal.is_admin:
            return
        if name is None:
            if action is Action.READ:
                return
            raise PermissionDenied(f"only an admin may {action.value} across the whole server")
        held = self._held(principal.name, kind, name)
        if held is None:
            raise _hidden(kind, name)
        if not held.includes(action.role):
            raise PermissionDenied(
                f"{action.value} on {kind.value} {name!r} needs the {action.role.value} role; "
                f"{principal.name!r} is a {held.value}",
                details={kind.value: name, "role": held.value, "needed": action.role.value},
            )

    def _held(self, username: str, kind: ResourceKind, name: str) -> Role | None:
        """The user's role on one project or model. Every request checks one, and reading the
        store for it cost more than the rest of a metric batch's checks (bench/auth.py), so the
        user's roles of that kind are kept for :data:`ROLES_RECHECK_S`, as a token is
        (service/authn.py): any change to grants, teams or users made through this process's
        store drops them at once; another process's change acts within that second. A role
        not found is never kept, so a new grant acts at once everywhere."""
        key = (username, kind)
        cached = self._cache.get(key)
        if (
            cached is not None
            and name in cached.roles
            and cached.generation == self.store.access_generation
            and time.monotonic() - cached.at < ROLES_RECHECK_S
        ):
            return cached.roles[name]
        generation = self.store.access_generation  # before the read: a change meanwhile drops it
        roles = self.store.roles_held(username, kind)
        if len(self._cache) >= _MAX_CACHED_USERS:
            self._cache.clear()
        self._cache[key] = _HeldRoles(roles, generation, time.monotonic())
        return roles.get(name)


def _require_signed_in(principal: Principal) -> None:
    if not principal.authenticated and not principal.is_admin:
        raise Unauthenticated("sign in first: this server requires authentication")


def _hidden(kind: ResourceKind, name: str) -> Exception:
    """What a project or model the principal may not see answers: the error of one that does
    not exist, word for word."""
    if kind is ResourceKind.MODEL:
        return ModelNotFound(f"no registered model named {name!r}", details={"model": name})
    return ProjectNotFound(f"no project named {name!r}", details={"project": name})


@contextlib.contextmanager
def hidden_as(not_found: CairnError) -> Iterator[None]:
    """Around a check of a thing found by id (a run, comment, view, snapshot, review): when the
    principal may not see its project or model, answer ``not_found``, the error of an id that
    does not exist, rather than one naming the project or model it is in."""
    try:
        yield
    except (ProjectNotFound, ModelNotFound):
        raise not_found from None


def check_run(policy: Policy, principal: Principal, action: Action, run: Run) -> None:
    """``action`` on a run is ``action`` in its project; a run of a project the principal may
    not see answers RunNotFound, as an unknown id does."""
    with hidden_as(RunNotFound(f"no run with id {run.id!r}", details={"run_id": run.id})):
        policy.check(principal, action, run.project)
