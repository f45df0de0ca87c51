"""Alias protections and reviews in SQL (docs/registry.md, "Reviews").

A review leaves the open state once: :meth:`SqlReviewStore.finish_review` updates the row only
``WHERE state = 'open'``, so of two merges (or a merge and a close) racing for one review the
second finds nothing to update and fails, and its transaction, alias move included, is rolled
back. Each reviewer's latest vote is one row of ``review_votes``, replaced by the next.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from cairn.core.access import Role
from cairn.core.clock import now_ms
from cairn.core.errors import CommentNotFound, ReviewNotFound, ReviewNotOpen
from cairn.core.registry import Stage
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
    ReviewState,
    Vote,
    not_protected,
)
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.registry import model_id_of
from cairn.store.sql.rows import dialect_insert

_m = t.registered_models.c
_p = t.alias_protections.c
_pc = t.alias_protection_checks.c
_r = t.reviews.c
_cr = t.review_check_results.c
_vo = t.review_votes.c
_co = t.review_comments.c


class SqlReviewStore:
    """Implements :class:`cairn.store.base.ReviewStore`."""

    _engines: Engines

    # -- protections ------------------------------------------------------------------------

    def set_protection(
        self,
        name: str,
        alias: str,
        required_approvals: int,
        checks: Sequence[str],
        actor: str,
        *,
        approve_role: Role = DEFAULT_APPROVE_ROLE,
        merge_role: Role = DEFAULT_MERGE_ROLE,
    ) -> AliasProtection:
        with transaction(self._engines.write) as conn:
            model_id = model_id_of(conn, name)
            now = now_ms()
            conn.execute(
                dialect_insert(conn, t.alias_protections)
                .values(
                    model_id=model_id,
                    alias=alias,
                    required_approvals=required_approvals,
                    approve_role=approve_role.value,
                    merge_role=merge_role.value,
                    created_by=actor,
                    created_at=now,
                    updated_by=actor,
                    updated_at=now,
                )
                .on_conflict_do_update(
                    index_elements=["model_id", "alias"],
                    set_={
                        "required_approvals": required_approvals,
                        "approve_role": approve_role.value,
                        "merge_role": merge_role.value,
                        "updated_by": actor,
                        "updated_at": now,
                    },
                )
            )
            conn.execute(delete(t.alias_protection_checks).where(_pc.model_id == model_id, _pc.alias == alias))
            if checks:
                conn.execute(
                    insert(t.alias_protection_checks),
                    [
                        {"model_id": model_id, "alias": alias, "position": n, "check_text": text}
                        for n, text in enumerate(checks)
                    ],
                )
            # Open reviews of the alias answer to the new number from now on.
            conn.execute(
                update(t.reviews)
                .where(_r.model_id == model_id, _r.alias == alias, _r.state == ReviewState.OPEN.value)
                .values(required_approvals=required_approvals)
            )
            found = _protections(conn, name, model_id, alias)
        return found[0]

    def delete_protection(self, name: str, alias: str) -> None:
        with transaction(self._engines.write) as conn:
            model_id = model_id_of(conn, name)
            gone = conn.execute(delete(t.alias_protections).where(_p.model_id == model_id, _p.alias == alias))
            if gone.rowcount == 0:
                raise not_protected(name, alias)
            # SQLite enforces the cascade too, but only with foreign keys on: say it plainly.
            conn.execute(delete(t.alias_protection_checks).where(_pc.model_id == model_id, _pc.alias == alias))

    def get_protection(self, name: str, alias: str) -> AliasProtection | None:
        with reading(self._engines) as conn:
            found = _protections(conn, name, model_id_of(conn, name), alias)
        return found[0] if found else None

    def list_protections(self, name: str) -> list[AliasProtection]:
        with reading(self._engines) as conn:
            return _protections(conn, name, model_id_of(conn, name), None)

    # -- reviews ----------------------------------------------------------------------------

    def create_review(
        self,
        name: str,
        *,
        alias: str,
        version: int,
        base_version: int | None,
        author: str,
        description: str,
        required_approvals: int,
        checks: Sequence[CheckResult],
    ) -> Review:
        with transaction(self._engines.write) as conn:
            model_id = model_id_of(conn, name)
            now = now_ms()
            review_id = conn.execute(
                insert(t.reviews).returning(_r.id),
                {
                    "model_id": model_id,
                    "alias": alias,
                    "version": version,
                    "base_version": base_version,
                    "state": ReviewState.OPEN.value,
                    "author": author,
                    "description": description,
                    "required_approvals": required_approvals,
                    "checks_ran_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            _put_results(conn, int(review_id), checks)
            return _reviews(conn, [int(review_id)])[0]

    def get_review(self, review_id: int, *, lock: bool = False) -> Review:
        with reading(self._engines) as conn:
            if lock:
                # Concurrent merges of one review queue here (SQLite's writer lock already
                # queues them), and each reads the state the one before it left.
                conn.execute(select(_r.id).where(_r.id == review_id).with_for_update())
            found = _reviews(conn, [review_id])
        if not found:
            raise _no_review(review_id)
        return found[0]

    def list_reviews(
        self,
        *,
        model: str | None,
        alias: str | None,
        state: ReviewState | None,
        before_id: int | None,
        limit: int,
        models: Collection[str] | None = None,
    ) -> list[Review]:
        if models is not None and not models:
            return []
        query = select(_r.id).order_by(_r.id.desc()).limit(limit)
        if models is not None:
            named = select(t.registered_models.c.id).where(t.registered_models.c.name.in_(sorted(models)))
            query = query.where(_r.model_id.in_(named.scalar_subquery()))
        with reading(self._engines) as conn:
            if model is not None:
                query = query.where(_r.model_id == model_id_of(conn, model))
            if alias is not None:
                query = query.where(_r.alias == alias)
            if state is not None:
                query = query.where(_r.state == state.value)
            if before_id is not None:
                query = query.where(_r.id < before_id)
            return _reviews(conn, [int(i) for i in conn.scalars(query)])

    def find_open_review(self, name: str, alias: str, version: int) -> int | None:
        with reading(self._engines) as conn:
            found = conn.scalar(
                select(_r.id).where(
                    _r.model_id == model_id_of(conn, name),
                    _r.alias == alias,
                    _r.version == version,
                    _r.state == ReviewState.OPEN.value,
                )
            )
        return None if found is None else int(found)

    def save_check_results(self, review_id: int, required_approvals: int, checks: Sequence[CheckResult]) -> Review:
        with transaction(self._engines.write) as conn:
            now = now_ms()
            changed = conn.execute(
                update(t.reviews)
                .where(_r.id == review_id)
                .values(required_approvals=required_approvals, checks_ran_at=now, updated_at=now)
            )
            if changed.rowcount == 0:
                raise _no_review(review_id)
            conn.execute(delete(t.review_check_results).where(_cr.review_id == review_id))
            _put_results(conn, review_id, checks)
            return _reviews(conn, [review_id])[0]

    def set_review_vote(self, review_id: int, reviewer: str, decision: Decision) -> None:
        with transaction(self._engines.write) as conn:
            now = now_ms()
            conn.execute(
                dialect_insert(conn, t.review_votes)
                .values(review_id=review_id, reviewer=reviewer, decision=decision.value, voted_at=now)
                .on_conflict_do_update(
                    index_elements=["review_id", "reviewer"], set_={"decision": decision.value, "voted_at": now}
                )
            )
            conn.execute(update(t.reviews).where(_r.id == review_id).values(updated_at=now))

    def add_review_comment(
        self,
        review_id: int,
        author: str,
        kind: EntryKind,
        body: str,
        mentions: Sequence[str],
        reply_to: int | None,
    ) -> ReviewComment:
        with transaction(self._engines.write) as conn:
            row = {
                "review_id": review_id,
                "author": author,
                "kind": kind.value,
                "body": body,
                "mentions": orjson.dumps(list(mentions)).decode(),
                "reply_to": reply_to,
                "created_at": now_ms(),
            }
            comment_id = conn.execute(insert(t.review_comments).returning(_co.id), row).scalar_one()
            return _comment({**row, "id": comment_id})

    def get_review_comment(self, comment_id: int) -> ReviewComment:
        with reading(self._engines) as conn:
            row = conn.execute(select(t.review_comments).where(_co.id == comment_id)).first()
        if row is None:
            raise CommentNotFound(f"no review comment {comment_id}", details={"comment_id": comment_id})
        return _comment(row._mapping)

    def list_review_comments(self, review_id: int) -> list[ReviewComment]:
        with reading(self._engines) as conn:
            query = select(t.review_comments).where(_co.review_id == review_id).order_by(_co.id)
            return [_comment(row._mapping) for row in conn.execute(query)]

    def finish_review(
        self, review_id: int, state: ReviewState, actor: str, *, merged_from_version: int | None = None
    ) -> Review:
        now = now_ms()
        values: dict[str, Any] = {"state": state.value, "updated_at": now}
        if state is ReviewState.MERGED:
            values.update(merged_by=actor, merged_at=now, merged_from_version=merged_from_version)
        else:
            values.update(closed_by=actor, closed_at=now)
        with transaction(self._engines.write) as conn:
            changed = conn.execute(
                update(t.reviews).where(_r.id == review_id, _r.state == ReviewState.OPEN.value).values(**values)
            )
            if changed.rowcount == 0:
                current = conn.scalar(select(_r.state).where(_r.id == review_id))
                if current is None:
                    raise _no_review(review_id)
                raise ReviewNotOpen(
                    f"review {review_id} is already {current}", details={"review_id": review_id, "state": current}
                )
            return _reviews(conn, [review_id])[0]

    def archived_duplicates(self, name: str, tree_digest: str) -> list[int]:
        v = t.model_versions.c
        with reading(self._engines) as conn:
            query = (
                select(v.version)
                .where(
                    v.model_id == model_id_of(conn, name),
                    v.tree_digest == tree_digest,
                    v.stage == Stage.ARCHIVED.value,
                )
                .order_by(v.version)
            )
            return [int(n) for n in conn.scalars(query)]


# -- rows to entities -------------------------------------------------------------------------


def _put_results(conn: Connection, review_id: int, checks: Sequence[CheckResult]) -> None:
    if not checks:
        return
    conn.execute(
        insert(t.review_check_results),
        [
            {
                "review_id": review_id,
                "position": n,
                "check_text": c.check,
                "kind": c.kind.value,
                "passed": c.passed,
                "observed": orjson.dumps(dict(c.observed)).decode(),
                "message": c.message,
            }
            for n, c in enumerate(checks)
        ],
    )


def _protections(conn: Connection, name: str, model_id: str, alias: str | None) -> list[AliasProtection]:
    """The model's protections (of ``alias`` only, if given), by alias, with their checks."""
    query = select(t.alias_protections).where(_p.model_id == model_id).order_by(_p.alias)
    checks = select(_pc.alias, _pc.check_text).where(_pc.model_id == model_id).order_by(_pc.alias, _pc.position)
    if alias is not None:
        query = query.where(_p.alias == alias)
        checks = checks.where(_pc.alias == alias)
    texts: dict[str, list[str]] = defaultdict(list)
    for row_alias, text in conn.execute(checks):
        texts[row_alias].append(text)
    return [
        AliasProtection(
            model=name,
            alias=row.alias,
            required_approvals=int(row.required_approvals),
            checks=tuple(texts[row.alias]),
            created_by=row.created_by,
            created_at=int(row.created_at),
            updated_by=row.updated_by,
            updated_at=int(row.updated_at),
            approve_role=Role(row.approve_role),
            merge_role=Role(row.merge_role),
        )
        for row in conn.execute(query)
    ]


