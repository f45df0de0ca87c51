"""MLflow's search grammar, read as MLflow's server reads it: tokens, clauses, ``order_by``.

MLflow parses filters with sqlparse (``mlflow.utils.search_utils``); this reads the same
language without it: clauses ``IDENTIFIER COMPARATOR VALUE`` joined by ``AND`` (MLflow also takes
them with the ``AND`` left out, or doubled, or trailing), identifiers ``TYPE.KEY`` with the key
bare or quoted in backticks or double quotes and taken verbatim, text values in single or double
quotes, also verbatim, ``IN`` lists read as Python literals. What each clause means is
:mod:`.filters`' business; this module only says whether it is well formed, and where not:
every mistake is an :class:`MlflowApiError` (``INVALID_PARAMETER_VALUE``) naming its position.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cairn.core.query.ast import Op
from cairn.server.mlflow.errors import INVALID_PARAMETER_VALUE, MlflowApiError

#: The kinds of field, and how a run filter may spell each (MLflow's aliases).
METRIC, PARAM, TAG, ATTRIBUTE, DATASET = "metric", "parameter", "tag", "attribute", "dataset"
RUN_TYPES = {
    "metric": METRIC, "metrics": METRIC,
    "parameter": PARAM, "parameters": PARAM, "param": PARAM, "params": PARAM,
    "tag": TAG, "tags": TAG,
    "attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "attr": ATTRIBUTE, "run": ATTRIBUTE,
    "dataset": DATASET, "datasets": DATASET,
}  # fmt: skip

#: The comparators MLflow allows on each kind of field.
NUMERIC_COMPARATORS = ("=", "!=", "<", "<=", ">", ">=")
TEXT_COMPARATORS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
ATTRIBUTE_COMPARATORS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
OPS = {"=": Op.EQ, "!=": Op.NE, "<": Op.LT, "<=": Op.LE, ">": Op.GT, ">=": Op.GE}


def invalid(message: str) -> MlflowApiError:
    return MlflowApiError(message, INVALID_PARAMETER_VALUE)


# -- tokens -------------------------------------------------------------------------------------

# sqlparse's spellings, which MLflow's server reads with: a quote inside text is doubled or
# follows a backslash; numbers may start with a minus sign and have an exponent.
_SINGLE = re.compile(r"'(?:''|\\'|[^'])*'")
_DOUBLE = re.compile(r'"(?:""|\\"|[^"])*"')
_BACKTICK = re.compile(r"`(?:``|[^`])*`")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?[eE]-?\d+|\d+\.\d*|\.\d+|\d+)(?!\w)")
_WORD = re.compile(r"[^\W\d]\w*")
_OPERATORS = ("<=", ">=", "!=", "<>", "==", "=", "<", ">")
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "name", "quoted", "string", "number", "keyword", "op", "(", ")", ",", "end"
    text: str  # as written; keywords upper-cased
    position: int
    #: For a name: the identifier's type (None for a bare attribute) and key.
    entity: str | None = None
    key: str = ""


def _tokenize(text: str, what: str) -> list[Token]:
    if (nul := text.find("\x00")) != -1:  # no key or value can hold one (docs/query.md)
        raise syntax_error(what, text, nul, "a NUL character (\\x00) cannot be part of a search")
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
            continue
        start = i
        if char == "'":
            match = _SINGLE.match(text, i)
            if match is None:
                raise syntax_error(what, text, start, "unterminated text: no closing '")
            i = match.end()
            tokens.append(Token("string", match.group(), start))
        elif char in '"`' or _WORD.match(text, i):
            token, i = _identifier(text, i, what)
            tokens.append(token)
        elif match := _NUMBER.match(text, i):
            i = match.end()
            tokens.append(Token("number", match.group(), start))
        elif operator := next((op for op in _OPERATORS if text.startswith(op, i)), None):
            i += len(operator)
            tokens.append(Token("op", operator, start))
        elif char in "(),":
            i += 1
            tokens.append(Token(char, char, start))
        else:
            raise syntax_error(what, text, start, f"unexpected character {char!r}")
    tokens.append(Token("end", "", len(text)))
    return tokens


def _segment(text: str, i: int, what: str) -> tuple[str, bool, int]:
    """One part of an identifier at ``i``: its text, whether it was quoted, and where it ends."""
    char = text[i] if i < len(text) else ""
    if char in ('"', "`"):
        match = (_DOUBLE if char == '"' else _BACKTICK).match(text, i)
        if match is None:
            raise syntax_error(what, text, i, f"unterminated name: no closing {char}")
        return match.group()[1:-1], True, match.end()
    match = _WORD.match(text, i) or re.compile(r"\w+").match(text, i)
    if match is None:
        raise syntax_error(what, text, i, "expected a name after '.'")
    return match.group(), False, match.end()


def _identifier(text: str, i: int, what: str) -> tuple[Token, int]:
    start = i
    first, first_quoted, i = _segment(text, i, what)
    if not text.startswith(".", i):
        if first_quoted:
            return Token("quoted", text[start:i], start, None, first), i
        if first.upper() in _KEYWORDS:
            return Token("keyword", first.upper(), start), i
        return Token("name", first, start, None, first), i
    if first_quoted and text[start] == '"':
        raise syntax_error(what, text, start, "a type of field is written bare or in backticks")
    parts: list[tuple[str, bool]] = []
    while text.startswith(".", i):
        part, quoted, i = _segment(text, i + 1, what)
        parts.append((part, quoted))
    if len(parts) == 1:
        key = parts[0][0]
    elif any(quoted for _, quoted in parts):
        raise syntax_error(what, text, start, "quote the whole key after its type, as in metrics.`a.b`")
    else:
        key = ".".join(part for part, _ in parts)
    return Token("name", text[start:i], start, first, key), i


def syntax_error(what: str, text: str, position: int, message: str) -> MlflowApiError:
    near = text[position : position + 20]
    where = f"at position {position}" + (f" (near {near!r})" if near else " (at the end)")
    return invalid(f"Invalid {what} {text!r}: {message} {where}")


# -- clauses ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clause:
    type: str  # METRIC, PARAM, TAG, ATTRIBUTE or DATASET
    key: str
    comparator: str  # upper case: =, !=, <, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL
    value: str | tuple[str, ...] | None  # text; a number as written; a list; None for IS NULL
    numeric: bool  # whether the value was written as a number
    position: int  # of the field
    comparator_position: int = 0


class ClauseReader:
    """Clauses joined by AND, each ``identifier comparator value``, as MLflow's parser reads."""

    def __init__(self, text: str, types: Mapping[str, str], what: str) -> None:
        self.text, self.types, self.what = text, types, what
        self.tokens = _tokenize(text, what)
        self.index = 0

    def error(self, token: Token, message: str) -> MlflowApiError:
        return syntax_error(self.what, self.text, token.position, message)

    def next(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def clauses(self) -> list[Clause]:
        # MLflow's server reads the comparisons and lets ANDs fall where they may: it takes
        # "a > 1 b > 2", a trailing "and" or a doubled one as it takes "a > 1 and b > 2".
        clauses: list[Clause] = []
        while True:
            token = self.peek
            if token.kind == "keyword" and token.text == "AND":
                self.next()
            elif token.kind == "keyword" and token.text == "OR":
                raise self.error(token, "MLflow's filters join clauses with AND only, not OR")
            elif token.kind == "end":
                return clauses
            else:
                clauses.append(self.clause())

    def field(self) -> tuple[str, str, Token]:
        token = self.next()
        if token.kind not in ("name", "quoted"):
            found = "the end" if token.kind == "end" else repr(token.text)
            raise self.error(token, f"expected a field such as metrics.acc or params.lr, found {found}")
        if token.entity is None:
            return ATTRIBUTE, token.key, token
        entity_type = token.entity
        if entity_type not in self.types:
            valid = sorted(set(self.types))
            raise self.error(token, f"invalid entity type {entity_type!r}; valid types are {valid}")
        return self.types[entity_type], token.key, token

    def clause(self) -> Clause:
        kind, key, token = self.field()
        comparator_token = self.next()
        comparator = comparator_token.text
        if comparator_token.kind == "keyword" and comparator == "NOT" and self.peek.kind == "keyword":
            comparator = f"NOT {self.next().text}"
        elif comparator_token.kind == "keyword" and comparator == "IS":
            negated = self.peek.kind == "keyword" and self.peek.text == "NOT"
            if negated:
                self.next()
            null = self.next()
            if null.kind != "keyword" or null.text != "NULL":
                raise self.error(null, "expected NULL after IS")
            comparator = f"IS {'NOT ' if negated else ''}NULL"
            return Clause(kind, key, comparator, None, False, token.position, comparator_token.position)
        elif comparator_token.kind not in ("op", "keyword") or comparator not in (*OPS, "LIKE", "ILIKE", "IN"):
            raise self.error(comparator_token, "expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN)")
        at = (token.position, comparator_token.position)
        if comparator in ("IN", "NOT IN"):
            return Clause(kind, key, comparator, self.string_list(), False, *at)
        value = self.next()
        if value.kind == "string":
            return Clause(kind, key, comparator, value.text[1:-1], False, *at)
        if value.kind == "quoted" and value.text.startswith('"'):
            return Clause(kind, key, comparator, value.key, False, *at)
        if value.kind == "number":
            return Clause(kind, key, comparator, value.text, True, *at)
        found = "the end" if value.kind == "end" else repr(value.text)
        raise self.error(value, f"expected a value (a number or a quoted string), found {found}")

    def string_list(self) -> tuple[str, ...]:
        opening = self.next()
        if opening.kind != "(":
            raise self.error(opening, "expected a list of quoted strings such as ('a', 'b') after IN")
        values: list[str] = []
        while True:
            token = self.next()
            if token.kind == ")" and values:
                return tuple(values)
            if token.kind not in ("string", "quoted") or token.text.startswith("`"):
                raise self.error(token, "expected a non-empty list of quoted strings")
            try:  # MLflow reads the list as a Python literal
                value = ast.literal_eval(token.text)
            except Exception:  # any failure of the literal is the user's mistake
                raise self.error(token, "this string is not a valid literal") from None
            if not isinstance(value, str):
                raise self.error(token, "expected a non-empty list of quoted strings")
            values.append(value)
            following = self.next()
            if following.kind == ")":
                return tuple(values)
            if following.kind != ",":
                raise self.error(following, "expected ',' or ')' in the list")


def check_clause(clause: Clause, reader: ClauseReader, comparators: Sequence[str], text_value: bool | None) -> None:
    """The comparator and the kind of value MLflow allows for the clause's field."""
    token = Token("name", "", clause.position)
    if clause.comparator not in comparators:
        raise reader.error(
            Token("op", "", clause.comparator_position),
            f"invalid comparator {clause.comparator!r} for this field; use one of {list(comparators)}",
        )
    if clause.value is None or isinstance(clause.value, tuple) or text_value is None:
        return
    if text_value and clause.numeric:
        raise reader.error(token, f"expected a quoted string value, got {clause.value}")
    if not text_value and not clause.numeric:
        raise reader.error(token, f"expected a numeric value, got {clause.value!r}")


def read_order_clause(clause: str, types: Mapping[str, str] = RUN_TYPES) -> tuple[str, str, bool, int]:
    """One ``order_by`` clause: the field's type and key, whether descending, its position."""
    if not isinstance(clause, str):
        raise invalid(f"Invalid order_by clause {clause!r}: it must be a string")
    reader = ClauseReader(clause, types, "order_by clause")
    kind, key, token = reader.field()
    descending = False
    direction = reader.peek
    if direction.kind in ("keyword", "name") and direction.text.upper() in ("ASC", "DESC"):
        reader.next()
        descending = direction.text.upper() == "DESC"
    end = reader.next()
    if end.kind != "end":
        raise reader.error(end, "expected ASC, DESC or the end of the clause")
    return kind, key, descending, token.position
