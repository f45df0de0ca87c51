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
  pair (:func:`pair_hash`) beside the run's project and start time, so each of the run's
  pairs has a list of the earlier runs holding it, newest first (one index range). A run that
  is near holds many of the run's pairs; the lists that are short are the ones worth reading
  whole, since a list is long only when its value is common. So, in two statements:

  1. the :data:`RECENT` most recent earlier live runs, and the :data:`PER_PAIR` newest entries
     of each list (fewer each for a run with many params: :data:`MAX_FIRST_ENTRIES` in all; a
     run with more than :data:`MAX_PAIRS` params draws on the first :data:`MAX_PAIRS` of its
     pairs by hash). A list that came back full is probably long in proportion to how recent
     its last entry is: its length is estimated from the time those entries span;
  2. the full lists again, the shortest by that estimate first, read further (whole where the
     estimate was right) while their estimates fit in :data:`COUNTED` entries in all.

  Each run found is counted once per list it is in: the :data:`SCORED` runs in the most lists
  (then the most recent) and the recent window are the candidates, at most
  ``SCORED + RECENT`` runs read after at most ``COUNTED + MAX_FIRST_ENTRIES`` index entries,
  whatever the project's size. Then the exact distance and score of each candidate, by the
  plain statement (deleted runs, which the lists do not tell apart, are left out there).

The fast answer is exact whenever it can prove it: when the recent window holds every earlier
run (a project of up to :data:`RECENT` earlier runs: every small project), or when the last of
the ``limit`` runs found is nearer than ``c - t``, where ``c`` is the number of the run's
pairs whose list was read whole and ``t`` the most lists any run left out of the candidates
was found in (0 when none was left out). A run that is not a candidate holds at most ``t`` of
those ``c`` pairs, so its distance is at least ``c - t`` (``n + m - k - s ≥ n - s ≥ c - t``).
Otherwise it is the nearest runs among the candidates, in the documented order, each with its
exact distance: a run that is near but whose shared values are all common, and older than the
entries read of their lists, can be left out.

How often the first run returned is at the exact nearest distance (bench/similar_quality.py,
100,000 runs, 60 sampled runs each): on the search benchmark's data, 20 params drawn at random
so that the nearest run is typically 8–10 params away, 27 of 60 (the earlier rule, the
PER_PAIR newest entries of every list and no count: 10 of 60); on sweep-like data (families
of runs that fix most params and vary a few, resumed later, configs repeated), 60 of 60
(earlier: 53 of 60), 11 of them proved exact. The similar request for the newest of 100,000
runs takes 24 ms on SQLite and 32 ms on PostgreSQL (p50 of the ``make bench`` line; 28 and
55 ms by the earlier rule); see docs/insight.md.

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

import functools
import hashlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Float,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql

from cairn.core.entities import ParamValue
from cairn.core.fingerprint import canonical_value
from cairn.store.sql import schema as t

_NUMBER_TYPES = ("int", "float")

