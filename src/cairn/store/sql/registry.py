"""The model registry in SQL: registered models, versions, tags, aliases and alias history.

A version number is given out by bumping ``registered_models.latest_version`` in the same
transaction that inserts the version, with the model's row locked (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already lets one writer in at a time), so concurrent
registrations get distinct numbers, and the primary key (model_id, version) would refuse a
duplicate anyway.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Text,
    and_,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)

from cairn.core.clock import now_ms
from cairn.core.errors import AliasNotFound, AlreadyExists, ModelNotFound, ModelVersionNotFound
from cairn.core.gcpause import collector_paused
from cairn.core.query.ast import Expr
from cairn.core.registry import AliasMove, LineageDataset, ModelVersion, RegisteredModel, Stage
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.registry_search import MODELS_TARGET, VERSIONS_TARGET, filtered
from cairn.store.sql.rows import dialect_insert, in_chunks

T = TypeVar("T")

_m = t.registered_models.c
_v = t.model_versions.c
_a = t.model_aliases.c


class SqlRegistryStore:
    """Implements :class:`cairn.store.base.RegistryStore`."""

    _engines: Engines

    # -- registered models ------------------------------------------------------------------

    def create_model(self, name: str, description: str, tags: Mapping[str, str]) -> RegisteredModel:
        with transaction(self._engines.write) as conn:
            if conn.scalar(select(_m.id).where(_m.name == name)) is not None:
                raise AlreadyExists(f"a registered model named {name!r} exists", details={"model": name})
            model_id = _insert_model(conn, name, description)
            _put_tags(conn, t.registered_model_tags, {"model_id": model_id}, tags)
            return _model(conn, model_id)

    def get_model(self, name: str) -> RegisteredModel:
        with reading(self._engines) as conn:
            return _model(conn, _model_id(conn, name))

    def update_model(self, name: str, description: str) -> RegisteredModel:
        with transaction(self._engines.write) as conn:
            model_id = _model_id(conn, name)
            conn.execute(
                update(t.registered_models)
                .where(_m.id == model_id)
                .values(description=description, updated_at=now_ms())
            )
            return _model(conn, model_id)

    def delete_model(self, name: str) -> None:
        with transaction(self._engines.write) as conn:
            model_id = _model_id(conn, name)
            # Tags, lineage and aliases go with their versions, versions with their model.
            conn.execute(delete(t.registered_models).where(_m.id == model_id))

    def list_models(
        self,
        *,
        name_like: str | None,
        tags: Mapping[str, str],
        limit: int,
        after_name: str | None,
        where: Expr | None = None,
        now_ms: int = 0,
    ) -> list[RegisteredModel]:
        dialect = self._engines.read.dialect.name
        joined, condition = filtered(MODELS_TARGET, where, now_ms, dialect)
        query = select(_m.id).select_from(joined).where(condition).order_by(_m.name).limit(limit)
        if name_like is not None:
            query = query.where(_m.name.like(name_like))
        if after_name is not None:
            query = query.where(_m.name > after_name)
        mt = t.registered_model_tags.c
        for key, value in tags.items():
            query = query.where(
                select(mt.model_id).where(mt.model_id == _m.id, mt.key == key, mt.value == value).exists()
            )
        with reading(self._engines) as conn:
            return _models(conn, [str(model_id) for model_id in conn.scalars(query)])

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        with transaction(self._engines.write) as conn:
            model_id = _model_id(conn, name)
            _put_tags(conn, t.registered_model_tags, {"model_id": model_id}, {key: value})
            _touch_model(conn, model_id)

    def delete_model_tag(self, name: str, key: str) -> None:
        mt = t.registered_model_tags.c
        with transaction(self._engines.write) as conn:
            model_id = _model_id(conn, name)
            conn.execute(delete(t.registered_model_tags).where(mt.model_id == model_id, mt.key == key))
            _touch_model(conn, model_id)

    # -- versions ---------------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        *,
        run_id: str,
        source_path: str,
        tree_digest: str,
        flavor: str,
        signature: Mapping[str, Any] | None,
        datasets: Sequence[tuple[str, str]],
        description: str,
        tags: Mapping[str, str],
        created_by: str,
    ) -> ModelVersion:
        with transaction(self._engines.write) as conn:
            # Made on first registration, as mlflow.register_model does; a concurrent first
            # registration of the same name makes it once.
            conn.execute(
                dialect_insert(conn, t.registered_models)
                .values(_model_row(name, ""))
                .on_conflict_do_nothing(index_elements=["name"])
            )
            locked = conn.execute(select(_m.id, _m.latest_version).where(_m.name == name).with_for_update()).one()
            model_id, version = str(locked.id), int(locked.latest_version) + 1
            now = now_ms()
            conn.execute(
                update(t.registered_models).where(_m.id == model_id).values(latest_version=version, updated_at=now)
            )
            key = {"model_id": model_id, "version": version}
            conn.execute(
                insert(t.model_versions),
                {
                    **key,
                    "run_id": run_id,
                    "source_path": source_path,
                    "tree_digest": tree_digest,
                    "flavor": flavor,
                    "signature": None if signature is None else orjson.dumps(signature).decode(),
                    "stage": Stage.NONE.value,
                    "description": description,
                    "created_by": created_by,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            if datasets:
                rows = [{**key, "dataset_version_id": d, "context": c} for d, c in dict.fromkeys(datasets)]
                conn.execute(insert(t.model_version_datasets), rows)
            _put_tags(conn, t.model_version_tags, key, tags)
            return _versions(conn, name, model_id, [version])[0]

    def get_version(self, name: str, version: int) -> ModelVersion:
        with reading(self._engines) as conn:
            model_id = _model_id(conn, name)
            found = _versions(conn, name, model_id, [version])
        if not found:
            raise _no_version(name, version)
        return found[0]

    def list_versions(
        self,
        name: str,
        *,
        limit: int,
        before_version: int | None,
        where: Expr | None = None,
        now_ms: int = 0,
    ) -> list[ModelVersion]:
        with reading(self._engines) as conn:
            model_id = _model_id(conn, name)
            if where is None:  # the plain listing reads one table: no join to the models
                query = select(*_VERSION_COLUMNS).where(_v.model_id == model_id)
            else:
                joined, condition = filtered(VERSIONS_TARGET, where, now_ms, conn.dialect.name)
                query = select(*_VERSION_COLUMNS).select_from(joined).where(_v.model_id == model_id, condition)
            query = query.order_by(_v.version.desc()).limit(limit)
            if before_version is not None:
                query = query.where(_v.version < before_version)
            with collector_paused():  # up to 10,000 rows and versions at once
                rows = conn.execute(query).all()
                return _complete(conn, {model_id: name}, [model_id] * len(rows), rows)

    def search_versions(
        self, *, where: Expr | None, now_ms: int, limit: int, after: tuple[str, int] | None
    ) -> list[ModelVersion]:
        with reading(self._engines) as conn:
            joined, condition = filtered(VERSIONS_TARGET, where, now_ms, conn.dialect.name)
            query = (
                select(_m.name, _v.model_id, *_VERSION_COLUMNS)
                .select_from(joined)
                .where(condition)
                .order_by(_m.name, _v.version.desc())
                .limit(limit)
            )
            if after is not None:
                name, version = after
                query = query.where(or_(_m.name > name, and_(_m.name == name, _v.version < version)))
            with collector_paused():  # up to 10,000 rows and versions at once
                rows = conn.execute(query).all()
                names = {row[1]: row[0] for row in rows}
                return _complete(conn, names, [row[1] for row in rows], [row[2:] for row in rows])

    def versions_of_run(self, run_id: str) -> list[ModelVersion]:
        query = (
            select(_m.name, _m.id, _v.version)
            .join(t.registered_models, _m.id == _v.model_id)
            .where(_v.run_id == run_id)
            .order_by(_m.name, _v.version)
        )
        with reading(self._engines) as conn:
            return _versions_by_key(conn, conn.execute(query).all())

    def versions_of_dataset(self, dataset_version_id: str) -> list[ModelVersion]:
        vd = t.model_version_datasets.c
        query = (
            select(_m.name, _m.id, vd.version)
            .distinct()
            .join(t.registered_models, _m.id == vd.model_id)
            .where(vd.dataset_version_id == dataset_version_id)
            .order_by(_m.name, vd.version)
        )
        with reading(self._engines) as conn:
            return _versions_by_key(conn, conn.execute(query).all())

    def set_stage(self, name: str, version: int, stage: Stage, *, archive_existing: bool) -> ModelVersion:
        with transaction(self._engines.write) as conn:
            model_id = _model_id(conn, name)
            now = now_ms()
            changed = conn.execute(
                update(t.model_versions)
                .where(_v.model_id == model_id, _v.version == version)
                .values(stage=stage.value, updated_at=now)
            )
            if changed.rowcount == 0:
                raise _no_version(name, version)
            if archive_existing and stage in (Stage.STAGING, Stage.PRODUCTION):
                conn.execute(
                    update(t.model_versions)
                    .where(_v.model_id == model_id, _v.version != version, _v.stage == stage.value)
                    .values(stage=Stage.ARCHIVED.value, updated_at=now)
                )
            return _versions(conn, name, model_id, [version])[0]

    def update_version(self, name: str, version: int, description: str) -> ModelVersion:
        with transaction(self._engines.write) as conn:
            model_id = _model_id(conn, name)
            changed = conn.execute(
                update(t.model_versions)
                .where(_v.model_id == model_id, _v.version == version)
                .values(description=description, updated_at=now_ms())
            )
            if changed.rowcount == 0:
                raise _no_version(name, version)
            return _versions(conn, name, model_id, [version])[0]

    def set_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        with transaction(self._engines.write) as conn:
            model_id = _require_version(conn, name, version)
            _put_tags(conn, t.model_version_tags, {"model_id": model_id, "version": version}, {key: value})

    def delete_version_tag(self, name: str, version: int, key: str) -> None:
        vt = t.model_version_tags.c
        with transaction(self._engines.write) as conn:
            model_id = _require_version(conn, name, version)
            conn.execute(
                delete(t.model_version_tags).where(vt.model_id == model_id, vt.version == version, vt.key == key)
            )

    # -- aliases ----------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int, moved_by: str) -> AliasMove:
        with transaction(self._engines.write) as conn:
            model_id = _require_version(conn, name, version)
            current = conn.scalar(
                select(_a.version).where(_a.model_id == model_id, _a.alias == alias).with_for_update()
            )
            if current is None:
                conn.execute(insert(t.model_aliases), {"model_id": model_id, "alias": alias, "version": version})
            else:
                conn.execute(
                    update(t.model_aliases).where(_a.model_id == model_id, _a.alias == alias).values(version=version)
                )
            return _record_move(conn, name, model_id, alias, current, version, moved_by)

    def delete_alias(self, name: str, alias: str, moved_by: str) -> AliasMove:
        with transaction(self._engines.write) as conn:
            model_id = _model_id(conn, name)
            current = conn.scalar(
                select(_a.version).where(_a.model_id == model_id, _a.alias == alias).with_for_update()
            )
            if current is None:
                raise _no_alias(name, alias)
            conn.execute(delete(t.model_aliases).where(_a.model_id == model_id, _a.alias == alias))
            return _record_move(conn, name, model_id, alias, current, None, moved_by)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with reading(self._engines) as conn:
            model_id = _model_id(conn, name)
            version = conn.scalar(select(_a.version).where(_a.model_id == model_id, _a.alias == alias))
            if version is None:
                raise _no_alias(name, alias)
            return _versions(conn, name, model_id, [int(version)])[0]

    def alias_history(self, name: str, alias: str | None) -> list[AliasMove]:
        h = t.alias_history.c
        with reading(self._engines) as conn:
            model_id = _model_id(conn, name)
            query = select(t.alias_history).where(h.model_id == model_id).order_by(h.moved_at, h.id)
            if alias is not None:
                query = query.where(h.alias == alias)
            return [_move(name, row._mapping) for row in conn.execute(query)]


# -- rows to entities -------------------------------------------------------------------------


def _model_row(name: str, description: str) -> dict[str, Any]:
    now = now_ms()
    return {
        "id": uuid.uuid4().hex,
        "name": name,
        "description": description,
        "latest_version": 0,
        "created_at": now,
        "updated_at": now,
    }


def _insert_model(conn: Connection, name: str, description: str) -> str:
    row = _model_row(name, description)
    conn.execute(insert(t.registered_models), row)
    return str(row["id"])


def _model_id(conn: Connection, name: str) -> str:
    model_id = conn.scalar(select(_m.id).where(_m.name == name))
    if model_id is None:
        raise ModelNotFound(f"no registered model named {name!r}", details={"model": name})
    return str(model_id)


def _require_version(conn: Connection, name: str, version: int) -> str:
    model_id = _model_id(conn, name)
    if conn.scalar(select(_v.version).where(_v.model_id == model_id, _v.version == version)) is None:
        raise _no_version(name, version)
    return model_id


def _touch_model(conn: Connection, model_id: str) -> None:
    conn.execute(update(t.registered_models).where(_m.id == model_id).values(updated_at=now_ms()))


def _put_tags(conn: Connection, table: Any, key: Mapping[str, Any], tags: Mapping[str, str]) -> None:
    for tag_key, value in tags.items():
        conn.execute(
            dialect_insert(conn, table)
            .values({**key, "key": tag_key, "value": value})
            .on_conflict_do_update(index_elements=[*key, "key"], set_={"value": value})
        )


def _record_move(
    conn: Connection,
    name: str,
    model_id: str,
    alias: str,
    from_version: Any,
    to_version: int | None,
    moved_by: str,
) -> AliasMove:
    h = t.alias_history.c
    # Moves within one millisecond would tie and list in random id order: each move of a model's
    # aliases gets a later time than the one before it.
    latest = conn.scalar(select(func.max(h.moved_at)).where(h.model_id == model_id))
    now = now_ms()
    row = {
        "id": uuid.uuid4().hex,
        "model_id": model_id,
        "alias": alias,
        "from_version": None if from_version is None else int(from_version),
        "to_version": to_version,
        "moved_by": moved_by,
        "moved_at": now if latest is None else max(now, latest + 1),
    }
    conn.execute(insert(t.alias_history), row)
    _touch_model(conn, model_id)
    return _move(name, row)


def _move(name: str, row: Any) -> AliasMove:
    return AliasMove(
        model=name,
        alias=row["alias"],
        from_version=row["from_version"],
        to_version=row["to_version"],
        moved_by=row["moved_by"],
        moved_at=row["moved_at"],
    )


def _model(conn: Connection, model_id: str) -> RegisteredModel:
    return _models(conn, [model_id])[0]


def _models(conn: Connection, model_ids: Sequence[str]) -> list[RegisteredModel]:
    """The models ``model_ids``, in that order, with their tags and aliases: three queries
    however many models (a listing page would otherwise make three per model)."""
    if not model_ids:
        return []
    mt = t.registered_model_tags.c
    rows = {r.id: r for r in conn.execute(select(t.registered_models).where(_m.id.in_(model_ids)))}
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for model_id, key, value in conn.execute(select(mt.model_id, mt.key, mt.value).where(mt.model_id.in_(model_ids))):
        tags[model_id][key] = value
    aliases: dict[str, dict[str, int]] = defaultdict(dict)
    query = select(_a.model_id, _a.alias, _a.version).where(_a.model_id.in_(model_ids)).order_by(_a.alias)
    for model_id, alias, version in conn.execute(query):
        aliases[model_id][alias] = int(version)
    return [
        RegisteredModel(
            name=row.name,
            description=row.description,
            tags=tags[model_id],
            created_at=row.created_at,
            updated_at=row.updated_at,
            latest_version=int(row.latest_version) or None,
            aliases=aliases[model_id],
        )
        for model_id in model_ids
        if (row := rows.get(model_id)) is not None
    ]


#: Stage by its stored text: a dict lookup, where ``Stage(text)`` costs ~2 µs a row in a listing.
_STAGES = {stage.value: stage for stage in Stage}


#: A version's own columns, in the order :func:`_complete` reads them.
_VERSION_COLUMNS = (
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


def _versions(conn: Connection, name: str, model_id: str, numbers: Sequence[int]) -> list[ModelVersion]:
    """The versions ``numbers`` of a model, in that order (those that exist)."""
    if not numbers:
        return []
    query = select(*_VERSION_COLUMNS).where(_v.model_id == model_id, _v.version.in_(numbers))
    rows = {int(r[0]): r for r in conn.execute(query).all()}
    found = [row for n in numbers if (row := rows.get(n)) is not None]
    return _complete(conn, {model_id: name}, [model_id] * len(found), found)


def _versions_by_key(conn: Connection, keys: Sequence[Any]) -> list[ModelVersion]:
    """The versions of ``keys``, rows of (model name, model id, version), in that order."""
    if not keys:
        return []
    wanted = [(str(model_id), int(version)) for _, model_id, version in keys]
    rows: dict[tuple[str, int], Any] = {}
    for chunk in in_chunks(wanted, _KEYS_PER_QUERY):
        query = select(_v.model_id, *_VERSION_COLUMNS).where(tuple_(_v.model_id, _v.version).in_(chunk))
        rows.update(((r[0], int(r[1])), r) for r in conn.execute(query).all())
    found = [row for key in wanted if (row := rows.get(key)) is not None]
    names = {str(model_id): name for name, model_id, _ in keys}
    return _complete(conn, names, [row[0] for row in found], [row[1:] for row in found])


def _complete(
    conn: Connection, names: Mapping[str, str], model_ids: Sequence[str], rows: Sequence[Any]
) -> list[ModelVersion]:
    """Versions from their rows (:data:`_VERSION_COLUMNS`, of the models ``model_ids``, one a
    row), in that order, with their aliases, tags and lineage; ``names`` gives each model
    id's name.

    A page of 10,000 versions must come back in well under 100 ms (issue 12), so rows are
    fetched whole (``.all()``: one driver call, not one per row) and unpacked as tuples, and a
    signature is parsed once per distinct text: a model's versions mostly share one, and the
    versions that do share the parsed mapping (entities are read-only). The aliases, tags and
    lineage of a page take three queries (a few more for thousands of scattered versions),
    never one per version: over one range of each table's primary key when the page is one
    model's versions with few gaps, else by their keys. Tags and lineage come grouped by
    value, with the numbers of the versions that have it: versions mostly share them, so a
    page of 10,000 reads a few rows, not 10,000 (each of which costs the driver a tuple and
    an object per column)."""
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


def _no_version(name: str, version: int) -> ModelVersionNotFound:
    return ModelVersionNotFound(
        f"registered model {name!r} has no version {version}", details={"model": name, "version": version}
    )


def _no_alias(name: str, alias: str) -> AliasNotFound:
    return AliasNotFound(f"registered model {name!r} has no alias {alias!r}", details={"model": name, "alias": alias})
