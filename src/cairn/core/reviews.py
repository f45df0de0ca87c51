"""Reviews of a model version before it takes a protected alias: a pull request for a model.

An alias (``champion``) can be *protected*: it then moves only by merging a review, never by
setting it directly. The protection says how many people other than the review's author must
approve, which role on the model an approver must hold (``approve_role``, an editor by default)
and which one merging needs (``merge_role``, a maintainer by default), and which checks must
pass. A check is one of:

- a condition in the query language (docs/query.md), evaluated on the candidate version's
  source run: ``metrics.val/accuracy >= 0.92``, ``params.epochs >= 10 and tags.reviewed = 'yes'``;
- ``signature-unchanged``: the candidate's signature is the one of the version the alias points
  at now (an alias nobody holds yet passes);
- ``no-archived-duplicate``: no Archived version of the model has the candidate's tree digest
  (the same files were tried and retired before).

A review is open, then merged (the alias moved to the candidate) or closed. Each reviewer's
latest vote counts: an approval after a request for changes replaces it. A review merges only
when every check passes, the approvals reach the protection's number and nobody's latest vote
asks for changes (:func:`merge_blockers`).

This module holds the entities and the rules that need no store; the checks themselves are
evaluated in :mod:`cairn.core.review_checks`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cairn.core import limits
from cairn.core.access import Role
from cairn.core.diff import FileStatus, PackageChange, RunDiff
from cairn.core.entities import Run
from cairn.core.errors import InvalidQuery, InvalidValue, ProtectionNotFound
from cairn.core.query.ast import Expr
from cairn.core.query.parser import parse_query
from cairn.core.registry import ModelVersion

#: Who may approve a review and who may merge it when the protection does not say (and for an
#: alias without protection): an editor of the model approves, a maintainer merges.
DEFAULT_APPROVE_ROLE = Role.EDITOR
DEFAULT_MERGE_ROLE = Role.MAINTAINER
#: Checks one protection holds at most.
MAX_CHECKS = 20
#: The most approvals a protection may require.
MAX_REQUIRED_APPROVALS = 100


class CheckKind(enum.StrEnum):
    CONDITION = "condition"
    SIGNATURE_UNCHANGED = "signature_unchanged"
    NO_ARCHIVED_DUPLICATE = "no_archived_duplicate"


#: The keyword checks, as written (``--check signature-unchanged``); the underscore spelling of
#: the kind is accepted too and written back with hyphens.
KEYWORDS = {
    "signature-unchanged": CheckKind.SIGNATURE_UNCHANGED,
    "no-archived-duplicate": CheckKind.NO_ARCHIVED_DUPLICATE,
}


class ReviewState(enum.StrEnum):
    OPEN = "open"
    MERGED = "merged"
    CLOSED = "closed"


class Decision(enum.StrEnum):
    """A reviewer's vote."""

    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


class EntryKind(enum.StrEnum):
    """What an entry of a review's thread is: a comment, or a vote with its (maybe empty) body."""

    COMMENT = "comment"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


@dataclass(frozen=True, slots=True)
class Check:
    """A check as a protection declares it: its text, and what the text means."""

    text: str
    kind: CheckKind
    #: The parsed condition, for a CONDITION check.
    condition: Expr | None = None


def parse_check(text: object) -> Check:
    """A check from its text: ``signature-unchanged``, ``no-archived-duplicate``, or a
    condition of the query language. Raises InvalidValue (not text, empty, too long) and
    InvalidQuery (a condition that does not parse)."""
    if not isinstance(text, str):
        raise InvalidValue(f"a check must be text, got {type(text).__name__}")
    stripped = text.strip()
    keyword = stripped.lower().replace("_", "-")
    if keyword in KEYWORDS:
        return Check(keyword, KEYWORDS[keyword])
    if not stripped:
        raise InvalidValue(
            "a check is a condition of the query language (metrics.val/accuracy >= 0.92), "
            "signature-unchanged or no-archived-duplicate; got an empty one"
        )
    if len(stripped) > limits.MAX_QUERY_LENGTH:
        raise InvalidQuery.at(
            f"a check is at most {limits.MAX_QUERY_LENGTH} characters", stripped, limits.MAX_QUERY_LENGTH
        )
    condition = parse_query(stripped)
    assert condition is not None  # only an empty query parses to None
    return Check(stripped, CheckKind.CONDITION, condition)


