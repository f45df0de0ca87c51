"""MLflow's registry searches as Cairn registry queries (docs/query.md): the filters of
``registered-models/search`` and ``model-versions/search``, compiled into the query text Cairn's
registry listing takes, so a search over 10,000 versions is one SQL statement, as Cairn's own.

Registered models: ``name`` (=, !=, LIKE, ILIKE) and ``tags.KEY``. Versions: ``name``,
``version_number`` (numbers), ``run_id`` (=, !=, IN, NOT IN), ``tags.KEY``, ``current_stage``;
``source_path`` is refused (a version's source is its run and folder here).
"""

from __future__ import annotations

from cairn.core.limits import MAX_QUERY_LENGTH
from cairn.core.query.ast import And, Compare, Expr, Field, In, Op, Source
from cairn.core.query.text import format_query
from cairn.server.mlflow.filters import MAX_CLAUSES, text_condition
from cairn.server.mlflow.search_grammar import (
    ATTRIBUTE,
    ATTRIBUTE_COMPARATORS,
    NUMERIC_COMPARATORS,
    OPS,
    TAG,
    TEXT_COMPARATORS,
    Clause,
    ClauseReader,
    Token,
    check_clause,
    invalid,
)

_TYPES = {"attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "tag": TAG, "tags": TAG}
_MODEL_KEYS = ("name",)
PROMPT_TAG = "mlflow.prompt.is_prompt"
#: A query no model or version matches (each has a name).
_NOTHING = "name is null"
_VERSION_KEYS = ("name", "version_number", "run_id", "current_stage")


def registered_model_query(filter_string: str | None) -> str:
    """Raises MlflowApiError (INVALID_PARAMETER_VALUE) naming the position of a mistake."""
    return _query(filter_string, versions=False)


def model_version_query(filter_string: str | None) -> str:
    return _query(filter_string, versions=True)


def _query(filter_string: str | None, *, versions: bool) -> str:
    if not filter_string or not filter_string.strip():
        return ""
    reader = ClauseReader(filter_string, _TYPES, "filter")
    clauses = reader.clauses()
    if len(clauses) > MAX_CLAUSES:
        raise invalid(f"the filter has {len(clauses)} clauses; Cairn takes up to {MAX_CLAUSES}")
    expr: Expr | None = None
    for clause in clauses:
        if _is_prompt_clause(clause):
            if clause.comparator == "!=" and clause.value == "true":
                continue  # no registered model is a prompt: every one passes
            return _NOTHING
        condition = _condition(clause, reader, versions=versions)
        expr = condition if expr is None else And(expr, condition)
    query = format_query(expr)
    if len(query) > MAX_QUERY_LENGTH:
        raise invalid(f"the filter is too long: Cairn takes queries of up to {MAX_QUERY_LENGTH} characters")
    return query


def _is_prompt_clause(clause: Clause) -> bool:
    """MLflow's client adds ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every registry
    search, to leave out its prompts (which MLflow's server keeps as registered models, and
    matches even without the tag). Cairn keeps no prompts."""
    return clause.type == TAG and clause.key == PROMPT_TAG


def _condition(clause: Clause, reader: ClauseReader, *, versions: bool) -> Expr:
    if clause.type == TAG:
        check_clause(clause, reader, TEXT_COMPARATORS, text_value=True)
        return text_condition(Field(Source.TAG, clause.key, 0), clause)
    keys = _VERSION_KEYS if versions else _MODEL_KEYS
    if clause.key not in keys:
        message = f"invalid attribute key {clause.key!r}; Cairn searches by {', '.join(keys)} and tags"
        raise reader.error(Token("name", "", clause.position), message)
    if clause.key == "version_number":
        check_clause(clause, reader, NUMERIC_COMPARATORS, text_value=False)
        return Compare(Field(Source.ATTRIBUTE, "version", 0), OPS[clause.comparator], float(str(clause.value)), 0)
    if clause.key == "run_id":
        check_clause(clause, reader, ("=", "!=", "IN", "NOT IN"), text_value=True)
        field = Field(Source.ATTRIBUTE, "id", 0, scope="run")
        if isinstance(clause.value, tuple):
            return In(field, clause.value, negated=clause.comparator == "NOT IN", position=0)
        return Compare(field, Op.EQ if clause.comparator == "=" else Op.NE, str(clause.value), 0)
    check_clause(clause, reader, ATTRIBUTE_COMPARATORS, text_value=True)
    key = "stage" if clause.key == "current_stage" else "name"
    return text_condition(Field(Source.ATTRIBUTE, key, 0), clause)
