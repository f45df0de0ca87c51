"""The rules of reviews and protected aliases, mixed into :class:`TrackingService`
(docs/registry.md, "Reviews").

- protecting an alias, or changing its protection, needs the right to write; it may name an
  alias no version holds yet. A protected alias is never set, moved or removed directly
  (``ReviewRequired``, in :class:`RegistryRules`): only a merged review moves it;
- anyone who may write opens a review of an existing version for an alias (protected or not),
  unless the version already holds the alias or an open review of it for that alias exists;
  the protection's checks run as it opens, and their results are stored;
- the author of a review cannot vote on it (``SelfApproval``); each reviewer's latest vote
  counts; votes, merges and closes need an open review (``ReviewNotOpen``); comments may be
  added to any review;
- a merge runs the checks again, against the protection as it is now, and goes ahead only when
  every check passes, the approvals reach the required number and nobody's latest vote asks
  for changes (``ReviewNotMergeable`` otherwise, and nothing is written); the checks' results,
  the alias move (through :meth:`RegistryRules._move_alias`, so the alias history and its event
  record it) and the merge are one unit of work, with their events;
- who acts is the principal: the configured user name until authentication exists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cairn.core import limits
from cairn.core.access import ResourceKind, Role
from cairn.core.artifacts import SNAPSHOT_KINDS, Snapshot
from cairn.core.clock import now_ms
from cairn.core.diff import diff_runs, package_changes, snapshot_changes
from cairn.core.discussion import check_comment_body, parse_mentions
from cairn.core.entities import Page, Run
from cairn.core.errors import (
    AliasNotFound,
    AlreadyExists,
    CommentNotFound,
    InvalidPageToken,
    InvalidValue,
    PermissionDenied,
    ReviewNotFound,
    ReviewNotMergeable,
    ReviewNotOpen,
    ReviewRequired,
    RunNotFound,
    SelfApproval,
)
from cairn.core.events import EventType, model_subject, review_subject
from cairn.core.models.uri import check_alias, check_model_name, check_version_number
from cairn.core.registry import ModelVersion
from cairn.core.review_checks import run_checks
from cairn.core.reviews import (
    DEFAULT_APPROVE_ROLE,
    DEFAULT_MERGE_ROLE,
    AliasProtection,
    CheckKind,
    CheckResult,
    Decision,
    EntryKind,
    Review,
    ReviewComment,
    ReviewDetail,
    ReviewState,
    SnapshotChanges,
    check_required_approvals,
    check_review_id,
    check_review_role,
    check_vote_body,
    describe_blockers,
    merge_blockers,
    not_protected,
    parse_checks,
)
from cairn.core.reviews_wire import check_result_to_wire, review_to_wire
from cairn.service.policy import Action, check_run, hidden_as
from cairn.service.registry import RegistryRules

#: Reviews one page holds at most, and by default.
MAX_REVIEW_PAGE = limits.MAX_PAGE_SIZE
DEFAULT_REVIEW_PAGE = 100
#: A page token is the review id the next page starts below.
MAX_REVIEW_PAGE_TOKEN_LENGTH = 19
REVIEW_PAGE_TOKEN_PATTERN = f"^[0-9]{{1,{MAX_REVIEW_PAGE_TOKEN_LENGTH}}}$"
_REVIEW_TOKEN = re.compile(REVIEW_PAGE_TOKEN_PATTERN)
#: Bytes of an environment's requirements.txt a comparison reads; a real one is a few KiB.
MAX_REQUIREMENTS_BYTES = 1024 * 1024


class ReviewRules(RegistryRules):
    # -- protections ------------------------------------------------------------------------

    def protect_alias(
        self,
        name: str,
        alias: str,
        *,
        approvals: int = 1,
        checks: Sequence[str] = (),
        approve_role: Role | str = DEFAULT_APPROVE_ROLE,
        merge_role: Role | str = DEFAULT_MERGE_ROLE,
    ) -> AliasProtection:
        """Protect ``alias`` (or replace its protection): it then moves only by merging a
        review with ``approvals`` approvals from people other than its author, each holding at
        least ``approve_role`` on the model, and every check passing; merging needs
        ``merge_role``. A protection is one of the model's settings: it needs the model's admin
        role. Raises InvalidValue, InvalidQuery (a condition that does not parse),
        ModelNotFound."""
        checked = check_model_name(name), check_alias(alias)
        required = check_required_approvals(approvals)
        texts = [check.text for check in parse_checks(checks)]
        roles = check_review_role(approve_role, "approve_role"), check_review_role(merge_role, "merge_role")
        self.policy.check_model(self.principal, Action.ADMIN, checked[0])
        with self.store.atomic():
            protection = self.store.set_protection(
                *checked, required, texts, self.principal.name, approve_role=roles[0], merge_role=roles[1]
            )
            data = {
                "name": checked[0],
                "alias": checked[1],
                "required_approvals": required,
                "checks": texts,
                "approve_role": roles[0].value,
                "merge_role": roles[1].value,
            }
            self._record(EventType.ALIAS_PROTECTED, model_subject(checked[0]), data)
        return protection

    def unprotect_alias(self, name: str, alias: str) -> None:
        """Lift the protection: the alias may be moved directly again. Open reviews stay open.
        Raises ModelNotFound, ProtectionNotFound."""
        checked = check_model_name(name), check_alias(alias)
        self.policy.check_model(self.principal, Action.ADMIN, checked[0])
        with self.store.atomic():
            self.store.delete_protection(*checked)
            self._record(EventType.ALIAS_UNPROTECTED, model_subject(checked[0]), {"name": name, "alias": alias})

    def get_alias_protection(self, name: str, alias: str) -> AliasProtection:
        """Raises ModelNotFound, ProtectionNotFound."""
        checked = check_model_name(name), check_alias(alias)
        self.policy.check_model(self.principal, Action.READ, checked[0])
        found = self.store.get_protection(*checked)
        if found is None:
            raise not_protected(*checked)
        return found

    def list_alias_protections(self, name: str) -> list[AliasProtection]:
        """The model's protected aliases, by alias. Raises ModelNotFound."""
        checked = check_model_name(name)
        self.policy.check_model(self.principal, Action.READ, checked)
        return self.store.list_protections(checked)

    def _refuse_if_protected(self, name: str, alias: str) -> None:
        protection = self.store.get_protection(name, alias)
        if protection is None:
            return
        needs = _needs(protection)
        raise ReviewRequired(
            f"alias {alias!r} of registered model {name!r} is protected: it moves only by merging a review ({needs})",
            details={
                "model": name,
                "alias": alias,
                "required_approvals": protection.required_approvals,
                "checks": list(protection.checks),
            },
        )

    # -- reviews ----------------------------------------------------------------------------

    def open_review(self, name: str, version: int, alias: str, *, description: str = "") -> Review:
        """Open a review of ``version`` for ``alias``, as the acting principal; the
        protection's checks run now. Raises ModelNotFound, ModelVersionNotFound, InvalidValue
        (the version already holds the alias), AlreadyExists (an open review of it exists)."""
        checked_name, checked_alias = check_model_name(name), check_alias(alias)
        number = check_version_number(version)
        limits.check_text(description, "review description", limits.MAX_NOTES_LENGTH)
        self.policy.check_model(self.principal, Action.WRITE, checked_name)
        with self.store.atomic():
            candidate = self.store.get_version(checked_name, number)
            holder = self._holder(checked_name, checked_alias)
            if holder is not None and holder.version == number:
                raise InvalidValue(
                    f"version {number} of {checked_name!r} already holds @{checked_alias}: there is nothing to review",
                    details={"model": checked_name, "alias": checked_alias, "version": number},
                )
            existing = self.store.find_open_review(checked_name, checked_alias, number)
            if existing is not None:
                raise AlreadyExists(
                    f"review {existing} of version {number} for @{checked_alias} is open already",
                    details={"review_id": existing},
                )
            protection = self.store.get_protection(checked_name, checked_alias)
            results = self._run_checks(candidate, holder, protection)
            review = self.store.create_review(
                checked_name,
                alias=checked_alias,
                version=number,
                base_version=None if holder is None else holder.version,
                author=self.principal.name,
                description=description,
                required_approvals=0 if protection is None else protection.required_approvals,
                checks=results,
            )
            subject = review_subject(checked_name, review.id)
            self._record(EventType.REVIEW_OPENED, subject, review_to_wire(review))
            self._record(EventType.REVIEW_CHECKS_RAN, subject, _checks_data(review, results))
        return review

    def get_review(self, review_id: int) -> Review:
        """Raises ReviewNotFound."""
        review = self.store.get_review(check_review_id(review_id))
        self._check_review(review, Action.READ)
        return review

    def list_reviews(
        self,
        *,
        model: str | None = None,
        alias: str | None = None,
        state: str | None = None,
        limit: int = DEFAULT_REVIEW_PAGE,
        page_token: str | None = None,
    ) -> Page[Review]:
        """Reviews newest first, of one model, alias or state if asked. Raises InvalidValue,
        ModelNotFound, InvalidPageToken."""
        checked_model = None if model is None else check_model_name(model)
        checked_alias = None if alias is None else check_alias(alias)
        checked_state = None if state is None else _check_state(state)
        limits.check_listing_limit(limit, MAX_REVIEW_PAGE)
        before = None if page_token is None else _id_from_token(page_token)
        if checked_model is not None:
            self.policy.check_model(self.principal, Action.READ, checked_model)
            visible = None
        else:
            self.policy.check(self.principal, Action.READ, None)
            visible = self.policy.visible(self.principal, ResourceKind.MODEL)
        found = self.store.list_reviews(
            model=checked_model,
            alias=checked_alias,
            state=checked_state,
            before_id=before,
            limit=limit + 1,
            models=visible,
        )
        items = found[:limit]
        return Page(items, str(items[-1].id) if len(found) > limit else None)

    def review_detail(self, review_id: int) -> ReviewDetail:
        """The review with its protection, thread, and the candidate beside the version it is
        compared with: both versions, their source runs (params, metrics), what changed between
        the runs, and how their code and environment snapshots differ."""
        review = self.get_review(review_id)
        candidate = self.store.get_version(review.model, review.version)
        if review.state is ReviewState.OPEN:
            holder = self._holder(review.model, review.alias)
            compared_number = None if holder is None else holder.version
        elif review.state is ReviewState.MERGED:
            compared_number = review.merged_from_version
        else:
            compared_number = review.base_version
        compared = None if compared_number is None else self.store.get_version(review.model, compared_number)
        candidate_run = self._source_run(candidate.run_id, readable=True)
        compared_run = None if compared is None else self._source_run(compared.run_id, readable=True)
        return ReviewDetail(
            review=review,
            protection=self.store.get_protection(review.model, review.alias),
            comments=tuple(self.store.list_review_comments(review.id)),
            candidate=candidate,
            compared_with=compared,
            candidate_run=candidate_run,
            compared_run=compared_run,
            diff=diff_runs(candidate_run, compared_run) if candidate_run and compared_run else None,
            snapshots=self._snapshot_changes(compared_run, candidate_run) if candidate_run and compared_run else (),
        )

    def approve_review(self, review_id: int, body: str = "") -> Review:
        """Approve the review as the acting principal (replacing their earlier vote); ``body``
        is optional markdown. Raises ReviewNotFound, ReviewNotOpen, SelfApproval."""
        return self._vote(review_id, Decision.APPROVED, check_vote_body(body, required=False))

    def request_changes(self, review_id: int, body: str) -> Review:
        """Ask for changes, saying which in ``body`` (markdown, required); until the same
        reviewer approves, the review does not merge. Raises ReviewNotFound, ReviewNotOpen,
        SelfApproval, InvalidValue."""
        return self._vote(review_id, Decision.CHANGES_REQUESTED, check_vote_body(body, required=True))

    def _vote(self, review_id: int, decision: Decision, body: str) -> Review:
        checked = check_review_id(review_id)
        with self.store.atomic():
            review = _open(self.store.get_review(checked, lock=True))
            protection = self.store.get_protection(review.model, review.alias)
            needed = DEFAULT_APPROVE_ROLE if protection is None else protection.approve_role
            self._check_review(review, Action.needing(needed))
            if review.author == self.principal.name:
                verb = "approve" if decision is Decision.APPROVED else "request changes on"
                raise SelfApproval(
                    f"{review.author!r} opened review {checked} and cannot {verb} it: a review needs someone else",
                    details={"review_id": checked, "author": review.author},
                )
            self.store.set_review_vote(checked, self.principal.name, decision)
            kind = EntryKind.APPROVED if decision is Decision.APPROVED else EntryKind.CHANGES_REQUESTED
            entry = self.store.add_review_comment(checked, self.principal.name, kind, body, parse_mentions(body), None)
            voted = self.store.get_review(checked)
            event = EventType.REVIEW_APPROVED if decision is Decision.APPROVED else EventType.REVIEW_CHANGES_REQUESTED
            self._record(
                event,
                review_subject(review.model, checked),
                {**_review_ref(review), "reviewer": self.principal.name, "body": body, "comment_id": entry.id},
            )
        return voted

    def comment_review(self, review_id: int, body: str, *, reply_to: int | None = None) -> ReviewComment:
        """Add a markdown comment to the review's thread, answering the entry ``reply_to`` if
        given; ``@name`` mentions are kept. Any review, open or not, may be commented on.
        Raises ReviewNotFound, CommentNotFound (``reply_to`` is no entry of this review),
        InvalidValue."""
        checked = check_review_id(review_id)
        check_comment_body(body)
        parent = None if reply_to is None else limits.check_int64(reply_to, "reply_to", minimum=1)
        with self.store.atomic():
            review = self.store.get_review(checked)
            self._check_review(review, Action.WRITE)
            if parent is not None and self.store.get_review_comment(parent).review_id != checked:
                raise CommentNotFound(
                    f"review {checked} has no comment {parent}", details={"review_id": checked, "comment_id": parent}
                )
            mentions = parse_mentions(body)
            comment = self.store.add_review_comment(
                checked, self.principal.name, EntryKind.COMMENT, body, mentions, parent
            )
            self._record(
                EventType.REVIEW_COMMENTED,
                review_subject(review.model, checked),
                {
                    **_review_ref(review),
                    "comment_id": comment.id,
                    "author": comment.author,
                    "body": body,
                    "mentions": list(mentions),
                    "reply_to": parent,
                },
            )
        return comment

    def run_review_checks(self, review_id: int) -> Review:
        """Run an open review's checks again, against the protection and the alias as they are
        now, and store the results. Raises ReviewNotFound, ReviewNotOpen."""
        checked = check_review_id(review_id)
        with self.store.atomic():
            review = _open(self.store.get_review(checked, lock=True))
            self._check_review(review, Action.WRITE)
            protection = self.store.get_protection(review.model, review.alias)
            results = self._run_checks(
                self.store.get_version(review.model, review.version),
                self._holder(review.model, review.alias),
                protection,
            )
            required = 0 if protection is None else protection.required_approvals
            ran = self.store.save_check_results(checked, required, results)
            self._record(EventType.REVIEW_CHECKS_RAN, review_subject(review.model, checked), _checks_data(ran, results))
        return ran

    def merge_review(self, review_id: int) -> Review:
        """Run the checks again and, if every one passes, the approvals are in and nobody
        asks for changes, move the alias to the candidate and mark the review merged by the
        acting principal. Raises ReviewNotFound, ReviewNotOpen, ReviewNotMergeable (with what
        blocks it; nothing is written)."""
        checked = check_review_id(review_id)
        with self.store.atomic():
            review = _open(self.store.get_review(checked, lock=True))
            protection = self.store.get_protection(review.model, review.alias)
            self._check_review(
                review, Action.needing(DEFAULT_MERGE_ROLE if protection is None else protection.merge_role)
            )
            required = 0 if protection is None else protection.required_approvals
            candidate = self.store.get_version(review.model, review.version)
            results = self._run_checks(candidate, self._holder(review.model, review.alias), protection)
            blockers = merge_blockers(results, review.votes, required)
            if blockers:
                raise ReviewNotMergeable(
                    f"review {checked} cannot merge: {describe_blockers(blockers)}",
                    details={
                        "review_id": checked,
                        **blockers,
                        "failed_checks": [check_result_to_wire(c) for c in blockers["failed_checks"]],
                    },
                )
            subject = review_subject(review.model, checked)
            ran = self.store.save_check_results(checked, required, results)
            self._record(EventType.REVIEW_CHECKS_RAN, subject, _checks_data(ran, results))
            move = self._move_alias(review.model, review.alias, review.version)
            merged = self.store.finish_review(
                checked, ReviewState.MERGED, self.principal.name, merged_from_version=move.from_version
            )
            self._record(
                EventType.REVIEW_MERGED,
                subject,
                {
                    **_review_ref(review),
                    "from_version": move.from_version,
                    "merged_by": self.principal.name,
                    "approvals": list(merged.approvals),
                    "required_approvals": required,
                    "checks": [check_result_to_wire(c) for c in results],
                },
            )
        return merged

    def close_review(self, review_id: int) -> Review:
        """Close an open review without moving the alias: its author (with the right to write),
        or a maintainer of the model. Raises ReviewNotFound, ReviewNotOpen."""
        checked = check_review_id(review_id)
        with self.store.atomic():
            review = _open(self.store.get_review(checked, lock=True))
            self._check_review(review, Action.WRITE if review.author == self.principal.name else Action.MAINTAIN)
            closed = self.store.finish_review(checked, ReviewState.CLOSED, self.principal.name)
            self._record(EventType.REVIEW_CLOSED, review_subject(review.model, checked), _review_ref(review))
        return closed

    # -- what the checks and the comparison read ---------------------------------------------

    def _holder(self, name: str, alias: str) -> ModelVersion | None:
        try:
            return self.store.version_by_alias(name, alias)
        except AliasNotFound:
            return None

    def _check_review(self, review: Review, action: Action) -> None:
        """A review is part of its model: reading, voting on and merging it ask the model (a
        review of a model the principal may not see answers ReviewNotFound)."""
        with hidden_as(ReviewNotFound(f"no review {review.id}", details={"review_id": review.id})):
            self.policy.check_model(self.principal, action, review.model)

    def _source_run(self, run_id: str, *, readable: bool = False) -> Run | None:
        """The version's source run, None once it is purged (a version outlives its run) and,
        when ``readable``, when the principal may not read its project (a model's reviewer need
        not see every project its versions come from). The checks read it either way: they are
        the protection's rules, not the reader's view."""
        try:
            run = self.store.get_run(run_id)
        except RunNotFound:
            return None
        if readable:
            try:
                check_run(self.policy, self.principal, Action.READ, run)
            except (RunNotFound, PermissionDenied):
                return None
        return run

    def _run_checks(
        self, candidate: ModelVersion, holder: ModelVersion | None, protection: AliasProtection | None
    ) -> tuple[CheckResult, ...]:
        checks = parse_checks(protection.checks) if protection is not None else ()
        kinds = {check.kind for check in checks}
        run = self._source_run(candidate.run_id) if CheckKind.CONDITION in kinds else None
        duplicates = (
            self.store.archived_duplicates(candidate.model, candidate.tree_digest)
            if CheckKind.NO_ARCHIVED_DUPLICATE in kinds
            else []
        )
        return run_checks(
            checks, candidate=candidate, run=run, holder=holder, archived_duplicates=duplicates, now_ms=now_ms()
        )

    def _snapshot_changes(self, before: Run, after: Run) -> tuple[SnapshotChanges, ...]:
        """Each kind of snapshot that differs between the two runs: paths, and for the
        environment the packages, as ``cairn diff`` shows them."""
        old = {s.kind: s for s in self.store.run_snapshots(before.id)}
        new = {s.kind: s for s in self.store.run_snapshots(after.id)}
        found = []
        for kind in SNAPSHOT_KINDS:
            was, now = old.get(kind), new.get(kind)
            if was is None and now is None or (was is not None and now is not None and was.id == now.id):
                continue
            files = snapshot_changes(was, now)
            packages = (
                package_changes(self._requirements(was), self._requirements(now)) if kind == "environment" else []
            )
            if files or packages:
                found.append(
                    SnapshotChanges(
                        kind,
                        None if was is None else was.id,
                        None if now is None else now.id,
                        files,
                        tuple(packages),
                    )
                )
        return tuple(found)

    def _requirements(self, snapshot: Snapshot | None) -> str | None:
        entry = None if snapshot is None else next((f for f in snapshot.files if f.path == "requirements.txt"), None)
        if entry is None or entry.size > MAX_REQUIREMENTS_BYTES:
            return None
        return b"".join(self.blobs.read(entry.digest)).decode("utf-8", "replace")