def parse_checks(texts: Sequence[str]) -> tuple[Check, ...]:
    """Each check parsed, in order, without repeats (the first of equal texts is kept)."""
    if isinstance(texts, str):
        raise InvalidValue("checks are a list of texts, not one text")
    if len(texts) > MAX_CHECKS:
        raise InvalidValue(f"a protection has at most {MAX_CHECKS} checks, got {len(texts)}")
    parsed: dict[str, Check] = {}
    for text in texts:
        check = parse_check(text)
        parsed.setdefault(check.text, check)
    return tuple(parsed.values())


def check_required_approvals(value: object) -> int:
    """0 to :data:`MAX_REQUIRED_APPROVALS`. Raises InvalidValue."""
    approvals = limits.check_int64(value, "approvals", minimum=0)
    if approvals > MAX_REQUIRED_APPROVALS:
        raise InvalidValue(f"a protection requires at most {MAX_REQUIRED_APPROVALS} approvals, got {approvals}")
    return approvals


def check_review_role(value: object, what: str) -> Role:
    """A role a protection names (viewer, editor, maintainer or admin). Raises InvalidValue."""
    if isinstance(value, Role):
        return value
    for role in Role:
        if value == role.value:
            return role
    choices = ", ".join(role.value for role in Role)
    raise InvalidValue(f"{what} is one of {choices}, got {str(value)[:50]!r}", details={"field": what})


def check_review_id(value: object) -> int:
    """A review's id: a positive integer. Raises InvalidValue."""
    return limits.check_int64(value, "review id", minimum=1)


def check_vote_body(body: object, *, required: bool) -> str:
    """The text of a vote: markdown of at most a comment's length; a request for changes must
    say what to change."""
    if not isinstance(body, str):
        raise InvalidValue(f"a review's text must be text, got {type(body).__name__}")
    if required and not body.strip():
        raise InvalidValue("a request for changes must say what to change")
    if len(body) > limits.MAX_COMMENT_LENGTH:
        raise InvalidValue(
            f"a review's text is at most {limits.MAX_COMMENT_LENGTH} characters; this one has {len(body)}",
            details={"limit": limits.MAX_COMMENT_LENGTH, "length": len(body)},
        )
    if "\x00" in body:
        raise InvalidValue("a review's text contains a NUL character")
    return body


def not_protected(model: str, alias: str) -> ProtectionNotFound:
    """The error for an alias without a protection, the same from every layer."""
    return ProtectionNotFound(
        f"alias {alias!r} of registered model {model!r} is not protected", details={"model": model, "alias": alias}
    )


# -- entities ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AliasProtection:
    """An alias that moves only through a review."""

    model: str
    alias: str
    required_approvals: int
    #: The checks' texts, in the order declared.
    checks: tuple[str, ...]
    created_by: str
    created_at: int
    updated_by: str
    updated_at: int
    #: The least role on the model a reviewer needs to approve or ask for changes.
    approve_role: Role = DEFAULT_APPROVE_ROLE
    #: The least role on the model needed to merge a review into the alias.
    merge_role: Role = DEFAULT_MERGE_ROLE


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of a review, as it ran: whether it passed, and what it saw."""

    check: str
    kind: CheckKind
    passed: bool
    #: What the check looked at: for a condition, each field it names with the run's value
    #: (None where the run has none); for ``signature-unchanged``, both versions and whether
    #: their signatures are equal; for ``no-archived-duplicate``, the Archived versions with the
    #: candidate's tree digest.
    observed: Mapping[str, Any]
    #: The same for people: ``metrics.val/accuracy = 0.94``.
    message: str


@dataclass(frozen=True, slots=True)
class Vote:
    reviewer: str
    decision: Decision
    voted_at: int


@dataclass(frozen=True, slots=True)
class Review:
    id: int
    model: str
    alias: str
    #: The candidate: the version the alias moves to when the review merges.
    version: int
    #: The version the alias pointed at when the review opened (None if it pointed nowhere).
    base_version: int | None
    state: ReviewState
    author: str
    description: str
    #: Approvals needed, as the protection said when the checks last ran.
    required_approvals: int
    #: The checks as they last ran (when the review opened, or before it merged).
    checks: tuple[CheckResult, ...]
    checks_ran_at: int
    #: Each reviewer's latest vote, by reviewer.
    votes: tuple[Vote, ...]
    created_at: int
    updated_at: int
    merged_by: str | None = None
    merged_at: int | None = None
    #: The version the alias moved off when the review merged.
    merged_from_version: int | None = None
    closed_by: str | None = None
    closed_at: int | None = None

    @property
    def approvals(self) -> tuple[str, ...]:
        """Who approves, by their latest vote."""
        return tuple(v.reviewer for v in self.votes if v.decision is Decision.APPROVED)

    @property
    def changes_requested_by(self) -> tuple[str, ...]:
        return tuple(v.reviewer for v in self.votes if v.decision is Decision.CHANGES_REQUESTED)

    @property
    def mergeable(self) -> bool:
        """Open, and nothing blocks it as its checks last ran."""
        return self.state is ReviewState.OPEN and not merge_blockers(self.checks, self.votes, self.required_approvals)


@dataclass(frozen=True, slots=True)
class ReviewComment:
    """An entry of a review's thread: a comment, or a vote and what the voter wrote."""

    id: int
    review_id: int
    author: str
    kind: EntryKind
    #: Markdown, as written ("" for a vote without text).
    body: str
    #: Distinct ``@name`` mentions, in order of first appearance.
    mentions: tuple[str, ...]
    #: The entry this one answers, or None.
    reply_to: int | None
    created_at: int


