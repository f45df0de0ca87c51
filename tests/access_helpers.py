"""Users, roles and tokens for tests of a server with authentication (docs/access.md).

:class:`Team` makes users through the service as a global admin would, each with a token, so
a test reads ``team.token("viewer")`` and sends it as ``Authorization: Bearer …``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cairn.core.access import ResourceKind, Role
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.base import MetadataStore

#: The password every test user gets: long enough, not a common one.
PASSWORD = "correct horse battery staple 42"
ADMIN = Principal("root", is_admin=True, authenticated=True)
#: Who the contract fixture acts as on every backend (embedded, and with ``http-auth``).
TESTER = "tester"
#: The Team of each server the contract fixture started with authentication, by its URL: how
#: tests.contract.helpers.acting_as gives a colleague a token there.
SIGNED_IN: dict[str, Team] = {}


@dataclass
class Team:
    """Users of one store and their tokens, made as a global admin would."""

    store: MetadataStore
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def admin(self) -> TrackingService:
        return TrackingService(self.store, ADMIN)

    def user(self, name: str, *, is_admin: bool = False, password: str | None = PASSWORD) -> str:
        """Create ``name`` with a token, and return the token."""
        self.admin.create_user(name, password=password, is_admin=is_admin)
        acting = TrackingService(self.store, Principal(name, is_admin=is_admin, authenticated=True))
        self.tokens[name] = acting.create_token("tests")[1]
        return self.tokens[name]

    def grant(self, name: str, role: Role, *, project: str | None = None, model: str | None = None) -> None:
        kind, resource = (ResourceKind.MODEL, model) if model is not None else (ResourceKind.PROJECT, project)
        assert resource is not None
        self.admin.grant_role(kind, resource, name, role)

    def token(self, name: str) -> str:
        return self.tokens[name]

    def headers(self, name: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[name]}"}