def _needs(protection: AliasProtection) -> str:
    """``needs 1 approval and 2 checks: metrics.acc >= 0.9, signature-unchanged``."""
    approvals = f"{protection.required_approvals} approval{'s' if protection.required_approvals != 1 else ''}"
    if not protection.checks:
        return f"needs {approvals}"
    return f"needs {approvals} and the checks {', '.join(protection.checks)}"


def _open(review: Review) -> Review:
    if review.state is not ReviewState.OPEN:
        raise ReviewNotOpen(
            f"review {review.id} is {review.state.value}", details={"review_id": review.id, "state": review.state.value}
        )
    return review


def _review_ref(review: Review) -> dict[str, Any]:
    return {"review_id": review.id, "name": review.model, "alias": review.alias, "version": review.version}


def _checks_data(review: Review, results: Sequence[CheckResult]) -> dict[str, Any]:
    return {
        **_review_ref(review),
        "passed": all(r.passed for r in results),
        "checks": [check_result_to_wire(r) for r in results],
    }


def _check_state(state: object) -> ReviewState:
    for known in ReviewState:
        if state == known.value:
            return known
    choices = ", ".join(s.value for s in ReviewState)
    raise InvalidValue(
        f"a review's state is one of {choices}, got {str(state)[:50]!r}", details={"state": str(state)[:50]}
    )


def _id_from_token(token: str) -> int:
    if not isinstance(token, str) or not _REVIEW_TOKEN.fullmatch(token):
        raise InvalidPageToken(f"{str(token)[:40]!r} is not a page token of a review listing")
    return int(token)
