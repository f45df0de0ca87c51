"""Run queries compiled to one SQL statement, the same on SQLite and PostgreSQL.

Each param, tag or metric a query names becomes one LEFT JOIN of its table, on the run and the
key, so a run that never logged the key meets NULLs: comparisons on it are unknown, exactly as
:mod:`cairn.core.query.evaluate` (the reference semantics) says. Every literal is a bound
parameter; nothing of the query text is pasted into SQL.

Ordering spells out where NULLs go (the two databases disagree by default) and compares text
by code point (``COLLATE "C"`` on PostgreSQL, SQLite's default): missing values last in either
direction, ties by creation (newest first), then by id. Paging is by keyset: the page token
holds the last row's sort values, so runs added meanwhile cannot shift or repeat a page; it is
signed with the store's secret (:mod:`.page_tokens`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    collate,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
)
from sqlalchemy.sql.expression import FromClause
from sqlalchemy.sql.schema import Table

from cairn.core.entities import RunGroup
from cairn.core.errors import InvalidQuery
from cairn.core.limits import MAX_QUERY_KEYS
from cairn.core.params import decode_param
from cairn.core.query.ast import (
    Aggregate,
    And,
    Compare,
    Expr,
    Field,
    In,
    IsNull,
    Like,
    Not,
    Op,
    Or,
    Source,
    Value,
)
from cairn.core.query.request import GroupQuery, RunQuery
from cairn.core.query.values import duration_millis, time_millis
from cairn.core.query.vocabulary import RUNS, Vocabulary
from cairn.store.sql import page_tokens
from cairn.store.sql import schema as t
from cairn.store.sql.page_tokens import Kind, SortColumn
from cairn.store.sql.schema import VALUE_PREFIX

_NUMBER_TYPES = ("int", "float")


@dataclass(frozen=True)
class _SortPart:
    """One column of the ORDER BY; ``flag_only`` parts order by presence alone."""

    expr: ColumnElement[Any]
    descending: bool
    kind: Kind = Kind.NUMBER  # what the column holds when it is not NULL
    flag_only: bool = False


@dataclass(frozen=True)
class _OrderColumn:
    expr: ColumnElement[Any]
    descending: bool
    holds: SortColumn  # what a page token may carry for it


#: A joined key: the field's scope ("" or a related thing), its family and its key.
JoinedKey = tuple[str, Source, str]


class Target:
    """What a query selects, for the compiler: runs here, registered models and model versions
    in :mod:`.registry_search`."""

    vocabulary: Vocabulary = RUNS
    #: Related things a field may reach (the ``run`` of a model version), each a target too.
    related: Mapping[str, Target] = {}

    def base(self) -> FromClause:
        """The FROM the joins start with."""
        return t.runs

    def keyed(self, source: Source) -> tuple[Table, dict[str, ColumnElement[Any]]]:
        """A keyed family's table, and its owner columns with what each equals in the FROM."""
        table = {Source.PARAM: t.params, Source.TAG: t.tags, Source.METRIC: t.metric_summaries}[source]
        return table, {"run_id": t.runs.c.id}

    def attribute(self, compiler: _Compiler, name: str) -> ColumnElement[Any]:
        compiler.uses_project_name |= name == "project"
        runs = t.runs.c
        columns: dict[str, ColumnElement[Any]] = {
            "id": runs.id,
            "name": runs.name,
            "status": runs.status,
            "user": runs.user_name,
            "project": t.projects.c.name,
            "parent": runs.parent_id,
            "notes": runs.notes,
            "created": runs.start_time,
            "ended": runs.end_time,
            "duration": runs.end_time - runs.start_time,
        }
        return columns[name]

    def several(self, name: str) -> tuple[Select[Any], ColumnElement[Any]]:
        """For an attribute of several values: the rows holding them for the thing in the FROM
        (a correlated SELECT), and the column of the value."""
        raise KeyError(name)

    def joined_onto(self, compiler: _Compiler, joined: FromClause) -> FromClause:
        """``joined`` with what this target's attributes need: the run's project, if named;
        a related target also joins its own base here."""
        if compiler.uses_project_name:  # one lookup per run saved when the query does not need it
            joined = joined.join(t.projects, t.projects.c.id == t.runs.c.project_id)
        return joined


