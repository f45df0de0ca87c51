"""The JSON wire format of alias protections and reviews, both ways (beside
:mod:`cairn.core.registry_wire`, which it builds on)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cairn.core.access import Role
from cairn.core.diff import PackageChange
from cairn.core.registry_wire import version_from_wire, version_to_wire
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
    Vote,
)
from cairn.core.wire import diff_from_wire, diff_to_wire, run_from_wire, run_to_wire


def protection_to_wire(protection: AliasProtection) -> dict[str, Any]:
    return {
        "model": protection.model,
        "alias": protection.alias,
        "required_approvals": protection.required_approvals,
        "checks": list(protection.checks),
        "created_by": protection.created_by,
        "created_at": protection.created_at,
        "updated_by": protection.updated_by,
        "updated_at": protection.updated_at,
        "approve_role": protection.approve_role.value,
        "merge_role": protection.merge_role.value,
    }


def protection_from_wire(data: Mapping[str, Any]) -> AliasProtection:
    return AliasProtection(
        model=data["model"],
        alias=data["alias"],
        required_approvals=data["required_approvals"],
        checks=tuple(data["checks"]),
        created_by=data["created_by"],
        created_at=data["created_at"],
        updated_by=data["updated_by"],
        updated_at=data["updated_at"],
        approve_role=Role(data.get("approve_role", DEFAULT_APPROVE_ROLE)),
        merge_role=Role(data.get("merge_role", DEFAULT_MERGE_ROLE)),
    )


def check_result_to_wire(result: CheckResult) -> dict[str, Any]:
    return {
        "check": result.check,
        "kind": result.kind.value,
        "passed": result.passed,
        "observed": dict(result.observed),
        "message": result.message,
    }


def check_result_from_wire(data: Mapping[str, Any]) -> CheckResult:
    return CheckResult(data["check"], CheckKind(data["kind"]), data["passed"], dict(data["observed"]), data["message"])


def review_to_wire(review: Review) -> dict[str, Any]:
    """A review; ``approvals``, ``changes_requested_by`` and ``mergeable`` are derived from
    its votes and checks, for readers that do not want to work them out."""
    return {
        "id": review.id,
        "model": review.model,
        "alias": review.alias,
        "version": review.version,
        "base_version": review.base_version,
        "state": review.state.value,
        "author": review.author,
        "description": review.description,
        "required_approvals": review.required_approvals,
        "checks": [check_result_to_wire(c) for c in review.checks],
        "checks_ran_at": review.checks_ran_at,
        "votes": [{"reviewer": v.reviewer, "decision": v.decision.value, "voted_at": v.voted_at} for v in review.votes],
        "approvals": list(review.approvals),
        "changes_requested_by": list(review.changes_requested_by),
        "mergeable": review.mergeable,
        "created_at": review.created_at,
        "updated_at": review.updated_at,
        "merged_by": review.merged_by,
        "merged_at": review.merged_at,
        "merged_from_version": review.merged_from_version,
        "closed_by": review.closed_by,
        "closed_at": review.closed_at,
    }


def review_from_wire(data: Mapping[str, Any]) -> Review:
    return Review(
        id=data["id"],
        model=data["model"],
        alias=data["alias"],
        version=data["version"],
        base_version=data["base_version"],
        state=ReviewState(data["state"]),
        author=data["author"],
        description=data["description"],
        required_approvals=data["required_approvals"],
        checks=tuple(check_result_from_wire(c) for c in data["checks"]),
        checks_ran_at=data["checks_ran_at"],
        votes=tuple(Vote(v["reviewer"], Decision(v["decision"]), v["voted_at"]) for v in data["votes"]),
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        merged_by=data["merged_by"],
        merged_at=data["merged_at"],
        merged_from_version=data["merged_from_version"],
        closed_by=data["closed_by"],
        closed_at=data["closed_at"],
    )


def review_comment_to_wire(comment: ReviewComment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "review_id": comment.review_id,
        "author": comment.author,
        "kind": comment.kind.value,
        "body": comment.body,
        "mentions": list(comment.mentions),
        "reply_to": comment.reply_to,
        "created_at": comment.created_at,
    }


def review_comment_from_wire(data: Mapping[str, Any]) -> ReviewComment:
    return ReviewComment(
        id=data["id"],
        review_id=data["review_id"],
        author=data["author"],
        kind=EntryKind(data["kind"]),
        body=data["body"],
        mentions=tuple(data["mentions"]),
        reply_to=data["reply_to"],
        created_at=data["created_at"],
    )


def _snapshot_changes_to_wire(changes: SnapshotChanges) -> dict[str, Any]:
    return {
        "kind": changes.kind,
        "before": changes.before,
        "after": changes.after,
        "files": dict(changes.files),
        "packages": [{"name": p.name, "before": p.before, "after": p.after} for p in changes.packages],
    }


def _snapshot_changes_from_wire(data: Mapping[str, Any]) -> SnapshotChanges:
    return SnapshotChanges(
        kind=data["kind"],
        before=data["before"],
        after=data["after"],
        files=dict(data["files"]),
        packages=tuple(PackageChange(p["name"], p["before"], p["after"]) for p in data["packages"]),
    )


def review_detail_to_wire(detail: ReviewDetail) -> dict[str, Any]:
    return {
        "review": review_to_wire(detail.review),
        "protection": None if detail.protection is None else protection_to_wire(detail.protection),
        "comments": [review_comment_to_wire(c) for c in detail.comments],
        "candidate": version_to_wire(detail.candidate),
        "compared_with": None if detail.compared_with is None else version_to_wire(detail.compared_with),
        "candidate_run": None if detail.candidate_run is None else run_to_wire(detail.candidate_run),
        "compared_run": None if detail.compared_run is None else run_to_wire(detail.compared_run),
        "diff": None if detail.diff is None else diff_to_wire(detail.diff),
        "snapshots": [_snapshot_changes_to_wire(s) for s in detail.snapshots],
    }


def review_detail_from_wire(data: Mapping[str, Any]) -> ReviewDetail:
    return ReviewDetail(
        review=review_from_wire(data["review"]),
        protection=None if data["protection"] is None else protection_from_wire(data["protection"]),
        comments=tuple(review_comment_from_wire(c) for c in data["comments"]),
        candidate=version_from_wire(data["candidate"]),
        compared_with=None if data["compared_with"] is None else version_from_wire(data["compared_with"]),
        candidate_run=None if data["candidate_run"] is None else run_from_wire(data["candidate_run"]),
        compared_run=None if data["compared_run"] is None else run_from_wire(data["compared_run"]),
        diff=None if data["diff"] is None else diff_from_wire(data["diff"]),
        snapshots=tuple(_snapshot_changes_from_wire(s) for s in data["snapshots"]),
    )
