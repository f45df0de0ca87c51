"""A parsed run search as the service hands it to the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from cairn.core.query.ast import Expr, Field, SortKey


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Which runs of a project, in which order, which page.

    ``where_text`` and ``order_text`` are kept as typed so that a page token can be tied to the
    query that made it. ``now_ms`` fixes "now" for relative times such as ``created > -7d``, so a
    query means the same on every page.
    """

    where: Expr | None = None
    where_text: str = ""
    order: list[SortKey] = field(default_factory=list)
    order_text: str = ""
    limit: int = 100
    page_token: str | None = None
    include_deleted: bool = False
    now_ms: int = 0


@dataclass(frozen=True, slots=True)
class GroupQuery:
    """Runs matching ``where``, grouped by one field, with aggregates of one metric."""

    group_by: Field
    metric: Field | None
    where: Expr | None = None
    include_deleted: bool = False
    now_ms: int = 0
