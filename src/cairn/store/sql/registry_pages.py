"""Model versions from their rows, a page at a time: a version's own columns, then its aliases,
tags and lineage for the whole page in a few queries (never one per version), built into
entities with Python's collector paused (:mod:`cairn.core.gcpause`).

A page of 10,000 versions must come back in well under 100 ms (issue 12; bench/registry_list.py),
so rows are fetched whole (``.all()``: one driver call, not one per row) and unpacked as tuples;
tags and lineage are read grouped by value, with the numbers of the versions that have it (a
model's versions mostly share them, so a page reads a few rows, not 10,000, each of which costs
the driver a tuple and an object per column); and what versions share (a signature, a set of
tags, a lineage) is made once and shared by their entities, which are read-only.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, Connection, Text, and_, cast, func, literal, select, tuple_

from cairn.core.gcpause import collector_paused
from cairn.core.registry import LineageDataset, ModelVersion, Stage
from cairn.store.sql import schema as t
from cairn.store.sql.rows import in_chunks

T = TypeVar("T")

_v = t.model_versions.c
_a = t.model_aliases.c

#: Stage by its stored text: a dict lookup, where ``Stage(text)`` costs ~2 µs a row in a listing.
_STAGES = {stage.value: stage for stage in Stage}


#: A version's own columns, in the order :func:`complete` reads them.
VERSION_COLUMNS = (
    _v.version,
    _v.run_id,
    _v.source_path,
    _v.tree_digest,
    _v.flavor,
    _v.signature,
    _v.stage,
    _v.description,
    _v.created_by,
    _v.created_at,
    _v.updated_at,
)

#: Versions whose tags, aliases and lineage one query reads by key; a page of more reads them in
#: several (each key is two bound parameters, and SQLite takes 32,766 at most).
_KEYS_PER_QUERY = 2_000


def versions_of(conn: Connection, name: str, model_id: str, numbers: Sequence[int]) -> list[ModelVersion]:
    """The versions ``numbers`` of a model, in that order (those that exist)."""
    if not numbers:
        return []
    query = select(*VERSION_COLUMNS).where(_v.model_id == model_id, _v.version.in_(numbers))
    rows = {int(r[0]): r for r in conn.execute(query).all()}
    found = [row for n in numbers if (row := rows.get(n)) is not None]
    return complete(conn, {model_id: name}, [model_id] * len(found), found)


def versions_by_key(conn: Connection, keys: Sequence[Any]) -> list[ModelVersion]:
    """The versions of ``keys``, rows of (model name, model id, version), in that order."""
    if not keys:
        return []
    wanted = [(str(model_id), int(version)) for _, model_id, version in keys]
    rows: dict[tuple[str, int], Any] = {}
    for chunk in in_chunks(wanted, _KEYS_PER_QUERY):
        query = select(_v.model_id, *VERSION_COLUMNS).where(tuple_(_v.model_id, _v.version).in_(chunk))
        rows.update(((r[0], int(r[1])), r) for r in conn.execute(query).all())
    found = [row for key in wanted if (row := rows.get(key)) is not None]
    names = {str(model_id): name for name, model_id, _ in keys}
    return complete(conn, names, [row[0] for row in found], [row[1:] for row in found])


def complete(
    conn: Connection, names: Mapping[str, str], model_ids: Sequence[str], rows: Sequence[Any]
) -> list[ModelVersion]:
    """Versions from their rows (:data:`VERSION_COLUMNS`, of the models ``model_ids``, one a
    row), in that order, with their aliases, tags and lineage; ``names`` gives each model
    id's name. The aliases, tags and lineage of a page take three queries (a few more for
    thousands of scattered versions): over one range of each table's primary key when the page
    is one model's versions with few gaps, else by their keys."""
    if not rows:
        return []
    with collector_paused():
        return _completed(conn, names, model_ids, rows)


def _completed(
    conn: Connection, names: Mapping[str, str], model_ids: Sequence[str], rows: Sequence[Any]
) -> list[ModelVersion]:
    aliases: dict[tuple[str, int], list[str]] = defaultdict(list)
    tags: dict[tuple[str, int], dict[str, str]] = {}
    lineage: dict[tuple[str, int], tuple[LineageDataset, ...]] = {}
    vt = t.model_version_tags.c
    numbers_of = _numbers_of(conn)
    for where in _page_conditions(model_ids, [int(row[0]) for row in rows]):
        for model_id, version, alias in conn.execute(
            select(_a.model_id, _a.version, _a.alias).where(where(t.model_aliases)).order_by(_a.alias)
        ).all():
            aliases[model_id, int(version)].append(alias)
        tagged = conn.execute(
            select(vt.model_id, vt.key, vt.value, numbers_of(vt.version))
            .where(where(t.model_version_tags))
            .group_by(vt.model_id, vt.key, vt.value)
            .order_by(vt.key)
        ).all()
        tags.update(_shared(_holders(tagged), functools.partial(_tags_of, tagged)))
        lineage.update(_lineage(conn, where(t.model_version_datasets), numbers_of))
    # Each distinct signature parsed once; None (no signature) is no key, so .get gives None.
    signatures = {text: orjson.loads(text) for text in {row[5] for row in rows} if text is not None}
    alias_tuples = {key: tuple(held) for key, held in aliases.items()}
    return [
        ModelVersion(
            model=names[model_id],
            version=key[1],
            run_id=row[1],
            source_path=row[2],
            tree_digest=row[3],
            flavor=row[4],
            signature=signatures.get(row[5]),
            stage=_STAGES[row[6]],
            description=row[7],
            aliases=alias_tuples.get(key, ()),
            tags=tags.get(key) or {},
            created_by=row[8],
            created_at=row[9],
            updated_at=row[10],
            datasets=lineage.get(key, ()),
        )
        for model_id, row in zip(model_ids, rows, strict=True)
        if (key := (model_id, int(row[0])))  # always true: names the version's key once
    ]


