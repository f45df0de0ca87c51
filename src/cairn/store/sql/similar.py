"""Near misses in one SQL statement: the earlier runs whose params are closest to a run's.

The distance between two runs is the number of params that differ or that only one side has.
With ``n`` params on the run, ``m`` on another, ``k`` keys both have and ``s`` of those with the
same value, it is ``n + m - k - s`` (the keys of either, less the equal ones). One pass over the
candidates' params, each left-joined on key to the run's own params, counts ``m``, ``k`` and
``s`` per candidate. Ties are broken by a finer score from the same pass — a param on one side
only or a changed text counts 1, a changed number its relative difference
``|a - b| / (|a| + |b|)`` (in [0, 1]) — then by recency. No run's params are loaded into
Python; only the chosen runs are read afterwards.

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
    own = t.params.alias("own")
    other = t.params.alias("other")

    own_count = select(func.count()).select_from(own).where(own.c.run_id == run_id).scalar_subquery()
    same = _same_value(own, other)
    both_finite_numbers = and_(
        own.c.value_type.in_(_NUMBER_TYPES),
        other.c.value_type.in_(_NUMBER_TYPES),
        func.abs(own.c.value_number) <= sys.float_info.max,
        func.abs(other.c.value_number) <= sys.float_info.max,
    )
    # Halves, so that two finite numbers never overflow (1e308 - -1e308 would be infinite, and
    # inf/inf is NaN on PostgreSQL but NULL on SQLite); a plain float division, which
    # SQLAlchemy's "/" is not (it casts the divisor to NUMERIC on PostgreSQL).
    a, b = own.c.value_number * 0.5, other.c.value_number * 0.5
    relative = func.abs(a - b).op("/", return_type=Float)((func.abs(a) + func.abs(b)).self_group())
    theirs = func.count(other.c.key)  # m: NULL (not counted) for a run without params
    shared = func.count(own.c.key)  # k: the run's params found under the same key
    matches = func.sum(case((same, 1), else_=0))  # s
    distance = (own_count + theirs - shared - func.coalesce(matches, 0)).label("distance")
    # Each of the candidate's params counts by how far it is from the run's (0 when equal, 1
    # when the run lacks it), and each of the run's params the candidate lacks counts 1.
    far = func.sum(
        case(
            (other.c.key.is_(None), literal(0.0, Float)),
            (own.c.key.is_(None), literal(1.0, Float)),
            (same, literal(0.0, Float)),
            (both_finite_numbers, relative),
            else_=literal(1.0, Float),
        )
    )
    score = func.coalesce(far, 0.0) + own_count - shared
    return (
        select(runs.c.id, distance)
        .select_from(runs)
        .outerjoin(other, other.c.run_id == runs.c.id)
        .outerjoin(own, and_(own.c.run_id == run_id, own.c.key == other.c.key))
        .where(
            runs.c.project_id == project_id,
            runs.c.deleted.is_(False),
            or_(runs.c.start_time < start_time, and_(runs.c.start_time == start_time, runs.c.id < run_id)),
        )
        .group_by(runs.c.id, runs.c.start_time)
        .order_by(distance, score, runs.c.start_time.desc(), runs.c.id.desc())
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