def _reviews(conn: Connection, review_ids: Sequence[int]) -> list[Review]:
    """The reviews ``review_ids`` that exist, in that order, with their checks and votes:
    three queries however many reviews."""
    if not review_ids:
        return []
    query = select(t.reviews, _m.name).join(t.registered_models, _m.id == _r.model_id).where(_r.id.in_(review_ids))
    rows = {int(row.id): row for row in conn.execute(query)}
    results: dict[int, list[CheckResult]] = defaultdict(list)
    for row in conn.execute(
        select(t.review_check_results).where(_cr.review_id.in_(review_ids)).order_by(_cr.review_id, _cr.position)
    ):
        results[int(row.review_id)].append(
            CheckResult(row.check_text, CheckKind(row.kind), bool(row.passed), orjson.loads(row.observed), row.message)
        )
    votes: dict[int, list[Vote]] = defaultdict(list)
    for row in conn.execute(
        select(t.review_votes).where(_vo.review_id.in_(review_ids)).order_by(_vo.review_id, _vo.reviewer)
    ):
        votes[int(row.review_id)].append(Vote(row.reviewer, Decision(row.decision), int(row.voted_at)))
    return [
        _review(found, results[review_id], votes[review_id])
        for review_id in review_ids
        if (found := rows.get(review_id)) is not None
    ]