def _page_conditions(model_ids: Sequence[str], numbers: Sequence[int]) -> list[Callable[[Any], ColumnElement[bool]]]:
    """Conditions that pick a page's versions from a table keyed by (model_id, version): one
    range when they are one model's with few gaps (at most as many versions left out as
    taken, which the range reads for nothing), else their keys, a chunk each."""
    distinct = set(model_ids)
    low, high = min(numbers), max(numbers)
    if len(distinct) == 1 and high - low + 1 <= 2 * len(numbers):
        (model_id,) = distinct

        def in_range(table: Any) -> ColumnElement[bool]:
            return and_(table.c.model_id == model_id, table.c.version >= low, table.c.version <= high)

        return [in_range]
    keys = list(zip(model_ids, numbers, strict=True))

    def by_keys(chunk: Sequence[tuple[str, int]]) -> Callable[[Any], ColumnElement[bool]]:
        return lambda table: tuple_(table.c.model_id, table.c.version).in_(chunk)

    return [by_keys(chunk) for chunk in in_chunks(keys, _KEYS_PER_QUERY)]


#: An aggregate of version numbers as text, "3,1,2", in the store's dialect.
NumbersOf = Callable[[ColumnElement[Any]], ColumnElement[str]]


def _numbers_of(conn: Connection) -> NumbersOf:
    if conn.dialect.name == "postgresql":
        return lambda column: func.string_agg(cast(column, Text), literal(","))
    return lambda column: func.group_concat(column, literal(","))


def _numbers(text: str) -> Iterator[int]:
    return map(int, text.split(","))


def _tags_of(rows: Sequence[Any], chosen: tuple[int, ...]) -> dict[str, str]:
    """The tags in the rows ``chosen`` of grouped (model id, key, value, numbers) rows."""
    return {rows[i][1]: rows[i][2] for i in chosen}


def _holders(rows: Sequence[Any]) -> dict[tuple[str, int], tuple[int, ...]]:
    """From grouped rows, each ending with (…, numbers): the versions that have a value, by
    model id first, the indexes of the rows each version has, in row order."""
    held: dict[tuple[str, int], tuple[int, ...]] = {}
    for index, row in enumerate(rows):
        keys = zip(itertools.repeat(row[0]), _numbers(row[-1]))
        if not held:  # the first value: no version has another yet (one C loop, no Python one)
            held = dict.fromkeys(keys, (index,))
            continue
        for key in keys:
            held[key] = held.get(key, ()) + (index,)
    return held


def _shared(
    held: Mapping[tuple[str, int], tuple[int, ...]], make: Callable[[tuple[int, ...]], T]
) -> dict[tuple[str, int], T]:
    """Each version's value made from the rows it has, made once for versions that have the
    same rows and shared by them (entities are read-only): a model's versions mostly have the
    same tags and lineage, and 10,000 versions then cost one value, not 10,000."""
    distinct = set(held.values())
    if len(distinct) == 1:  # every version has the same, as is usual for a model's page
        (chosen,) = distinct
        return dict.fromkeys(held, make(chosen))
    made: dict[tuple[int, ...], T] = {}
    shared: dict[tuple[str, int], T] = {}
    for key, chosen in held.items():
        if (value := made.get(chosen)) is None:
            value = made[chosen] = make(chosen)
        shared[key] = value
    return shared


def _lineage(conn: Connection, where: Any, numbers_of: NumbersOf) -> dict[tuple[str, int], tuple[LineageDataset, ...]]:
    """The datasets each version's run used, by (model id, version), sorted by dataset name and
    context. The links come grouped (a model's versions mostly come from the same data), and
    the few distinct dataset versions they name are looked up once: a join would repeat the
    same names and digests on every one of 10,000 rows."""
    vd, dv, ds = t.model_version_datasets.c, t.dataset_versions.c, t.datasets.c
    links = conn.execute(
        select(vd.model_id, vd.dataset_version_id, vd.context, numbers_of(vd.version))
        .where(where)
        .group_by(vd.model_id, vd.dataset_version_id, vd.context)
    ).all()
    if not links:
        return {}
    named = {row[1] for row in links}
    found = {
        row[0]: (row[1], row[2])
        for row in conn.execute(
            select(dv.id, ds.name, dv.digest).join(t.datasets, ds.id == dv.dataset_id).where(dv.id.in_(named))
        ).all()
    }

    def datasets(chosen: tuple[int, ...]) -> tuple[LineageDataset, ...]:
        used = [links[i] for i in chosen if links[i][1] in found]
        made = [LineageDataset(row[1], *found[row[1]], row[2]) for row in used]
        return tuple(sorted(made, key=lambda x: (x.name, x.context)))

    return _shared(_holders(links), datasets)
