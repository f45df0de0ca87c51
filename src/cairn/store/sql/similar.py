"""Near misses: the earlier runs whose params are closest to a run's.

The distance between two runs is the number of params that differ or that only one side has.
With ``n`` params on the run, ``m`` on another, ``k`` keys both have and ``s`` of those with the
same value, it is ``n + m - k - s`` (the keys of either, less the equal ones). Ties are broken
by a finer score — a param on one side only or a changed text counts 1, a changed number its
relative difference ``|a - b| / (|a| + |b|)`` (in [0, 1]) — then by recency.

"Same value" follows :func:`cairn.core.params.same_param_value`: the same type and text (NaN's
text is "nan" on both sides), both None, or two numbers (int or float, never bool) of equal
value.

Two ways to the answer, one scoring statement:

- :func:`nearest_statement`, the plain one: one pass over every earlier run's params, each
  left-joined on key to the run's own params, counting ``m``, ``k`` and ``s`` per run. Exact,
  and linear in the project: 39 ms at 1,000 runs, 1.3–2.1 s on SQLite at 100,000 runs of 20
  params (1.2–2.4 s on PostgreSQL).
- :func:`nearest_runs`, what the store answers with: the same statement over a bounded set of
  candidates. ``param_pairs`` holds every param as a 64-bit hash of its (key, normalised value)
  pair (:func:`pair_hash`) beside the run's project and start time. The candidates are, for
  each of the run's pairs, the :data:`PER_PAIR` most recent earlier live runs holding that pair
  (one index range each), and the :data:`RECENT` most recent earlier live runs — at most
  ``n × PER_PAIR + RECENT``, whatever the project's size; a run with more than
  :data:`MAX_PAIRS` params draws on the first :data:`MAX_PAIRS` of its pairs by hash, with
  fewer per pair. Then the exact distance and score of each candidate, by the plain statement.

The fast answer is exact whenever it can prove it: when the recent window holds every earlier
run (a project of up to :data:`RECENT` earlier runs: every small project), or when the last of
the ``limit`` runs found is nearer than the number ``c`` of the run's pairs whose candidate
list came back whole — a run outside the candidates shares none of those ``c`` pairs, so its
distance is at least ``c`` (``n + m - k - s ≥ n - s ≥ c``). Otherwise it is the nearest runs
among the candidates, in the documented order, each with its exact distance: a run that shares
many params with the run but is, for each pair it shares, older than the :data:`PER_PAIR` most
recent runs with that pair, can be left out. On the search benchmark's 100,000 runs (20
params drawn at random, nearest runs typically 8–10 params away) the first run returned was
at the exact nearest distance for 6 of 30 sampled runs, 1–3 params further for the others,
in 57 ms instead of 934 ms (medians on a loaded machine; 29 ms by ``make bench``); see
docs/insight.md.

Why not the other ways: neighbour lists kept up to date as runs finish pay the same linear
scan once per run, at write time (2 s a run at 100,000 runs: a backfill of those would take
more than two days). MinHash bands over (key, value) pairs suit sets that are near or far,
and configs are neither: in the benchmark's data two random runs agree on about 4.6 of 20
params (Jaccard about 0.13), so a band of 2 hashes would put about 1.7% of the project (1,700
runs at 100,000) in each bucket, and runs 10 params apart (Jaccard 0.33) would still be
missed by most bands of 3. Both would be approximate too; the candidate lists at least say
when they are exact.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Collection, Mapping
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    FromClause,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)

from cairn.core.entities import ParamValue
from cairn.core.fingerprint import canonical_value
from cairn.store.sql import schema as t

_NUMBER_TYPES = ("int", "float")

#: Candidates per (key, value) pair of the run: the most recent earlier runs holding it.
PER_PAIR = 50
#: Candidates by recency alone: the most recent earlier live runs, whatever their params.
RECENT = 100
#: The pairs a run draws candidates from; SQLite allows 500 terms in one compound SELECT.
MAX_PAIRS = 200
#: Candidates per run at most, shared among its pairs (a run with many params: fewer each).
MAX_PAIR_CANDIDATES = 2_000


def pair_hash(key: str, value: ParamValue) -> int:
    """A signed 64-bit hash of ``(key, value)``, equal for equal params (the fingerprint's
    normalisation: 1 and 1.0, NaN and NaN). A collision only adds a candidate. Stored in
    ``param_pairs``: changing it needs a migration that writes every row again."""
    document = orjson.dumps([key, *canonical_value(value)])
    return int.from_bytes(hashlib.sha256(document).digest()[:8], "big", signed=True)


def pair_rows(run_id: str, project_id: str, start_time: int, params: Mapping[str, ParamValue]) -> list[dict[str, Any]]:
    """The ``param_pairs`` rows of these params of a run."""
    return [
        {"project_id": project_id, "pair": pair_hash(key, value), "start_time": start_time, "run_id": run_id}
        for key, value in params.items()
    ]


def nearest_runs(
    conn: Connection,
    run_id: str,
    project_id: str,
    start_time: int,
    *,
    limit: int,
    per_pair: int = PER_PAIR,
    recent: int = RECENT,
) -> tuple[list[tuple[str, int]], bool]:
    """``(id, distance)`` of up to ``limit`` nearest earlier runs among the candidates (see
    the module's docstring), and whether that is provably the exact answer."""
    pairs = sorted(set(conn.scalars(select(t.param_pairs.c.pair).where(t.param_pairs.c.run_id == run_id))))
    pairs = pairs[:MAX_PAIRS]
    if pairs:
        per_pair = max(1, min(per_pair, MAX_PAIR_CANDIDATES // len(pairs)))
    lists: list[Select[Any]] = [_recent_statement(run_id, project_id, start_time, recent)]
    lists += [_pair_statement(i, pair, run_id, project_id, start_time, per_pair) for i, pair in enumerate(pairs)]
    found: dict[int, int] = {}
    candidates: set[str] = set()
    for source, candidate in conn.execute(union_all(*lists)):
        found[source] = found.get(source, 0) + 1
        candidates.add(candidate)
    rows = [
        (row.id, int(row.distance))
        for row in conn.execute(nearest_statement(run_id, project_id, start_time, limit=limit, among=candidates))
    ]
    every_earlier_run = found.get(-1, 0) < recent
    whole_lists = sum(1 for i in range(len(pairs)) if found.get(i, 0) < per_pair)
    exact = every_earlier_run or (len(rows) == limit and rows[-1][1] < whole_lists)
    return rows, exact


def _earlier(start: Any, id_: Any, start_time: int, run_id: str) -> ColumnElement[bool]:
    """Started before the run, as listings order runs: by start time, then id."""
    return or_(start < start_time, and_(start == start_time, id_ < run_id))


def _recent_statement(run_id: str, project_id: str, start_time: int, recent: int) -> Select[Any]:
    runs = t.runs.c
    inner = (
        select(literal(-1).label("source"), runs.id.label("id"))
        .where(
            runs.project_id == project_id,
            runs.deleted.is_(False),
            _earlier(runs.start_time, runs.id, start_time, run_id),
        )
        .order_by(runs.start_time.desc(), runs.id.desc())
        .limit(recent)
        .subquery()
    )
    return select(inner.c.source, inner.c.id)


def _pair_statement(index: int, pair: int, run_id: str, project_id: str, start_time: int, per_pair: int) -> Select[Any]:
    p = t.param_pairs.c
    # Deleted runs are skipped here, so that they take no place in the list.
    inner = (
        select(literal(index).label("source"), p.run_id.label("id"))
        .join(t.runs, t.runs.c.id == p.run_id)
        .where(
            p.project_id == project_id,
            p.pair == pair,
            _earlier(p.start_time, p.run_id, start_time, run_id),
            t.runs.c.deleted.is_(False),
        )
        .order_by(p.start_time.desc(), p.run_id.desc())
        .limit(per_pair)
        .subquery()
    )
    return select(inner.c.source, inner.c.id)


def nearest_statement(
    run_id: str, project_id: str, start_time: int, *, limit: int, among: Collection[str] | None = None
) -> Select[tuple[str, int]]:
    """``(id, distance)`` of up to ``limit`` runs of the project that started before the run
    (by start time, then id, as listings order runs), are not deleted, nearest first: every
    such run (the plain version), or the runs ``among`` these ids, which the caller chose
    from the live, earlier runs of the project."""
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
    query = (
        select(runs.c.id, distance)
        .select_from(runs)
        .outerjoin(other, other.c.run_id == runs.c.id)
        .outerjoin(own, and_(own.c.run_id == run_id, own.c.key == other.c.key))
    )
    if among is None:
        live_and_earlier = [runs.c.deleted.is_(False), _earlier(runs.c.start_time, runs.c.id, start_time, run_id)]
        query = query.where(runs.c.project_id == project_id, *live_and_earlier)
    else:
        # Only the id: given the project and start time too, SQLite walked the project's index
        # (every earlier run) and tested each against the list, 70 ms instead of 10.
        query = query.where(runs.c.id.in_(sorted(among)))
    return (
        query.group_by(runs.c.id, runs.c.start_time)
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
