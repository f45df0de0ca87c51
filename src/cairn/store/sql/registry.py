"""The model registry in SQL: registered models, versions, tags, aliases and alias history.

A version number is given out by bumping ``registered_models.latest_version`` in the same
transaction that inserts the version, with the model's row locked (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already lets one writer in at a time), so concurrent
registrations get distinct numbers, and the primary key (model_id, version) would refuse a
duplicate anyway.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    Connection,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from cairn.core.access import ResourceKind
from cairn.core.clock import now_ms
from cairn.core.errors import AliasNotFound, AlreadyExists, ModelNotFound, ModelVersionNotFound
from cairn.core.gcpause import collector_paused
from cairn.core.query.ast import Expr
from cairn.core.registry import AliasMove, ModelVersion, RegisteredModel, Stage
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.registry_pages import VERSION_COLUMNS, complete, versions_by_key, versions_of
from cairn.store.sql.registry_search import MODELS_TARGET, VERSIONS_TARGET, filtered
from cairn.store.sql.rows import dialect_insert

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

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        with transaction(self._engines.write) as conn:
            model_id = _model_id(conn, name)
            if conn.scalar(select(_m.id).where(_m.name == new_name)) is not None:
                raise AlreadyExists(f"a registered model named {new_name!r} exists", details={"model": new_name})
            conn.execute(
                update(t.registered_models).where(_m.id == model_id).values(name=new_name, updated_at=now_ms())
            )
            # Roles are held on a model's name (as on a project's): they follow the rename.
            grants = t.grants.c
            held = and_(grants.resource_kind == ResourceKind.MODEL.value, grants.resource == name)
            conn.execute(update(t.grants).where(held).values(resource=new_name))
            return _model(conn, model_id)

    def delete_version(self, name: str, version: int) -> None:
        with transaction(self._engines.write) as conn:
            model_id = _model_id(conn, name)
            # Tags, lineage, reviews of it and its prediction-log records go with it.
            done = conn.execute(delete(t.model_versions).where(_v.model_id == model_id, _v.version == version))
            if done.rowcount == 0:
                raise ModelVersionNotFound(
                    f"registered model {name!r} has no version {version}", details={"model": name, "version": version}
                )

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
        names: Collection[str] | None = None,
    ) -> list[RegisteredModel]:
        if names is not None and not names:
            return []
        dialect = self._engines.read.dialect.name
        joined, condition = filtered(MODELS_TARGET, where, now_ms, dialect)
        query = select(_m.id).select_from(joined).where(condition).order_by(_m.name).limit(limit)
        if names is not None:
            query = query.where(_m.name.in_(sorted(names)))
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
            return versions_of(conn, name, model_id, [version])[0]

    def get_version(self, name: str, version: int) -> ModelVersion:
        with reading(self._engines) as conn:
            model_id = _model_id(conn, name)
            found = versions_of(conn, name, model_id, [version])
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
                query = select(*VERSION_COLUMNS).where(_v.model_id == model_id)
            else:
                joined, condition = filtered(VERSIONS_TARGET, where, now_ms, conn.dialect.name)
                query = select(*VERSION_COLUMNS).select_from(joined).where(_v.model_id == model_id, condition)
            query = query.order_by(_v.version.desc()).limit(limit)
            if before_version is not None:
                query = query.where(_v.version < before_version)
            with collector_paused():  # up to 10,000 rows and versions at once
                rows = conn.execute(query).all()
                return complete(conn, {model_id: name}, [model_id] * len(rows), rows)

    def search_versions(
        self,
        *,
        where: Expr | None,
        now_ms: int,
        limit: int,
        after: tuple[str, int] | None,
        names: Collection[str] | None = None,
    ) -> list[ModelVersion]:
        if names is not None and not names:
            return []
        with reading(self._engines) as conn:
            joined, condition = filtered(VERSIONS_TARGET, where, now_ms, conn.dialect.name)
            query = (
                select(_m.name, _v.model_id, *VERSION_COLUMNS)
                .select_from(joined)
                .where(condition)
                .order_by(_m.name, _v.version.desc())
                .limit(limit)
            )
            if after is not None:
                name, version = after
                query = query.where(or_(_m.name > name, and_(_m.name == name, _v.version < version)))
            if names is not None:
                query = query.where(_m.name.in_(sorted(names)))
            with collector_paused():  # up to 10,000 rows and versions at once
                rows = conn.execute(query).all()
                names = {row[1]: row[0] for row in rows}
                return complete(conn, names, [row[1] for row in rows], [row[2:] for row in rows])

    def versions_of_run(self, run_id: str) -> list[ModelVersion]:
        query = (
            select(_m.name, _m.id, _v.version)
            .join(t.registered_models, _m.id == _v.model_id)
            .where(_v.run_id == run_id)
            .order_by(_m.name, _v.version)
        )
        with reading(self._engines) as conn:
            return versions_by_key(conn, conn.execute(query).all())

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
            return versions_by_key(conn, conn.execute(query).all())

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
            return versions_of(conn, name, model_id, [version])[0]

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
            return versions_of(conn, name, model_id, [version])[0]

    def set_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        with transaction(self._engines.write) as conn:
            model_id = require_version(conn, name, version)
            _put_tags(conn, t.model_version_tags, {"model_id": model_id, "version": version}, {key: value})

    def delete_version_tag(self, name: str, version: int, key: str) -> None:
        vt = t.model_version_tags.c
        with transaction(self._engines.write) as conn:
            model_id = require_version(conn, name, version)
            conn.execute(
                delete(t.model_version_tags).where(vt.model_id == model_id, vt.version == version, vt.key == key)
            )

    # -- aliases ----------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int, moved_by: str) -> AliasMove:
        with transaction(self._engines.write) as conn:
            model_id = require_version(conn, name, version)
            # The model's row is the lock: two first settings of one alias would both find no
            # row to lock and both insert (PostgreSQL; SQLite lets one writer in at a time).
            conn.execute(select(_m.id).where(_m.id == model_id).with_for_update())
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
            return versions_of(conn, name, model_id, [int(version)])[0]

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


def model_id_of(conn: Connection, name: str) -> str:
    """The id of the model ``name`` (the reviews' tables key on it too). Raises ModelNotFound."""
    return _model_id(conn, name)


def require_version(conn: Connection, name: str, version: int) -> str:
    """The id of the model ``name``, which must have ``version`` (prediction logs key on both).
    Raises ModelNotFound, ModelVersionNotFound."""
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


def _no_version(name: str, version: int) -> ModelVersionNotFound:
    return ModelVersionNotFound(
        f"registered model {name!r} has no version {version}", details={"model": name, "version": version}
    )


def _no_alias(name: str, alias: str) -> AliasNotFound:
    return AliasNotFound(f"registered model {name!r} has no alias {alias!r}", details={"model": name, "alias": alias})