#: Entries first read from each of the run's pair lists: the most recent earlier runs holding it.
PER_PAIR = 50
#: Candidates by recency alone: the most recent earlier live runs, whatever their params.
RECENT = 100
#: Entries read in all from the pair lists, the shortest lists first and whole where they fit.
COUNTED = 10_000
#: Candidates taken from those entries: the runs found in the most lists (so holding the most
#: of the run's params), then the most recent.
SCORED = 400
#: The pairs a run draws candidates from; SQLite allows 500 terms in one compound SELECT.
MAX_PAIRS = 200
#: First entries per run at most, shared among its pairs (a run with many params: fewer each).
MAX_FIRST_ENTRIES = 2_000


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
    counted: int = COUNTED,
    scored: int = SCORED,
) -> tuple[list[tuple[str, int]], bool]:
    """``(id, distance)`` of up to ``limit`` nearest earlier runs among the candidates (see
    the module's docstring), and whether that is provably the exact answer."""
    pairs = sorted(set(conn.scalars(select(t.param_pairs.c.pair).where(t.param_pairs.c.run_id == run_id))))
    pairs = pairs[:MAX_PAIRS]
    if pairs:
        per_pair = max(1, min(per_pair, MAX_FIRST_ENTRIES // len(pairs)))
    if conn.dialect.name == "postgresql":
        # Every statement here reads a few thousand index entries at most: starting parallel
        # workers cost more than they save (the scoring took 40 ms with one, 14 ms without).
        # LOCAL: until the end of this read transaction.
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    run = {"project": project_id, "start": start_time, "run": run_id}

    # First the recent window, the project's first start time, and each list's newest entries.
    first = conn.execute(
        _first_statement(len(pairs)), {**run, "recent": recent, "per_pair": per_pair, **_numbered("pair", pairs)}
    ).all()
    recent_ids = [id_ for source, id_, _ in first if source == _RECENT]
    # The project's first start time (None: every run deleted): a list's length is estimated
    # from the time its newest entries span.
    since = next((start for source, _, start in first if source == _FIRST and start is not None), start_time)
    entries: dict[int, list[tuple[str, int]]] = {i: [] for i in range(len(pairs))}
    for source, id_, start in first:
        if source >= 0:
            entries[source].append((id_, start))
    read_up_to = dict.fromkeys(entries, per_pair)

    # Then the full lists again, further, the sparsest first (the oldest per_pair-th entry:
    # likely the shortest list), while the estimates of their lengths fit in `counted`.
    full = sorted((i for i, found in entries.items() if len(found) == per_pair), key=lambda i: entries[i][-1][1])
    budget = counted - sum(len(found) for found in entries.values())
    further: dict[int, int] = {}
    for i in full:
        span = max(1, start_time - entries[i][-1][1])
        estimate = per_pair * max(1, start_time - since) // span
        take = min(budget, 2 * estimate + per_pair)
        if take <= per_pair:
            break
        further[i] = take
        budget -= take - per_pair
    if further:
        chosen = sorted(further)
        parameters = {
            **run,
            **_numbered("pair", [pairs[i] for i in chosen]),
            **_numbered("limit", [further[i] for i in chosen]),
        }
        for i in chosen:
            entries[i] = []
        for source, id_, start in conn.execute(_further_statement(len(chosen)), parameters):
            entries[chosen[source]].append((id_, start))
        read_up_to.update(further)

    # The runs found in the most lists; of those left out, none is in more than `left_out` lists.
    found_in: dict[str, int] = {}
    started: dict[str, int] = {}
    for found in entries.values():
        for id_, start in found:
            found_in[id_] = found_in.get(id_, 0) + 1
            started[id_] = start
    ranked = sorted(found_in, key=lambda id_: (found_in[id_], started[id_], id_), reverse=True)
    left_out = found_in[ranked[scored]] if len(ranked) > scored else 0
    candidates = {*ranked[:scored], *recent_ids}

    rows = [
        (row.id, int(row.distance))
        for row in conn.execute(
            _scoring_statement(conn.dialect.name), {**run, "ids": sorted(candidates), "limit": limit}
        )
    ]
    every_earlier_run = len(recent_ids) < recent
    whole_lists = sum(1 for i, found in entries.items() if len(found) < read_up_to[i])
    # A run that is not a candidate holds at most `left_out` of the pairs of the whole lists,
    # so it lacks at least whole_lists - left_out of the run's params: that far, or further.
    exact = every_earlier_run or (len(rows) == limit and rows[-1][1] < whole_lists - left_out)
    return rows, exact


_RECENT = -1
_FIRST = -2


def _numbered(name: str, values: Sequence[Any]) -> dict[str, Any]:
    return {f"{name}_{i}": value for i, value in enumerate(values)}


def _earlier(start: Any, id_: Any) -> ColumnElement[bool]:
    """Started before the run, as listings order runs: by start time, then id."""
    start_time: Any = bindparam("start")
    run_id: Any = bindparam("run")
    return or_(start < start_time, and_(start == start_time, id_ < run_id))


def _pair_list(source: int, pair: Any, limit: Any) -> Select[Any]:
    """The newest ``limit`` earlier entries of one pair list. Deleted runs are among them (the
    scoring leaves them out): telling them apart here would read a run per entry."""
    p = t.param_pairs.c
    inner = (
        select(literal_column(str(source)).label("source"), p.run_id.label("id"), p.start_time.label("start"))
        .where(p.project_id == bindparam("project"), p.pair == pair, _earlier(p.start_time, p.run_id))
        .order_by(p.start_time.desc(), p.run_id.desc())
        .limit(limit)
        .subquery()
    )
    return select(inner.c.source, inner.c.id, inner.c.start)


@functools.cache
def _first_statement(pairs: int) -> CompoundSelect[Any]:
    runs = t.runs.c
    live = and_(runs.project_id == bindparam("project"), runs.deleted.is_(False))
    window = (
        select(literal_column(str(_RECENT)).label("source"), runs.id.label("id"), runs.start_time.label("start"))
        .where(live, _earlier(runs.start_time, runs.id))
        .order_by(runs.start_time.desc(), runs.id.desc())
        .limit(bindparam("recent"))
        .subquery()
    )
    since = select(literal_column(str(_FIRST), Integer), literal(""), func.min(runs.start_time)).where(live)
    lists = [_pair_list(i, bindparam(f"pair_{i}"), bindparam("per_pair")) for i in range(pairs)]
    return union_all(select(window.c.source, window.c.id, window.c.start), since, *lists)


@functools.cache
def _further_statement(pairs: int) -> CompoundSelect[Any]:
    return union_all(*[_pair_list(i, bindparam(f"pair_{i}"), bindparam(f"limit_{i}")) for i in range(pairs)])


@functools.cache
def _scoring_statement(dialect: str) -> Select[tuple[str, int]]:
    runs = t.runs.c
    if dialect == "postgresql":
        # One array: a list of ~500 bound values was planned as a scan of the runs.
        among = runs.id == func.any(bindparam("ids", type_=postgresql.ARRAY(String)))
    else:
        among = runs.id.in_(bindparam("ids", expanding=True))
    return _nearest(among, runs.deleted.is_(False)).limit(bindparam("limit"))


def nearest_statement(run_id: str, project_id: str, start_time: int, *, limit: int) -> Select[tuple[str, int]]:
    """``(id, distance)`` of up to ``limit`` runs of the project that started before the run
    (by start time, then id, as listings order runs), are not deleted, nearest first: the
    plain version, which scores every such run."""
    return _plain_statement().params(run=run_id, project=project_id, start=start_time, limit=limit)


@functools.cache
def _plain_statement() -> Select[tuple[str, int]]:
    runs = t.runs.c
    earlier = _earlier(runs.start_time, runs.id)
    return _nearest(runs.project_id == bindparam("project"), runs.deleted.is_(False), earlier).limit(bindparam("limit"))


def _nearest(*which: ColumnElement[bool]) -> Select[tuple[str, int]]:
    """The runs ``which`` picks, as ``(id, distance)``, nearest to the run (bound as ``run``)
    first; the caller adds the limit."""
    runs = t.runs
    own = t.params.alias("own")
    other = t.params.alias("other")
    run_id: Any = bindparam("run")

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
        .where(*which)
        .group_by(runs.c.id, runs.c.start_time)
        .order_by(distance, score, runs.c.start_time.desc(), runs.c.id.desc())
    )


def _same_value(a: FromClause, b: FromClause) -> ColumnElement[bool]:
    ac, bc = a.c, b.c
    return or_(
        and_(ac.value_type == bc.value_type, ac.value_text == bc.value_text),
        and_(ac.value_type == "none", bc.value_type == "none"),
        # Numbers by value: 1 and 1.0, 0.0 and -0.0. value_number is NULL for NaN, never equal.
        and_(ac.value_type.in_(_NUMBER_TYPES), bc.value_type.in_(_NUMBER_TYPES), ac.value_number == bc.value_number),
    )