RUNS_TARGET = Target()


class _Compiler:
    def __init__(
        self,
        dialect: str,
        now_ms: int,
        where: Expr | None = None,
        *,
        sorted_by_value: bool = True,
        target: Target = RUNS_TARGET,
    ) -> None:
        self.dialect = dialect
        self.sorted_by_value = sorted_by_value
        self.now_ms = now_ms
        self.target = target
        self.joined: dict[JoinedKey, FromClause] = {}
        self.uses_project_name = False
        #: The related things fields have named ("run"), joined to the FROM.
        self.scopes: set[str] = set()
        # Keys a run must have for the query to hold: joined INNER, which lets the database
        # start from whichever of them is most selective instead of from every run.
        self.required = _needed_for(where, True) if where is not None else set()

    # -- tables ------------------------------------------------------------------------------

    def target_of(self, field: Field) -> Target:
        if not field.scope:
            return self.target
        self.scopes.add(field.scope)
        return self.target.related[field.scope]

    def table_for(self, field: Field) -> FromClause:
        """The LEFT JOINed row of ``field``'s key for each run (created on first use)."""
        index = (field.scope, field.source, field.key)
        if index not in self.joined and len(self.joined) >= MAX_QUERY_KEYS:
            raise InvalidQuery(
                f"a query and its sort order may name at most {MAX_QUERY_KEYS} different params, metrics and tags",
                details={"limit": MAX_QUERY_KEYS},
            )
        if index not in self.joined:
            table, _ = self.target_of(field).keyed(field.source)
            self.joined[index] = table.alias(f"{field.source.value}_{len(self.joined)}")
        return self.joined[index]

    def owner(self, field: Field) -> ColumnElement[Any]:
        """A column of ``field``'s joined row that is NULL exactly when the key is missing."""
        _, owners = self.target_of(field).keyed(field.source)
        return self.table_for(field).c[next(iter(owners))]

    def from_clause(self) -> FromClause:
        joined = self.target.base()
        for scope in sorted(self.scopes):
            joined = self.target.related[scope].joined_onto(self, joined)
        joined = self.target.joined_onto(self, joined)
        for (scope, source, key), alias in self.joined.items():
            _, owners = (self.target.related[scope] if scope else self.target).keyed(source)
            on = and_(*(alias.c[column] == equal for column, equal in owners.items()), alias.c.key == key)
            required = (scope, source, key) in self.required
            joined = joined.join(alias, on) if required else joined.outerjoin(alias, on)
        return joined

    def text(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """Text compared by code point on both databases."""
        return collate(expr, "C") if self.dialect == "postgresql" else expr

    # -- predicates --------------------------------------------------------------------------

    def predicate(self, expr: Expr) -> ColumnElement[bool]:
        if isinstance(expr, And):
            return and_(self.predicate(expr.left), self.predicate(expr.right))
        if isinstance(expr, Or):
            return or_(self.predicate(expr.left), self.predicate(expr.right))
        if isinstance(expr, Not):
            return not_(self.predicate(expr.operand))
        if expr.field.source is Source.DATASET:
            return self.any_predicate(expr, *self.inputs(expr.field))
        if self.target.vocabulary.holds_several(expr.field):
            return self.any_predicate(expr, *self.target_of(expr.field).several(expr.field.key))
        if isinstance(expr, IsNull):
            present = self.presence(expr.field)
            return present.is_not(None) if expr.negated else present.is_(None)
        if isinstance(expr, Compare):
            return self.compare(expr.field, expr.op, expr.value)
        if isinstance(expr, In):
            found = or_(*(self.compare(expr.field, Op.EQ, value) for value in expr.values))
            return not_(found) if expr.negated else found
        assert isinstance(expr, Like)
        return self.like(expr)

    def inputs(self, field: Field) -> tuple[Select[Any], ColumnElement[Any]]:
        """The run's inputs, with the dataset versions and names they point at (correlated to
        the run in the FROM), and the column of ``field``."""
        self.target_of(field)  # a version's ``run.dataset.name`` needs the run joined
        i, v, d = t.run_inputs.c, t.dataset_versions.c, t.datasets.c
        found: Select[Any] = (
            select(literal_column("1"))
            .select_from(
                t.run_inputs.join(t.dataset_versions, v.id == i.version_id).join(t.datasets, d.id == v.dataset_id)
            )
            .where(i.run_id == t.runs.c.id)
        )
        return found, {"name": d.name, "digest": v.digest, "context": i.context}[field.key]

    def any_predicate(
        self, expr: Compare | In | Like | IsNull, found: Select[Any], column: ColumnElement[Any]
    ) -> ColumnElement[bool]:
        """Whether one of several values matches (a run's inputs, a version's aliases): an
        EXISTS over ``found``, the rows holding them. The negative forms (``!=``, ``not in``,
        ``not like``) are NOT EXISTS of the positive one, so they hold for a thing without any
        value, and the result is never unknown (see the evaluator)."""
        negated = False
        if isinstance(expr, IsNull):
            condition: ColumnElement[bool] | None = None
            negated = not expr.negated
        elif isinstance(expr, Compare):
            negated = expr.op is Op.NE
            condition = _sql(Op.EQ if negated else expr.op, self.text(column), literal(expr.value))
        elif isinstance(expr, In):
            negated = expr.negated
            condition = or_(*(self.text(column) == literal(value) for value in expr.values))
        else:
            negated = expr.negated
            condition = self.like_term(column, expr)
        if condition is not None:
            found = found.where(condition)
        exists_ = found.exists()
        return not_(exists_) if negated else exists_

    def presence(self, field: Field) -> ColumnElement[Any]:
        """NULL exactly when the run lacks ``field``."""
        if field.source is Source.ATTRIBUTE:
            return self.attribute(field)
        return self.owner(field)

    def attribute(self, field: Field) -> ColumnElement[Any]:
        return self.target_of(field).attribute(self, field.key)

    def hinted(self, op: Op, left: ColumnElement[Any], right: ColumnElement[Any]) -> ColumnElement[bool]:
        """``left op right``, with SQLite told how selective it is likely to be.

        Without statistics SQLite guesses, and it guessed that ``metrics.acc > 0.5`` narrows
        more than ``params.lr = 0.01``: it then walked half of all runs instead of a sixth.
        An equality usually picks few runs, a range many; ``likelihood()`` says so and leaves
        the term usable by an index. PostgreSQL keeps real statistics and needs no hint.

        Newest-first results are left alone: walking the runs in creation order and stopping
        after a page of matches beats gathering every match and sorting it, unless the filter
        is very rare.
        """
        term = _sql(op, left, right)
        if self.dialect != "sqlite" or not self.sorted_by_value:
            return term
        chance = {Op.EQ: "0.05", Op.NE: "0.9"}.get(op, "0.5")
        return func.likelihood(term, literal_column(chance))

    def compare(self, field: Field, op: Op, value: Value) -> ColumnElement[bool]:
        if field.source is Source.METRIC:
            return self.hinted(op, self.metric(field), literal(float(value)))  # type: ignore[arg-type]
        if field.source is Source.TAG:
            return self.text_term(self.table_for(field).c.value, op, str(value))
        if field.source is Source.ATTRIBUTE:
            kind = self.target.vocabulary.kind(field)
            column = self.attribute(field)
            if kind == "number":
                return _sql(op, column, literal(value))
            if kind == "time":
                return _sql(op, column, literal(time_millis(value, self.now_ms)))
            if kind == "duration":
                return _sql(op, column, literal(duration_millis(value)))
            return _sql(op, self.text(column), literal(value))
        return self.compare_param(field, op, value)

    def compare_param(self, field: Field, op: Op, value: Value) -> ColumnElement[bool]:
        row = self.table_for(field).c
        if isinstance(value, bool):
            matched = and_(row.value_type == "bool", _sql(op, row.value_text, literal("true" if value else "false")))
        elif isinstance(value, int | float):
            matched = and_(row.value_type.in_(_NUMBER_TYPES), self.hinted(op, row.value_number, literal(float(value))))
        else:
            matched = and_(row.value_type == "str", self.text_term(row.value_text, op, str(value)))
        return self.unknown_if_missing(field, matched)

    def text_term(self, column: ColumnElement[Any], op: Op, value: str) -> ColumnElement[bool]:
        """``column op value`` on text; an equality also matches the indexed prefix first, so
        the database can find the value in the index (see schema.VALUE_PREFIX)."""
        term = self.hinted(op, self.text(column), literal(value))
        if op is not Op.EQ:
            return term
        # The bounds are written into the SQL, not bound: SQLite matches an expression index
        # only against the very same expression, literals included.
        indexed = func.substr(column, literal_column("1"), literal_column(str(VALUE_PREFIX)))
        prefix = self.hinted(Op.EQ, indexed, literal(value[:VALUE_PREFIX]))
        return and_(prefix, term)

    def unknown_if_missing(self, field: Field, matched: ColumnElement[bool]) -> ColumnElement[bool]:
        """A run without the key: unknown. With it, but of another kind: false (``matched``)."""
        if (field.scope, field.source, field.key) in self.required:
            return matched  # joined INNER: every row has the key; plain terms stay indexable
        return case((self.owner(field).is_(None), null()), else_=matched)

    def metric(self, field: Field) -> ColumnElement[Any]:
        row = self.table_for(field).c
        return {
            Aggregate.LAST: row.last_value,
            Aggregate.MIN: row.min_value,
            Aggregate.MAX: row.max_value,
            Aggregate.COUNT: row["count"],
        }[field.aggregate]

    def like(self, expr: Like) -> ColumnElement[bool]:
        field = expr.field
        if field.source is Source.PARAM:
            row = self.table_for(field).c
            subject: ColumnElement[Any] = row.value_text
        elif field.source is Source.TAG:
            subject = self.table_for(field).c.value
        else:
            subject = self.attribute(field)
        matched = self.like_term(subject, expr)
        if field.source is Source.PARAM:
            matched = self.unknown_if_missing(field, and_(self.table_for(field).c.value_type == "str", matched))
        return not_(matched) if expr.negated else matched

    def like_term(self, subject: ColumnElement[Any], expr: Like) -> ColumnElement[bool]:
        pattern = literal(expr.pattern)
        if expr.case_insensitive:
            return self.ascii_lower(subject).like(self.ascii_lower(pattern), escape="\\")
        return subject.like(pattern, escape="\\")

    def ascii_lower(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        # SQLite's lower() folds ASCII letters only; PostgreSQL's folds all of Unicode. Folding
        # only ASCII on both keeps ilike the same everywhere.
        if self.dialect == "postgresql":
            return func.translate(expr, _UPPER, _UPPER.lower())
        return func.lower(expr)

    # -- ordering ----------------------------------------------------------------------------

    def sort_parts(self, field: Field, descending: bool) -> list[_SortPart]:
        """The ORDER BY columns of one sort key (mirrors ``evaluate.sort_parts``)."""
        if field.source is Source.PARAM:
            row = self.table_for(field).c
            return [
                _SortPart(self.owner(field), descending, flag_only=True),
                _SortPart(row.value_number, descending),
                _SortPart(self.text(row.value_text), descending, Kind.TEXT),
            ]
        if field.source is Source.METRIC:
            return [_SortPart(self.metric(field), descending)]
        if field.source is Source.TAG:
            return [_SortPart(self.text(self.table_for(field).c.value), descending, Kind.TEXT)]
        column = self.attribute(field)
        if self.target.vocabulary.kind(field) == "text":
            return [_SortPart(self.text(column), descending, Kind.TEXT)]
        return [_SortPart(column, descending)]


def _sql(op: Op, left: ColumnElement[Any], right: ColumnElement[Any]) -> ColumnElement[bool]:
    """``left op right`` as SQL: the operator table the Python evaluator uses, typed for columns."""
    return cast(ColumnElement[bool], op.apply(left, right))


def _needed_for(expr: Expr, outcome: bool) -> set[JoinedKey]:
    """The keys a run must have for ``expr`` to come out as ``outcome`` (true or false).

    A comparison on a missing key is unknown, neither true nor false, so it needs its key
    either way; ``is null`` is true only without the key and false only with it; ``and``,
    ``or`` and ``not`` combine these as three-valued logic does.
    """
    if isinstance(expr, Compare | In | Like):
        if expr.field.source in (Source.ATTRIBUTE, Source.DATASET):  # not joined: nothing to require
            return set()
        return {(expr.field.scope, expr.field.source, expr.field.key)}
    if isinstance(expr, IsNull):
        key: set[JoinedKey] = set()
        if expr.field.source not in (Source.ATTRIBUTE, Source.DATASET):
            key.add((expr.field.scope, expr.field.source, expr.field.key))
        return key if outcome == expr.negated else set()
    if isinstance(expr, Not):
        return _needed_for(expr.operand, not outcome)
    left, right = _needed_for(expr.left, outcome), _needed_for(expr.right, outcome)
    both_needed = isinstance(expr, And) == outcome
    return left | right if both_needed else left & right


_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# -- the statement ---------------------------------------------------------------------------


def _expanded(parts: Sequence[_SortPart], compiler: _Compiler) -> list[_OrderColumn]:
    """ORDER BY columns: for each part its NULL flag (0 before 1), then its value; last the
    tie-breakers, newest first, then by id."""
    columns: list[_OrderColumn] = []
    for part in parts:
        columns.append(_OrderColumn(case((part.expr.is_(None), 1), else_=0), False, SortColumn(Kind.FLAG, False)))
        if not part.flag_only:
            columns.append(_OrderColumn(part.expr, part.descending, SortColumn(part.kind, True)))
    columns.append(_OrderColumn(t.runs.c.start_time, True, SortColumn(Kind.NUMBER, False)))
    columns.append(_OrderColumn(compiler.text(t.runs.c.id), True, SortColumn(Kind.TEXT, False)))
    return columns


#: The store's page-token key, read (or made) only when a token is made or checked.
TokenKey = Callable[[], bytes]


def search_statement(
    project_id: str, query: RunQuery, dialect: str, token_key: TokenKey
) -> tuple[Select[Any], list[_OrderColumn]]:
    """The SELECT of run ids (and their sort values) for ``query``; also its sort columns."""
    compiler = _Compiler(dialect, query.now_ms, query.where, sorted_by_value=bool(query.order))
    where: ColumnElement[bool] = t.runs.c.project_id == project_id
    if not query.include_deleted:
        where = and_(where, t.runs.c.deleted == false())
    if query.where is not None:
        where = and_(where, compiler.predicate(query.where))
    parts: list[_SortPart] = []
    for key in query.order:
        parts.extend(compiler.sort_parts(key.field, key.descending))
    columns = _expanded(parts, compiler)
    if query.page_token is not None:
        values = page_tokens.decode(
            token_key(), _search(project_id, query), query.page_token, [c.holds for c in columns]
        )
        where = and_(where, _after(columns, values))
    labelled = [c.expr.label(f"sort_{i}") for i, c in enumerate(columns)]
    statement = (
        select(t.runs.c.id, *labelled)
        .select_from(compiler.from_clause())
        .where(where)
        .order_by(*(c.expr.desc() if c.descending else c.expr.asc() for c in columns))
        .limit(query.limit + 1)
    )
    return statement, columns


def _after(columns: list[_OrderColumn], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the row whose sort values are ``values``, in ORDER BY order."""
    alternatives = []
    equal_so_far: list[ColumnElement[bool]] = []
    for column, value in zip(columns, values, strict=True):
        if value is not None:
            strictly = column.expr < value if column.descending else column.expr > value
            alternatives.append(and_(*equal_so_far, strictly))
            equal_so_far.append(column.expr == value)
        else:  # the value column of a NULL part: equal among NULLs, nothing after
            equal_so_far.append(column.expr.is_(None))
    return or_(*alternatives) if alternatives else false()


def _search(project_id: str, query: RunQuery) -> page_tokens.Search:
    return page_tokens.Search(project_id, query.where_text, query.order_text, query.include_deleted)


def search_page(
    conn: Any, project_id: str, query: RunQuery, dialect: str, token_key: TokenKey
) -> tuple[list[str], str | None]:
    """Ids of the runs on the requested page, and the token of the next page."""
    statement, columns = search_statement(project_id, query, dialect, token_key)
    rows = conn.execute(statement).all()
    if len(rows) <= query.limit:
        return [row.id for row in rows], None
    last = rows[query.limit - 1]._mapping
    values = [last[f"sort_{i}"] for i in range(len(columns))]
    token = page_tokens.encode(token_key(), _search(project_id, query), values)
    return [row.id for row in rows[: query.limit]], token


# -- grouping --------------------------------------------------------------------------------


def group_statement(project_id: str, query: GroupQuery, dialect: str) -> Select[Any]:
    compiler = _Compiler(dialect, query.now_ms, query.where)
    where: ColumnElement[bool] = t.runs.c.project_id == project_id
    if not query.include_deleted:
        where = and_(where, t.runs.c.deleted == false())
    if query.where is not None:
        where = and_(where, compiler.predicate(query.where))
    field = query.group_by
    if field.source is Source.PARAM:
        row = compiler.table_for(field).c
        # A param logged as None falls in one group with the runs that never logged it.
        kind = case((row.value_type == "none", null()), else_=row.value_type)
        keys: list[ColumnElement[Any]] = [kind, row.value_text]
    elif field.source is Source.TAG:
        keys = [compiler.table_for(field).c.value]
    elif field.source is Source.ATTRIBUTE:
        keys = [compiler.attribute(field)]
    else:
        raise InvalidQuery.at("runs are grouped by a param, a tag or an attribute, not a metric", "", 0)
    aggregates: list[ColumnElement[Any]] = [func.count().label("runs")]
    if query.metric is not None:
        value = compiler.metric(query.metric)
        aggregates += [func.avg(value).label("mean"), func.min(value).label("min"), func.max(value).label("max")]
    return (
        select(*(k.label(f"key_{i}") for i, k in enumerate(keys)), *aggregates)
        .select_from(compiler.from_clause())
        .where(where)
        .group_by(*keys)
        .order_by(func.count().desc(), *keys)
    )


def groups_from_rows(rows: Sequence[Any], query: GroupQuery) -> list[RunGroup]:
    groups = []
    for row in rows:
        m = row._mapping
        if query.group_by.source is Source.PARAM:
            value = None if m["key_0"] is None else decode_param(m["key_0"], m["key_1"])
        else:
            value = m["key_0"]
        has_metric = query.metric is not None
        groups.append(
            RunGroup(
                value=value,
                count=m["runs"],
                mean=None if not has_metric or m["mean"] is None else float(m["mean"]),
                min=None if not has_metric or m["min"] is None else float(m["min"]),
                max=None if not has_metric or m["max"] is None else float(m["max"]),
            )
        )
    return groups
