"""Discussion around runs: comments, saved views of a project's runs, and the field names a
project's runs use (for the dashboard's autocomplete).

A comment is markdown kept exactly as written; turning it into HTML, and escaping it, is the
dashboard's job. The ``@name`` mentions in it are parsed once, when it is written, and kept as
data, so that notifications can be added later without reading every comment again.

A saved view is a named way of looking at a project's runs: a query (docs/query.md), a sort
order, the columns of the table, the metrics to chart and a field to group by. Saving a view
under a name the project already has replaces that view's contents and keeps its id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cairn.core.errors import InvalidQuery, InvalidValue
from cairn.core.limits import MAX_COMMENT_LENGTH, MAX_QUERY_LENGTH, MAX_VIEW_ITEMS, MAX_VIEW_NAME_LENGTH, check_key
from cairn.core.query.ast import Field, Source
from cairn.core.query.parser import parse_field

# Not after a word character, so "ana@example.com" mentions nobody.
_MENTION = re.compile(r"(?<!\w)@([A-Za-z0-9_.-]+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    run_id: str
    author: str
    body: str
    #: Distinct ``@name`` mentions in the body, in order of first appearance.
    mentions: tuple[str, ...]
    created_at: int
    #: None until the comment is edited.
    updated_at: int | None


@dataclass(frozen=True, slots=True)
class SavedView:
    id: str
    project: str
    name: str
    #: A where-expression of the query language; "" means every run.
    query: str
    #: As ``list_runs`` takes it; "" means newest first.
    order_by: str
    #: Fields of the query language ("name", "params.lr", "metrics.val/accuracy"…).
    columns: tuple[str, ...]
    #: Metric keys to chart ("val/accuracy").
    charts: tuple[str, ...]
    #: "" or a field to group runs by ("params.optimizer").
    group_by: str
    created_by: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class ProjectFields:
    """The param, metric and tag keys a project's runs use, each list sorted and distinct."""

    params: list[str]
    metrics: list[str]
    tags: list[str]


def parse_mentions(body: str) -> tuple[str, ...]:
    """The distinct ``@name`` mentions of ``body`` in order of first appearance.

    A name is letters, digits, ``_``, ``.`` and ``-``, not preceded by a word character (an
    email address is no mention); dots ending it end the sentence, not the name.
    """
    found: dict[str, None] = {}
    for match in _MENTION.finditer(body):
        name = match.group(1).rstrip(".")
        if name:
            found.setdefault(name)
    return tuple(found)


def check_comment_body(body: object) -> str:
    """``body`` as given, if it is text with something besides whitespace, within the limit."""
    if not isinstance(body, str):
        raise InvalidValue(f"a comment must be text, got {type(body).__name__}")
    if not body.strip():
        raise InvalidValue("a comment must not be empty")
    if len(body) > MAX_COMMENT_LENGTH:
        raise InvalidValue(
            f"a comment is at most {MAX_COMMENT_LENGTH} characters; this one has {len(body)}",
            details={"limit": MAX_COMMENT_LENGTH, "length": len(body)},
        )
    if "\x00" in body:
        raise InvalidValue("a comment contains a NUL character")
    return body


def check_view_name(name: object) -> str:
    """The view's name without surrounding whitespace: 1 to 200 characters, no control ones."""
    if not isinstance(name, str):
        raise InvalidValue(f"a view's name must be text, got {type(name).__name__}")
    stripped = name.strip()
    if not stripped:
        raise InvalidValue("a view's name must not be empty")
    if len(stripped) > MAX_VIEW_NAME_LENGTH:
        raise InvalidValue(
            f"a view's name is at most {MAX_VIEW_NAME_LENGTH} characters; this one has {len(stripped)}",
            details={"limit": MAX_VIEW_NAME_LENGTH, "length": len(stripped)},
        )
    if _CONTROL.search(stripped):
        raise InvalidValue(f"the view name {stripped!r} contains a control character")
    return stripped


def check_view_text(value: object, what: str) -> str:
    """A query or sort order as text of at most the query language's length."""
    if not isinstance(value, str):
        raise InvalidValue(f"a view's {what} must be text, got {type(value).__name__}")
    if len(value) > MAX_QUERY_LENGTH:
        raise InvalidQuery.at(f"the {what} is longer than {MAX_QUERY_LENGTH} characters", value, MAX_QUERY_LENGTH)
    return value


def check_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """Columns as given, each a field of the query language (params.KEY, metrics.KEY, tags.KEY,
    or an attribute such as ``name``, ``created`` or ``duration``), so that a column sorts with
    ``order_by`` unchanged. Dataset fields are refused: a run may use several datasets, so
    they make no single cell."""
    _check_count(columns, "columns")
    for column in columns:
        if not isinstance(column, str):
            raise InvalidValue(f"a column must be text, got {type(column).__name__}")
        field = _field(column, "column")
        if field.source is Source.DATASET:
            raise _refused(column, "column", "a run may use several datasets, so a dataset field is no column")
    return tuple(columns)


def check_charts(charts: Sequence[str]) -> tuple[str, ...]:
    """Metric keys as given ("val/accuracy", not "metrics.val/accuracy")."""
    _check_count(charts, "charts")
    return tuple(check_key(key, "chart metric") for key in charts)


def check_group_by(group_by: object) -> str:
    """Empty, or a field runs can be grouped by: a param, a tag or an attribute (as ``group_runs``)."""
    if not isinstance(group_by, str):
        raise InvalidValue(f"a view's group_by must be text, got {type(group_by).__name__}")
    if not group_by:
        return group_by
    field = _field(group_by, "group_by")
    if field.source in (Source.METRIC, Source.DATASET):
        why = f"runs are grouped by a param, a tag or an attribute, not a {field.source.value}"
        raise _refused(group_by, "group_by", why)
    return group_by


def _field(text: str, what: str) -> Field:
    try:
        return parse_field(text)
    except InvalidQuery as exc:
        raise InvalidQuery(
            f"{what} {text!r} is not a field: {exc.message}", details={**exc.details, what: text}
        ) from exc


def _refused(text: str, what: str, why: str) -> InvalidQuery:
    return InvalidQuery(f"{what} {text!r}: {why}", details={"query": text, "position": 0, "column": 1, what: text})


def _check_count(items: Sequence[str], what: str) -> None:
    if isinstance(items, str):
        raise InvalidValue(f"a view's {what} are a list of text, not one text")
    if len(items) > MAX_VIEW_ITEMS:
        raise InvalidValue(f"a view has at most {MAX_VIEW_ITEMS} {what}, got {len(items)}")