@dataclass(frozen=True, slots=True)
class SnapshotChanges:
    """How one kind of snapshot (code, environment…) differs between the two source runs:
    paths added, removed or changed, and for the environment the packages that moved."""

    kind: str
    #: Snapshot ids: the compared version's run's (``before``) and the candidate's (``after``).
    before: str | None
    after: str | None
    files: Mapping[str, FileStatus]
    packages: tuple[PackageChange, ...] = ()


@dataclass(frozen=True, slots=True)
class ReviewDetail:
    """Everything a review's page shows, in one answer: the review, the protection it answers
    to, its thread, and the candidate beside the version it is compared with.

    While the review is open it is compared with the version the alias points at now; once
    merged, with the version the alias moved off; once closed, with the one it pointed at when
    the review opened."""

    review: Review
    protection: AliasProtection | None
    comments: tuple[ReviewComment, ...]
    candidate: ModelVersion
    compared_with: ModelVersion | None
    #: The source runs (None when a run is gone or there is nothing to compare with).
    candidate_run: Run | None
    compared_run: Run | None
    #: What changed from the compared version's run to the candidate's: params, metrics, tags.
    diff: RunDiff | None
    snapshots: tuple[SnapshotChanges, ...]


def merge_blockers(checks: Sequence[CheckResult], votes: Sequence[Vote], required_approvals: int) -> dict[str, Any]:
    """What stands between a review and its merge, as the refusal's details; {} when nothing does."""
    failed = [c for c in checks if not c.passed]
    approvals = [v.reviewer for v in votes if v.decision is Decision.APPROVED]
    asking = [v.reviewer for v in votes if v.decision is Decision.CHANGES_REQUESTED]
    if not failed and len(approvals) >= required_approvals and not asking:
        return {}
    return {
        "failed_checks": failed,
        "approvals": len(approvals),
        "required_approvals": required_approvals,
        "changes_requested_by": asking,
    }


def describe_blockers(blockers: Mapping[str, Any]) -> str:
    """The blockers in one sentence: ``1 check failed (metrics.acc >= 0.9: metrics.acc = 0.8);
    1 of 2 approvals``."""
    parts = []
    failed: Sequence[CheckResult] = blockers["failed_checks"]
    if failed:
        shown = "; ".join(f"{c.check}: {c.message}" for c in failed)
        parts.append(f"{len(failed)} check{'s' if len(failed) != 1 else ''} failed ({shown})")
    if blockers["approvals"] < blockers["required_approvals"]:
        parts.append(f"{blockers['approvals']} of {blockers['required_approvals']} approvals")
    if blockers["changes_requested_by"]:
        parts.append(f"changes requested by {', '.join(blockers['changes_requested_by'])}")
    return "; ".join(parts)
