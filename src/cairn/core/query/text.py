"""Query text from fields, values and trees: the inverse of the parser, and the one place that
says how a field or a literal is written.

- A key is written bare where the lexer reads it back as the same key: dot-separated parts of
  letters, digits, ``_``, ``/`` and ``-`` (``params.optimizer.name``, ``metrics.val/acc``). A
  metric key with a dot of its own is quoted (``metrics."loss.min"``), since a bare last part
  may name an aggregate. Any other key is quoted whole, with ``"`` or, when it holds a ``"``,
  with ``'``; the quote inside is doubled.
- Text is written in single quotes, a quote inside doubled; nothing else is escaped, so a
  newline, a backquote or the word ``or`` stay characters of the text.
- Numbers as Python's ``repr`` writes them (``0.1``, ``-3``, ``1e+300``), booleans as ``true``
  and ``false``, durations as they were written (``-7d``).
- Some values have no literal: NaN and ±inf (the language has no word for them) and text with
  a NUL (refused by the lexer). Writing one raises :class:`NoLiteral`; a caller that builds
  a query from data it does not control offers no link for such a value.

``format_query`` writes a tree in normal form: keywords in lower case, one space between
tokens, ``=`` and ``!=``, field names as above, parentheses only where the tree needs them.
So ``parse_query(format_query(tree)) == tree`` for every tree the parser makes, and
``format_query(parse_query(text)) == text`` for text in normal form (positions aside: they
say where a node was written and are not part of its meaning).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from cairn.core.errors import InvalidQuery
from cairn.core.query.ast import (
    ATTRIBUTES,
    Aggregate,
    And,
    Compare,
    Duration,
    Expr,
    Field,
    In,
    Like,
    Not,
    Op,
    Or,
    SortKey,
    Source,
)

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_/-]+(?:\.[A-Za-z0-9_/-]+)*")


class NoLiteral(ValueError):
    """The query language has no literal for this value."""


# -- fields -------------------------------------------------------------------------------------


def field_text(source: Source | str, key: str, aggregate: Aggregate = Aggregate.LAST, scope: str = "") -> str:
    """The text naming ``key`` of ``source`` (a Source, or "params", "metrics", "tags"), of the
    related thing ``scope`` if given (``run.params.lr``)."""
    if scope:
        return f"{scope}.{field_text(source, key, aggregate)}"
    source = Source(source)
    if source is Source.ATTRIBUTE:
        return key
    if source is Source.DATASET:
        return f"dataset.{key}"
    metric = source is Source.METRIC
    plain = _PLAIN_KEY.fullmatch(key) is not None and not (metric and "." in key)
    if not plain:
        quote = "'" if '"' in key else '"'
        key = quote + key.replace(quote, quote * 2) + quote
    suffix = f".{aggregate.value}" if metric and aggregate is not Aggregate.LAST else ""
    return f"{source.value}.{key}{suffix}"


def format_field(field: Field) -> str:
    return field_text(field.source, field.key, field.aggregate, field.scope)


# -- literals -----------------------------------------------------------------------------------


def literal(value: object) -> str:
    """``value`` as a literal of the query language. Raises NoLiteral."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NoLiteral(f"the query language has no literal for {value!r}")
        return repr(value)
    if isinstance(value, Duration):
        return value.text
    if isinstance(value, str):
        if "\x00" in value:
            raise NoLiteral("the query language has no literal for text with a NUL character")
        return "'" + value.replace("'", "''") + "'"
    raise NoLiteral(f"the query language has no literal for a {type(value).__name__}")


def has_literal(value: object) -> bool:
    try:
        literal(value)
    except NoLiteral:
        return False
    return True


def comparison(field: str, op: str, value: object) -> str:
    """``field op value`` as query text, ``field`` being field text (see :func:`field_text`);
    ``= None`` is ``is null`` and ``!= None`` is ``is not null``. Raises NoLiteral."""
    if value is None and op in ("=", "!="):
        return f"{field} is {'not ' if op == '!=' else ''}null"
    return f"{field} {Op(op).value} {literal(value)}"


def narrowed(query: str, field: str, value: object) -> str | None:
    """``query`` and ``field = value``, as one query in normal form; None when no query can say
    it: a value without a literal, or of a kind the field does not compare with (times and
    durations are grouped by in milliseconds, which their literals are not), or a query or
    field that does not parse."""
    from cairn.core.query.parser import parse_field, parse_query  # the parser writes fields with this module

    try:
        parsed_field = parse_field(field)
        if parsed_field.source is Source.ATTRIBUTE and ATTRIBUTES[parsed_field.key] != "text":
            return None
        condition = parse_query(comparison(format_field(parsed_field), "=", value))
        where = parse_query(query)
    except (NoLiteral, InvalidQuery):
        return None
    assert condition is not None
    return format_query(condition if where is None else And(where, condition))


# -- trees --------------------------------------------------------------------------------------


def format_query(expr: Expr | None) -> str:
    """The text of ``expr`` in normal form; "" for no query (every run)."""
    return "" if expr is None else _format(expr)


def format_order(keys: Iterable[SortKey]) -> str:
    return ", ".join(format_field(key.field) + (" desc" if key.descending else "") for key in keys)


def _format(expr: Expr) -> str:
    # ``or`` and ``and`` group to the left and ``and`` binds tighter: a right operand of the
    # same operator, or an ``or`` under an ``and`` or a ``not``, needs its parentheses.
    if isinstance(expr, Or):
        return f"{_format(expr.left)} or {_wrapped(expr.right, (Or,))}"
    if isinstance(expr, And):
        return f"{_wrapped(expr.left, (Or,))} and {_wrapped(expr.right, (Or, And))}"
    if isinstance(expr, Not):
        return f"not {_wrapped(expr.operand, (Or, And))}"
    field = format_field(expr.field)
    if isinstance(expr, Compare):
        return f"{field} {expr.op.value} {literal(expr.value)}"
    if isinstance(expr, In):
        values = ", ".join(literal(value) for value in expr.values)
        return f"{field} {'not ' if expr.negated else ''}in ({values})"
    if isinstance(expr, Like):
        operator = "ilike" if expr.case_insensitive else "like"
        return f"{field} {'not ' if expr.negated else ''}{operator} {literal(expr.pattern)}"
    return f"{field} is {'not ' if expr.negated else ''}null"


def _wrapped(expr: Expr, needs_parentheses: tuple[type, ...]) -> str:
    text = _format(expr)
    return f"({text})" if isinstance(expr, needs_parentheses) else text
