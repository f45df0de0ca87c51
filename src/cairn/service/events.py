"""The event log's rules, mixed into :class:`TrackingService` (docs/events.md).

- every change to the registry and every run's creation, status change, deletion and
  restoration is recorded by the service method that makes it, inside the same unit of work
  (``store.atomic()``): the change and its event are kept together or not at all;
- the actor is the acting principal;
- the log is read newest first, filtered by type patterns (``model_version.*``), subject (a
  path; ``models/NAME`` also finds its versions' events), actor and time; nothing changes or
  removes an event;
- the whole log is a global admin's to read (it records every project, model and user). Anyone
  else reads the events of one subject they may read: ``models/NAME`` (and ``models/NAME/*``,
  its versions and reviews) with the right to read the model, ``runs/ID`` with the right to
  read the run's project, ``projects/NAME/members`` with the right to read the project, and
  their own ``users/NAME`` (docs/access.md, "The event log").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cairn.core import limits
from cairn.core.entities import Page
from cairn.core.errors import InvalidPageToken, PermissionDenied
from cairn.core.events import Event, EventType, check_event_types, expand_types
from cairn.service.policy import Action, check_run

if TYPE_CHECKING:
    from cairn.service.policy import Policy, Principal
    from cairn.store.base import MetadataStore

#: Events one page holds at most; by default.
MAX_EVENT_PAGE = limits.MAX_PAGE_SIZE
DEFAULT_EVENT_PAGE = 100
#: A page token is the ``seq`` the next page starts below.
MAX_EVENT_PAGE_TOKEN_LENGTH = 19
EVENT_PAGE_TOKEN_PATTERN = f"^[0-9]{{1,{MAX_EVENT_PAGE_TOKEN_LENGTH}}}$"
_EVENT_TOKEN = re.compile(EVENT_PAGE_TOKEN_PATTERN)
MAX_SUBJECT_LENGTH = 1000


class EventRules:
    store: MetadataStore
    principal: Principal
    policy: Policy

    def _record(self, type_: EventType, subject: str, data: Mapping[str, Any]) -> Event:
        """Append the event of a change just made, as the acting principal (call it inside the
        change's ``store.atomic()``). The client's address goes with it when a server knows it."""
        if self.principal.address is not None:
            data = {**data, "address": self.principal.address}
        return self.store.append_event(type_, subject, self.principal.name, data)

    def list_events(
        self,
        *,
        types: Sequence[str] = (),
        subject: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = DEFAULT_EVENT_PAGE,
        page_token: str | None = None,
    ) -> Page[Event]:
        """The log, newest first. ``types`` are event types or patterns (``review.*``, ``*``);
        ``subject`` is a path, and ``PATH/*`` takes PATH and every subject under it
        (``models/fraud/*`` finds the model's events and its versions'); ``since`` and
        ``until`` are milliseconds (until exclusive). Raises InvalidValue, InvalidPageToken."""
        checked_types = None if not types else expand_types(check_event_types(types))
        subject_prefix = False
        if subject is not None:
            limits.check_text(subject, "event subject", MAX_SUBJECT_LENGTH)
            if subject.endswith("/*"):
                subject, subject_prefix = subject.removesuffix("/*"), True
        if actor is not None:
            limits.check_name(actor, "actor")
        for bound in (since, until):
            if bound is not None:
                limits.check_timestamp(bound)
        limits.check_listing_limit(limit, MAX_EVENT_PAGE)
        before = None if page_token is None else _seq_from_token(page_token)
        self._may_read_events(subject, subject_prefix)
        found = self.store.list_events(
            types=checked_types,
            subject=subject,
            subject_prefix=subject_prefix,
            actor=actor,
            since=since,
            until=until,
            before_seq=before,
            limit=limit + 1,
        )
        items = found[:limit]
        return Page(items, str(items[-1].seq) if len(found) > limit else None)

    def _may_read_events(self, subject: str | None, prefix: bool) -> None:
        try:
            self.policy.check(self.principal, Action.ADMIN, None)
            return
        except PermissionDenied:
            pass
        kind, _, rest = (subject or "").partition("/")
        if kind == "models" and rest:  # a model's name has no "/": all below it is the model's
            self.policy.check_model(self.principal, Action.READ, rest.split("/", 1)[0])
            return
        if kind == "runs" and rest:
            check_run(
                self.policy, self.principal, Action.READ, self.store.get_run(rest.split("/", 1)[0], details=False)
            )
            return
        # A project's name may hold "/": only its exact members subject, never a prefix.
        if kind == "projects" and rest and not prefix:
            self.policy.check(self.principal, Action.READ, rest.removesuffix("/members"))
            return
        if kind == "users" and rest.split("/", 1)[0] == self.principal.name:
            return
        raise PermissionDenied(
            "only an admin may read the whole event log; name a subject you may read, such as "
            "models/NAME/*, runs/RUN_ID or users/YOUR_NAME",
            details={"subject": subject},
        )


def _seq_from_token(token: str) -> int:
    if not isinstance(token, str) or not _EVENT_TOKEN.fullmatch(token):
        raise InvalidPageToken(f"{str(token)[:40]!r} is not a page token of the event log")
    return int(token)
