"""MLflow's registry searches as Cairn registry queries (docs/query.md): the filters of
``registered-models/search`` and ``model-versions/search``, compiled into the query text Cairn's
registry listing takes, so a search over 10,000 versions is one SQL statement, as Cairn's own.

Registered models: ``name`` (=, !=, LIKE, ILIKE) and ``tags.KEY``. Versions: ``name``,
``version_number`` (numbers), ``run_id`` (=, !=, IN, NOT IN), ``tags.KEY``, ``current_stage``;
``source_path`` is refused (a version's source is its run and folder here).
"""

from __future__ import annotations

from cairn.core.query.ast import Compare, Expr, Field, IsNull, Source
from cairn.server.mlflow.filters import compile_filter, text_condition
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
)

_TYPES = {"attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "tag": TAG, "tags": TAG}
_MODEL_KEYS = ("name",)
PROMPT_TAG = "mlflow.prompt.is_prompt"
#: A condition no model or version meets (each has a name).
_NOTHING: Expr = IsNull(Field(Source.ATTRIBUTE, "name", 0), negated=False)
_VERSION_KEYS = ("name", "version_number", "run_id", "current_stage")


def registered_model_query(filter_string: str | None) -> str:
    """Raises MlflowApiError (INVALID_PARAMETER_VALUE) naming the position of a mistake."""
    return compile_filter(filter_string, _TYPES, _model_condition)


def model_version_query(filter_string: str | None) -> str:
    return compile_filter(filter_string, _TYPES, _version_condition)


def _model_condition(clause: Clause, reader: ClauseReader) -> Expr | None:
    return _condition(clause, reader, versions=False)


def _version_condition(clause: Clause, reader: ClauseReader) -> Expr | None:
    return _condition(clause, reader, versions=True)


def _prompt_condition(clause: Clause) -> Expr | None:
    """MLflow's client adds ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every registry
    search, to leave out its prompts (which MLflow's server keeps as registered models, and
    matches even without the tag). Cairn keeps no prompts: that clause passes every model
    (None: left out), any other on the tag matches none."""
    if clause.comparator == "!=" and clause.value == "true":
        return None
    return _NOTHING


def _condition(clause: Clause, reader: ClauseReader, *, versions: bool) -> Expr | None:
    if clause.type == TAG and clause.key == PROMPT_TAG:
        return _prompt_condition(clause)
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
        return text_condition(Field(Source.ATTRIBUTE, "id", 0, scope="run"), clause)
    check_clause(clause, reader, ATTRIBUTE_COMPARATORS, text_value=True)
    key = "stage" if clause.key == "current_stage" else "name"
    return text_condition(Field(Source.ATTRIBUTE, key, 0), clause)