def _review(row: Any, checks: list[CheckResult], votes: list[Vote]) -> Review:
    return Review(
        id=int(row.id),
        model=row.name,
        alias=row.alias,
        version=int(row.version),
        base_version=_int_or_none(row.base_version),
        state=ReviewState(row.state),
        author=row.author,
        description=row.description,
        required_approvals=int(row.required_approvals),
        checks=tuple(checks),
        checks_ran_at=int(row.checks_ran_at),
        votes=tuple(votes),
        created_at=int(row.created_at),
        updated_at=int(row.updated_at),
        merged_by=row.merged_by,
        merged_at=_int_or_none(row.merged_at),
        merged_from_version=_int_or_none(row.merged_from_version),
        closed_by=row.closed_by,
        closed_at=_int_or_none(row.closed_at),
    )


def _comment(row: Any) -> ReviewComment:
    return ReviewComment(
        id=int(row["id"]),
        review_id=int(row["review_id"]),
        author=row["author"],
        kind=EntryKind(row["kind"]),
        body=row["body"],
        mentions=tuple(orjson.loads(row["mentions"])),
        reply_to=_int_or_none(row["reply_to"]),
        created_at=int(row["created_at"]),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _no_review(review_id: int) -> ReviewNotFound:
    return ReviewNotFound(f"no review {review_id}", details={"review_id": review_id})
