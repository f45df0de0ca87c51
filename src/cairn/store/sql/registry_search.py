"""Registered models and model versions selected by the query language (docs/query.md).

The run compiler (:mod:`.search`) does the work; the two targets here tell it where a model's
or a version's fields are:

- a model's attributes are its columns (``latest_version`` is NULL before the first version),
  its tags are ``registered_model_tags``, ``alias`` is any of its aliases;
- a version's are its columns and its model's name, its tags ``model_version_tags``, ``alias``
  any alias pointing at it, and ``run.…`` any field of its source run, reached through a LEFT
  JOIN of ``runs``: a version whose run is gone has no run fields (comparisons are unknown).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select, true
from sqlalchemy.sql.expression import FromClause
from sqlalchemy.sql.schema import Table

from cairn.core.query.ast import Expr, Source
from cairn.core.query.vocabulary import MODELS, VERSIONS
from cairn.store.sql import schema as t
from cairn.store.sql.search import Target, _Compiler

_m = t.registered_models.c
_v = t.model_versions.c
_a = t.model_aliases.c


class _Models(Target):
    vocabulary = MODELS
    related = {}

    def base(self) -> FromClause:
        return t.registered_models

    def keyed(self, source: Source) -> tuple[Table, dict[str, ColumnElement[Any]]]:
        assert source is Source.TAG, "the models' vocabulary has tags only"
        return t.registered_model_tags, {"model_id": _m.id}

    def attribute(self, compiler: _Compiler, name: str) -> ColumnElement[Any]:
        columns: dict[str, ColumnElement[Any]] = {
            "name": _m.name,
            "description": _m.description,
            "created": _m.created_at,
            "updated": _m.updated_at,
            # Stored as 0 before the first version; the query language says null.
            "latest_version": func.nullif(_m.latest_version, 0),
        }
        return columns[name]

    def several(self, name: str) -> tuple[Select[Any], ColumnElement[Any]]:
        assert name == "alias"
        return select(literal_column("1")).select_from(t.model_aliases).where(_a.model_id == _m.id), _a.alias

    def joined_onto(self, compiler: _Compiler, joined: FromClause) -> FromClause:
        return joined


class _RunOfVersion(Target):
    """The runs' own target, reached from a version: its run LEFT JOINed first."""

    def joined_onto(self, compiler: _Compiler, joined: FromClause) -> FromClause:
        return super().joined_onto(compiler, joined.outerjoin(t.runs, t.runs.c.id == _v.run_id))


class _Versions(Target):
    vocabulary = VERSIONS
    related = {"run": _RunOfVersion()}

    def base(self) -> FromClause:
        return t.model_versions.join(t.registered_models, _m.id == _v.model_id)

    def keyed(self, source: Source) -> tuple[Table, dict[str, ColumnElement[Any]]]:
        assert source is Source.TAG, "a version's own keyed fields are its tags"
        return t.model_version_tags, {"model_id": _v.model_id, "version": _v.version}

    def attribute(self, compiler: _Compiler, name: str) -> ColumnElement[Any]:
        columns: dict[str, ColumnElement[Any]] = {
            "name": _m.name,
            "version": _v.version,
            "stage": _v.stage,
            "flavor": _v.flavor,
            "description": _v.description,
            "user": _v.created_by,
            "created": _v.created_at,
            "updated": _v.updated_at,
        }
        return columns[name]

    def several(self, name: str) -> tuple[Select[Any], ColumnElement[Any]]:
        assert name == "alias"
        found: Select[Any] = select(literal_column("1")).select_from(t.model_aliases)
        return found.where(_a.model_id == _v.model_id, _a.version == _v.version), _a.alias

    def joined_onto(self, compiler: _Compiler, joined: FromClause) -> FromClause:
        return joined


MODELS_TARGET = _Models()
VERSIONS_TARGET = _Versions()


def filtered(target: Target, where: Expr | None, now_ms: int, dialect: str) -> tuple[FromClause, ColumnElement[bool]]:
    """The FROM and the WHERE that select ``target``'s things matching ``where`` (all of them
    when None); ``now_ms`` is "now" for ages such as ``created > -7d``."""
    # Ordered by name and number, not by a field's value: no selectivity hints (see hinted).
    compiler = _Compiler(dialect, now_ms, where, sorted_by_value=False, target=target)
    condition = true() if where is None else compiler.predicate(where)
    return compiler.from_clause(), and_(condition)
