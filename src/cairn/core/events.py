"""The event log: one append-only record of every change to the registry and of every run's
lifecycle, for people (``cairn events list``, the dashboard) and for webhooks (docs/events.md).

An event is written in the same transaction as the change it records, so the log never tells of
a change that was rolled back, and never misses one that was committed. Nothing updates or
deletes an event.

Type names follow MLflow's webhook events where MLflow has one (``registered_model.created``,
``model_version.created``, ``model_version_alias.created``…), so a receiver written for MLflow's
registry reads Cairn's the same way; the rest use the same ``subject.action`` form.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cairn.core.errors import InvalidValue


class EventType(enum.StrEnum):
    MODEL_CREATED = "registered_model.created"
    MODEL_UPDATED = "registered_model.updated"
    MODEL_DELETED = "registered_model.deleted"
    #: Under its new name's subject; ``from`` holds the old name.
    MODEL_RENAMED = "registered_model.renamed"
    MODEL_TAG_SET = "registered_model_tag.set"
    MODEL_TAG_DELETED = "registered_model_tag.deleted"
    VERSION_CREATED = "model_version.created"
    VERSION_UPDATED = "model_version.updated"
    VERSION_DELETED = "model_version.deleted"
    VERSION_STAGE_CHANGED = "model_version.stage_changed"
    VERSION_TAG_SET = "model_version_tag.set"
    VERSION_TAG_DELETED = "model_version_tag.deleted"
    #: An alias set or moved (MLflow says "created" for both); ``from_version`` tells which.
    ALIAS_SET = "model_version_alias.created"
    ALIAS_DELETED = "model_version_alias.deleted"
    ALIAS_PROTECTED = "alias_protection.set"
    ALIAS_UNPROTECTED = "alias_protection.deleted"
    REVIEW_OPENED = "review.opened"
    REVIEW_APPROVED = "review.approved"
    REVIEW_CHANGES_REQUESTED = "review.changes_requested"
    REVIEW_COMMENTED = "review.commented"
    REVIEW_CHECKS_RAN = "review.checks_ran"
    REVIEW_MERGED = "review.merged"
    REVIEW_CLOSED = "review.closed"
    RUN_CREATED = "run.created"
    RUN_STATUS_CHANGED = "run.status_changed"
    RUN_DELETED = "run.deleted"
    RUN_RESTORED = "run.restored"
    #: A run's name or notes changed (its status has its own event).
    RUN_UPDATED = "run.updated"
    RUN_TAG_SET = "run_tag.set"
    RUN_TAG_DELETED = "run_tag.deleted"
    PROJECT_CREATED = "project.created"
    #: Under its new name's subject; ``from`` holds the old name.
    PROJECT_RENAMED = "project.renamed"
    PROJECT_DELETED = "project.deleted"
    PROJECT_RESTORED = "project.restored"
    PROJECT_TAG_SET = "project_tag.set"
    PROJECT_TAG_DELETED = "project_tag.deleted"
    COMMENT_CREATED = "comment.created"
    COMMENT_UPDATED = "comment.updated"
    COMMENT_DELETED = "comment.deleted"
    VIEW_SAVED = "view.saved"
    VIEW_DELETED = "view.deleted"
    # Monitoring (docs/monitoring.md): monitors change under models/NAME/monitors/MONITOR, and
    # an alert opens once per episode of breaches, under models/NAME/alerts/ID.
    MONITOR_CREATED = "monitor.created"
    MONITOR_UPDATED = "monitor.updated"
    MONITOR_DELETED = "monitor.deleted"
    ALERT_OPENED = "alert.opened"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    ALERT_RESOLVED = "alert.resolved"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_UPDATED = "webhook.updated"
    WEBHOOK_DELETED = "webhook.deleted"
    # Access (docs/access.md): the audit trail of who signed in and who may do what.
    USER_SIGNED_IN = "user.signed_in"
    USER_SIGN_IN_FAILED = "user.sign_in_failed"
    USER_SIGNED_OUT = "user.signed_out"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    TOKEN_CREATED = "token.created"
    #: The first use of a token on a day (UTC), not every request.
    TOKEN_USED = "token.used"
    TOKEN_REVOKED = "token.revoked"
    TEAM_CREATED = "team.created"
    TEAM_DELETED = "team.deleted"
    TEAM_MEMBER_ADDED = "team.member_added"
    TEAM_MEMBER_REMOVED = "team.member_removed"
    ROLE_GRANTED = "role.granted"
    ROLE_REVOKED = "role.revoked"


@dataclass(frozen=True, slots=True)
class Event:
    #: Position in the log: later events have larger numbers (not necessarily consecutive).
    seq: int
    id: str
    type: EventType
    #: What changed, as a path: ``models/NAME``, ``models/NAME/versions/3``,
    #: ``models/NAME/reviews/7``, ``runs/RUN_ID``…
    subject: str
    #: The principal who made the change.
    actor: str
    #: Milliseconds since the epoch.
    created_at: int
    data: Mapping[str, Any]


def model_subject(name: str, version: int | None = None) -> str:
    return f"models/{name}" if version is None else f"models/{name}/versions/{version}"


def review_subject(name: str, review_id: int) -> str:
    """A review's events sit under its model's subject, so ``models/NAME/*`` finds them too."""
    return f"models/{name}/reviews/{review_id}"


def run_subject(run_id: str) -> str:
    return f"runs/{run_id}"


def project_subject(name: str) -> str:
    return f"projects/{name}"


def comment_subject(run_id: str, comment_id: str) -> str:
    """A comment's events sit under its run's subject, so ``runs/ID/*`` finds them too."""
    return f"runs/{run_id}/comments/{comment_id}"


def user_subject(username: str) -> str:
    return f"users/{username}"


def team_subject(name: str) -> str:
    return f"teams/{name}"


def members_subject(kind: str, name: str) -> str:
    """Role changes on a project (``projects/NAME/members``) or model (``models/NAME/members``)."""
    return f"{kind}s/{name}/members"


#: An event type pattern: an exact type, ``review.*`` (every type of a subject), or ``*``.
_TYPE_PATTERN = re.compile(r"^(?:\*|[a-z_]+\.(?:\*|[a-z_]+))$")


def check_event_types(patterns: Iterable[str]) -> tuple[str, ...]:
    """Event type patterns as a filter or a webhook's subscription takes them: each an event
    type, ``SUBJECT.*`` or ``*``, naming at least one known type. Raises InvalidValue."""
    checked = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not _TYPE_PATTERN.fullmatch(pattern) or not expand_types([pattern]):
            known = ", ".join(t.value for t in EventType)
            raise InvalidValue(
                f"{str(pattern)[:80]!r} is not an event type or pattern (SUBJECT.* or *); the types are {known}",
                details={"event_type": str(pattern)[:80]},
            )
        checked.append(pattern)
    return tuple(checked)


def expand_types(patterns: Iterable[str]) -> frozenset[EventType]:
    """The event types the patterns name."""
    found: set[EventType] = set()
    for pattern in patterns:
        if pattern == "*":
            return frozenset(EventType)
        if pattern.endswith(".*"):
            prefix = pattern[:-1]
            found.update(t for t in EventType if t.value.startswith(prefix))
        else:
            found.update(t for t in EventType if t.value == pattern)
    return frozenset(found)


#: The audit trail's events: who signed in, tokens, users, teams, roles, and the writes that
#: are not the registry's or a run's lifecycle. They fill the log for people to read; a webhook
#: gets them only by naming them (``user.*``, ``comment.created``), not through ``*``, so a
#: receiver written for model and run events is not flooded with sign-ins.
AUDIT_TYPES = frozenset(
    t
    for t in EventType
    if t.value.split(".", 1)[0] in {"user", "token", "team", "role", "project", "comment", "view", "webhook", "run_tag"}
    or t is EventType.RUN_UPDATED
)


def patterns_naming(type_: EventType) -> tuple[str, ...]:
    """The patterns that take ``type_``: ``*`` (unless an audit event), its ``SUBJECT.*`` and
    itself. A webhook subscribed to any of them gets the event (one ``IN`` lookup instead of
    matching every subscription's patterns)."""
    exact = (type_.value.split(".", 1)[0] + ".*", type_.value)
    return exact if type_ in AUDIT_TYPES else ("*", *exact)


def type_patterns() -> list[str]:
    """Every pattern a filter or subscription takes: each type, each ``SUBJECT.*``, and ``*``."""
    subjects = sorted({t.value.split(".", 1)[0] for t in EventType})
    return [*(t.value for t in EventType), *(f"{s}.*" for s in subjects), "*"]


def detail_fields(event: Event) -> list[tuple[str, Any]]:
    """The event's data worth showing beside its subject, as (key, value): flat values only, and
    none the subject already says (the run id of ``runs/ID``, the model of ``models/NAME``).
    The CLI's table and the dashboard's log show the same fields."""
    said = set(event.subject.split("/"))
    return [(k, v) for k, v in event.data.items() if not isinstance(v, Mapping | list) and str(v) not in said]


def event_to_wire(event: Event) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "id": event.id,
        "type": event.type.value,
        "subject": event.subject,
        "actor": event.actor,
        "created_at": event.created_at,
        "data": dict(event.data),
    }


def event_from_wire(data: Mapping[str, Any]) -> Event:
    return Event(
        seq=data["seq"],
        id=data["id"],
        type=EventType(data["type"]),
        subject=data["subject"],
        actor=data["actor"],
        created_at=data["created_at"],
        data=dict(data["data"]),
    )
