"""Near misses in one SQL statement: the earlier runs whose params are closest to a run's.

The distance between two runs is the number of params that differ or that only one side has.
With ``n`` params on the run, ``m`` on another, ``k`` keys both have and ``s`` of those with the
same value, it is ``n + m - k - s`` (the keys of either, less the equal ones), so the statement
needs per run only its param count (``m``) and, from a join of params on key, ``k`` and ``s``.
Ties are broken by a finer score over the same join — a param on one side only or a changed
text counts 1, a changed number its relative difference ``|a - b| / (|a| + |b|)`` (in [0, 1])
— then by recency. No run's params are loaded into Python; only the chosen runs are read
afterwards.

"Same value" follows :func:`cairn.core.params.same_param_value`: the same type and text (NaN's
text is "nan" on both sides), both None, or two numbers (int or float, never bool) of equal
value.
"""

from __future__ import annotations

import sys

from sqlalchemy import ColumnElement, Float, FromClause, Select, and_, case, func, literal, or_, select

from cairn.store.sql import schema as t

_NUMBER_TYPES = ("int", "float")


def nearest_statement(run_id: str, project_id: str, start_time: int, *, limit: int) -> Select[tuple[str, int]]:
    """``(id, distance)`` of up to ``limit`` runs of the project that started before the run
    (by start time, then id, as listings order runs), are not deleted, nearest first."""
    runs = t.runs
    target = t.params.alias("target")
    other = t.params.alias("other")

    candidates = (
        select(runs.c.id, runs.c.start_time)
        .where(
            runs.c.project_id == project_id,
            runs.c.deleted.is_(False),
            or_(runs.c.start_time < start_time, and_(runs.c.start_time == start_time, runs.c.id < run_id)),
        )
        .cte("candidates")
    )
    own_count = select(func.count()).select_from(target).where(target.c.run_id == run_id).scalar_subquery()
    counts = (
        select(other.c.run_id, func.count().label("n"))
        .join(candidates, candidates.c.id == other.c.run_id)
        .group_by(other.c.run_id)
        .subquery("counts")
    )

    same = _same_value(target, other)
    both_finite_numbers = and_(
        target.c.value_type.in_(_NUMBER_TYPES),
        other.c.value_type.in_(_NUMBER_TYPES),
        func.abs(target.c.value_number) <= sys.float_info.max,
        func.abs(other.c.value_number) <= sys.float_info.max,
    )
    # A plain float division: SQLAlchemy's "/" would cast the divisor to NUMERIC on PostgreSQL.
    relative = func.abs(target.c.value_number - other.c.value_number).op("/", return_type=Float)(
        (func.abs(target.c.value_number) + func.abs(other.c.value_number)).self_group()
    )
    shared = (
        select(
            other.c.run_id,
            func.count().label("shared"),
            func.sum(case((same, 1), else_=0)).label("matches"),
            func.sum(
                case((same, literal(0.0, Float)), (both_finite_numbers, relative), else_=literal(1.0, Float))
            ).label("changes"),
        )
        .select_from(other)
        .join(candidates, candidates.c.id == other.c.run_id)
        .join(target, and_(target.c.run_id == run_id, target.c.key == other.c.key))
        .group_by(other.c.run_id)
        .subquery("shared")
    )

    theirs = func.coalesce(counts.c.n, 0)
    matches = func.coalesce(shared.c.matches, 0)
    both = func.coalesce(shared.c.shared, 0)
    distance = (own_count + theirs - both - matches).label("distance")
    # Params on one side only count 1 each, changed ones their share of ``changes``.
    score = own_count + theirs - 2 * both + func.coalesce(shared.c.changes, 0.0)
    return (
        select(candidates.c.id, distance)
        .select_from(candidates)
        .outerjoin(counts, counts.c.run_id == candidates.c.id)
        .outerjoin(shared, shared.c.run_id == candidates.c.id)
        .order_by(distance, score, candidates.c.start_time.desc(), candidates.c.id.desc())
        .limit(limit)
    )


def _same_value(a: FromClause, b: FromClause) -> ColumnElement[bool]:
    ac, bc = a.c, b.c
    return or_(
        and_(ac.value_type == bc.value_type, ac.value_text == bc.value_text),
        and_(ac.value_type == "none", bc.value_type == "none"),
        # Numbers by value: 1 and 1.0, 0.0 and -0.0. value_number is NULL for NaN, never equal.
        and_(ac.value_type.in_(_NUMBER_TYPES), bc.value_type.in_(_NUMBER_TYPES), ac.value_number == bc.value_number),
    )
