"""``cairn.protect_alias``, ``cairn.open_review``, ``cairn.approve_review`` and
``cairn.merge_review``: a review before a protected alias moves, from Python
(docs/registry.md, "Reviews").

Each call opens the store (``uri``, else ``CAIRN_URI``, else the embedded store), acts as the
configured user (``CAIRN_USER``, else the operating-system user) and closes it again, as
``cairn.register_model`` does. The rest (request changes, comment, close, the side-by-side
comparison) is on the tracking interface and the ``cairn reviews`` commands.

    cairn.protect_alias("digits", "champion", approvals=1, checks=["metrics.val/accuracy >= 0.92"])
    review = cairn.open_review("digits", version.version, "champion")
    # a colleague: cairn.approve_review(review.id)
    cairn.merge_review(review.id)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from cairn.client.connect import connect, resolve_uri
from cairn.core.reviews import AliasProtection, Review
from cairn.service.interface import Tracking

T = TypeVar("T")


def _with_tracking(uri: str | None, call: Callable[[Tracking], T]) -> T:
    tracking = connect(resolve_uri(uri))
    try:
        return call(tracking)
    finally:
        tracking.close()


def protect_alias(
    name: str,
    alias: str,
    *,
    approvals: int = 1,
    checks: Sequence[str] = (),
    approve_role: str = "editor",
    merge_role: str = "maintainer",
    uri: str | None = None,
) -> AliasProtection:
    """Protect ``alias`` of the registered model ``name``: from now on it moves only by merging a
    review with ``approvals`` approvals from people other than its author and every check
    passing. A check is a condition of the query language on the candidate's source run
    (``"metrics.val/accuracy >= 0.92"``), ``"signature-unchanged"`` or
    ``"no-archived-duplicate"``. On a server with sign-in, approvers need ``approve_role`` on
    the model and whoever merges ``merge_role``. Calling it again replaces the rules."""
    return _with_tracking(
        uri,
        lambda t: t.protect_alias(
            name, alias, approvals=approvals, checks=checks, approve_role=approve_role, merge_role=merge_role
        ),
    )


def open_review(name: str, version: int, alias: str, *, description: str = "", uri: str | None = None) -> Review:
    """Open a review proposing to move ``alias`` of ``name`` to ``version``; its checks run at
    once (``review.checks``, each with the value it saw). ``review.id`` names it."""
    return _with_tracking(uri, lambda t: t.open_review(name, version, alias, description=description))


def approve_review(review_id: int, body: str = "", *, uri: str | None = None) -> Review:
    """Approve review ``review_id``; the person who opened it cannot (SelfApproval)."""
    return _with_tracking(uri, lambda t: t.approve_review(review_id, body))


def merge_review(review_id: int, *, uri: str | None = None) -> Review:
    """Merge review ``review_id``: its checks run again, and if every one passes, the approvals
    are in and nobody asks for changes, the alias moves to the candidate (ReviewNotMergeable,
    saying what blocks it, otherwise)."""
    return _with_tracking(uri, lambda t: t.merge_review(review_id))
