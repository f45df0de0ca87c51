"""Who is acting, and whether they may: the one place authorisation will be decided.

Until users and roles exist every principal may do everything; authentication will replace
:class:`AllowAll` with a policy that reads memberships, without touching the routes.
"""

from __future__ import annotations

import enum
import getpass
import os
from dataclasses import dataclass
from typing import Protocol

from cairn.core.limits import check_name


class Action(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Principal:
    """A user or token acting through the service."""

    name: str

    @classmethod
    def local_user(cls) -> Principal:
        """Who acts from this machine: ``CAIRN_USER`` if set (the configured user name, until
        users sign in), else the operating-system user. It acts in embedded mode, and the
        HTTP client names it to the server (docs/architecture.md, "Who is acting")."""
        configured = os.environ.get("CAIRN_USER", "").strip()
        if configured:
            return cls(check_name(configured, "CAIRN_USER"))
        try:
            return cls(getpass.getuser())
        except (KeyError, OSError):  # no passwd entry, as in some containers
            return cls("unknown")


class Policy(Protocol):
    def check(self, principal: Principal, action: Action, project: str | None) -> None:
        """Return if ``principal`` may do ``action`` in ``project``; raise PermissionDenied if not."""
        ...


class AllowAll:
    def check(self, principal: Principal, action: Action, project: str | None) -> None:
        return None
