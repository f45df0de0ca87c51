"""From query text to a checked syntax tree (see docs/query.md for the grammar).

    query     := or_expr
    or_expr   := and_expr ("or" and_expr)*
    and_expr  := not_expr ("and" not_expr)*
    not_expr  := "not" not_expr | "(" or_expr ")" | predicate
    predicate := field op value
               | field ["not"] "in" "(" value ("," value)* ")"
               | field ["not"] ("like" | "ilike") text
               | field "is" ["not"] "null"
    value     := ["-"] number | ["-"] duration | text | "true" | "false"

Beyond the grammar, the parser checks that each comparison makes sense for its field (metrics
are numbers, tags are text, ``created`` is a time…), so that ``metrics.acc > 'high'`` fails here,
pointing at its column, rather than quietly matching nothing. Which fields exist is the
vocabulary's (:mod:`.vocabulary`): runs by default, or registered models and their versions.
"""

from __future__ import annotations

import dataclasses

from cairn.core.errors import InvalidQuery
from cairn.core.limits import MAX_QUERY_LENGTH
from cairn.core.query.ast import (
    DATASET_FIELDS,
    Aggregate,
    And,
    Compare,
    Duration,
    Expr,
    Field,
    In,
    IsNull,
    Like,
    Not,
    Op,
    Or,
    SortKey,
    Source,
    Value,
)
from cairn.core.query.lexer import DURATION_UNITS, Kind, Segment, Token, tokenize
from cairn.core.query.text import format_field
from cairn.core.query.values import parse_instant
from cairn.core.query.vocabulary import RUNS, Vocabulary

_MAX_DEPTH = 100
#: ``and``s and ``or``s in one query: a chain of them is a tree as deep as it is long, and the
#: code that compiles it recurses that deep (1,100 ``or``s overflowed Python's stack: a 500).
_MAX_OPERATORS = 500
_SOURCES = {"params": Source.PARAM, "param": Source.PARAM, "metrics": Source.METRIC, "metric": Source.METRIC,
            "tags": Source.TAG, "tag": Source.TAG}  # fmt: skip
_OPS = {"=": Op.EQ, "==": Op.EQ, "!=": Op.NE, "<>": Op.NE, "<": Op.LT, "<=": Op.LE, ">": Op.GT, ">=": Op.GE}
_AGGREGATES = frozenset(a.value for a in Aggregate)


def parse_query(text: str, vocabulary: Vocabulary = RUNS) -> Expr | None:
    """The tree of ``text``, or None for an empty query (every run, model or version)."""
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQuery.at(f"the query is longer than {MAX_QUERY_LENGTH} characters", text, MAX_QUERY_LENGTH)
    if not text.strip():
        return None
    parser = _Parser(text, vocabulary)
    expr = parser.or_expr()
    parser.expect(Kind.END, "and, or, or the end of the query")
    return expr


def parse_field(text: str) -> Field:
    """A single field, as ``group_by`` takes it."""
    parser = _Parser(text)
    field = parser.field()
    parser.expect(Kind.END, "the end of the field")
    return field


def parse_order(text: str) -> list[SortKey]:
    """``"metrics.acc desc, created"`` → sort keys (ascending unless ``desc``)."""
    keys: list[SortKey] = []
    parser = _Parser(text)
    if parser.peek.kind is Kind.END:
        return keys
    while True:
        field = parser.field()
        if field.source is Source.DATASET:
            raise parser.error("runs cannot be sorted by a dataset field: a run may use several", field.position)
        descending = False
        token = parser.peek
        if token.kind is Kind.FIELD and token.text.lower() in ("asc", "desc"):
            parser.advance()
            descending = token.text.lower() == "desc"
        keys.append(SortKey(field, descending))
        following = parser.expect_one_of((Kind.COMMA, Kind.END), "',' or the end of the sort order")
        if following.kind is Kind.END:
            return keys


class _Parser:
    def __init__(self, text: str, vocabulary: Vocabulary = RUNS) -> None:
        self.text = text
        self.vocabulary = vocabulary
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.operators = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def keyword(self, word: str) -> bool:
        if self.peek.kind is Kind.KEYWORD and self.peek.text == word:
            self.advance()
            return True
        return False

    def expect(self, kind: Kind, wanted: str) -> Token:
        token = self.peek
        if token.kind is not kind:
            raise self.error(f"expected {wanted}, found {_describe(token)}", token.position)
        return self.advance()

    def expect_one_of(self, kinds: tuple[Kind, ...], wanted: str) -> Token:
        token = self.peek
        if token.kind not in kinds:
            raise self.error(f"expected {wanted}, found {_describe(token)}", token.position)
        return self.advance()

    def error(self, message: str, position: int) -> InvalidQuery:
        return InvalidQuery.at(message, self.text, position)

    # -- boolean structure ------------------------------------------------------------------

    def or_expr(self) -> Expr:
        expr = self.and_expr()
        while self.operator("or"):
            expr = Or(expr, self.and_expr())
        return expr

    def and_expr(self) -> Expr:
        expr = self.not_expr()
        while self.operator("and"):
            expr = And(expr, self.not_expr())
        return expr

    def operator(self, word: str) -> bool:
        position = self.peek.position
        if not self.keyword(word):
            return False
        self.operators += 1
        if self.operators > _MAX_OPERATORS:
            raise self.error(f"the query joins more than {_MAX_OPERATORS} conditions with and/or", position)
        return True

    def not_expr(self) -> Expr:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"the query nests deeper than {_MAX_DEPTH} levels", self.peek.position)
        try:
            if self.keyword("not"):
                return Not(self.not_expr())
            if self.peek.kind is Kind.LPAREN:
                self.advance()
                expr = self.or_expr()
                self.expect(Kind.RPAREN, "')'")
                return expr
            return self.predicate()
        finally:
            self.depth -= 1

    # -- predicates -------------------------------------------------------------------------

    def predicate(self) -> Expr:
        field = self.field()
        token = self.peek
        if token.kind is Kind.OP:
            self.advance()
            value_token = self.peek
            value = self.value()
            _check_comparison(self, field, _OPS[token.text], value, value_token.position)
            return Compare(field, _OPS[token.text], value, value_token.position)
        if self.keyword("is"):
            negated = self.keyword("not")
            if not self.keyword("null"):
                raise self.error(f"expected null after 'is', found {_describe(self.peek)}", self.peek.position)
            return IsNull(field, negated)
        negated = self.keyword("not")
        if self.keyword("in"):
            return self.in_list(field, negated, token.position)
        if self.peek.kind is Kind.KEYWORD and self.peek.text in ("like", "ilike"):
            case_insensitive = self.advance().text == "ilike"
            pattern_token = self.peek
            pattern = self.value()
            if not isinstance(pattern, str):
                raise self.error("like and ilike take a text pattern such as 'base%'", pattern_token.position)
            if (len(pattern) - len(pattern.rstrip("\\"))) % 2:
                raise self.error(
                    "a like pattern cannot end with a lone \\ (it escapes the next character)", pattern_token.position
                )
            _check_text_field(self, field, "like")
            return Like(field, pattern, case_insensitive, negated, pattern_token.position)
        wanted = "in, like or ilike" if negated else "an operator (= != < <= > >= in like ilike is)"
        raise self.error(
            f"expected {wanted} after {format_field(field)}, found {_describe(self.peek)}", self.peek.position
        )

    def in_list(self, field: Field, negated: bool, position: int) -> In:
        self.expect(Kind.LPAREN, "'(' after in")
        values: list[Value] = []
        while True:
            value_token = self.peek
            value = self.value()
            _check_comparison(self, field, Op.EQ, value, value_token.position)
            values.append(value)
            if self.peek.kind is Kind.RPAREN:
                self.advance()
                return In(field, tuple(values), negated, position)
            self.expect(Kind.COMMA, "',' or ')'")

    def field(self) -> Field:
        token = self.peek
        if token.kind is not Kind.FIELD:
            raise self.error(f"expected a field ({self.vocabulary.help()}), found {_describe(token)}", token.position)
        self.advance()
        head, rest = token.segments[0], token.segments[1:]
        related = self.vocabulary.related.get(head.text.lower())
        if related is not None and rest:
            scoped = _resolve(self, related, rest[0].text.lower(), rest[1:], token)
            return dataclasses.replace(scoped, scope=head.text.lower())
        return _resolve(self, self.vocabulary, head.text.lower(), rest, token)

    def value(self) -> Value:
        token = self.advance()
        if token.kind is Kind.MINUS:
            number = self.advance()
            if number.kind is Kind.NUMBER:
                return -_number(number.text)
            if number.kind is Kind.DURATION:
                duration = _duration(number.text)
                return Duration(-duration.millis, "-" + duration.text)
            raise self.error(f"expected a number after '-', found {_describe(number)}", number.position)
        if token.kind is Kind.NUMBER:
            return _number(token.text)
        if token.kind is Kind.DURATION:
            return _duration(token.text)
        if token.kind is Kind.STRING:
            return token.text
        if token.kind is Kind.KEYWORD and token.text in ("true", "false"):
            return token.text == "true"
        if token.kind is Kind.FIELD and len(token.segments) == 1:
            raise self.error(f"text values need quotes: '{token.text}'", token.position)
        raise self.error(f"expected a value, found {_describe(token)}", token.position)


def _resolve(parser: _Parser, vocabulary: Vocabulary, name: str, rest: tuple[Segment, ...], token: Token) -> Field:
    """The field ``name.rest…`` of ``vocabulary`` (the head of a related thing's field taken off)."""
    source = _SOURCES.get(name)
    if source is not None and source in vocabulary.sources:
        if not rest:
            raise parser.error(f"{name} needs a key, as in {name}.lr", token.position)
        aggregate = Aggregate.LAST
        last = rest[-1]
        if source is Source.METRIC and len(rest) > 1 and not last.quoted and last.text.lower() in _AGGREGATES:
            aggregate = Aggregate(last.text.lower())
            rest = rest[:-1]
        return Field(source, ".".join(s.text for s in rest), token.position, aggregate)
    if name in ("dataset", "datasets") and Source.DATASET in vocabulary.sources:
        key = ".".join(s.text for s in rest).lower()
        if key not in DATASET_FIELDS:
            known = ", ".join(f"dataset.{f}" for f in DATASET_FIELDS)
            raise parser.error(f"a dataset field is one of {known}", token.position)
        return Field(Source.DATASET, key, token.position)
    if name in vocabulary.attributes and not rest:
        return Field(Source.ATTRIBUTE, name, token.position)
    raise parser.error(f"unknown field {token.text!r}; {parser.vocabulary.help()}", token.position)


def _number(text: str) -> int | float:
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def _duration(text: str) -> Duration:
    unit = "ms" if text.endswith("ms") else text[-1]
    amount = float(text[: -len(unit)])
    return Duration(round(amount * DURATION_UNITS[unit]), text)


def _describe(token: Token) -> str:
    if token.kind is Kind.END:
        return "the end of the query"
    return repr(token.text)


def _check_comparison(parser: _Parser, field: Field, op: Op, value: Value, position: int) -> None:
    """Refuse comparisons that cannot be meant: each source has the value types it holds."""
    kind = _value_kind(value)
    if field.source is Source.METRIC:
        if kind != "number":
            raise parser.error(
                f"{format_field(field)} is a number; it cannot be compared with {_show(value)}", position
            )
    elif field.source is Source.TAG:
        if kind != "text":
            raise parser.error(f"tags hold text; write {format_field(field)} {op.value} '{_show(value)}'", position)
    elif field.source is Source.DATASET:
        if kind != "text":
            raise parser.error(
                f"{format_field(field)} is text; write {format_field(field)} {op.value} '{_show(value)}'", position
            )
    elif field.source is Source.PARAM:
        if kind == "duration":
            raise parser.error(f"params hold numbers, text or booleans, not a duration like {_show(value)}", position)
        if kind == "bool" and op not in (Op.EQ, Op.NE):
            raise parser.error("booleans only compare with = and !=", position)
    else:
        _check_attribute(parser, field, kind, value, position)


def _check_attribute(parser: _Parser, field: Field, kind: str, value: Value, position: int) -> None:
    expected = parser.vocabulary.kind(field)
    if expected == "text" and kind != "text":
        raise parser.error(f"{format_field(field)} is text; write '{_show(value)}'", position)
    if expected == "number" and kind != "number":
        raise parser.error(f"{format_field(field)} is a number; it cannot be compared with {_show(value)}", position)
    if expected == "time" and kind not in ("text", "duration"):
        raise parser.error(
            f"{format_field(field)} is a time: compare it with a date such as '2026-11-01' or an age such as -7d",
            position,
        )
    if expected == "time" and isinstance(value, str) and parse_instant(value) is None:
        raise parser.error(f"{value!r} is not a date; write it as 2026-11-01 or 2026-11-01T14:30", position)
    if expected == "time" and isinstance(value, Duration) and value.millis > 0:
        raise parser.error(f"a time in the past is written with a minus: -{value.text}", position)
    if expected == "duration" and (
        kind not in ("number", "duration") or (isinstance(value, Duration) and value.millis < 0)
    ):
        raise parser.error(
            f"{format_field(field)} is a length of time: compare it with seconds or a span such as 2h", position
        )


def _check_text_field(parser: _Parser, field: Field, what: str) -> None:
    if field.source is Source.METRIC or (field.source is Source.ATTRIBUTE and parser.vocabulary.kind(field) != "text"):
        raise parser.error(f"{what} applies to text; {format_field(field)} is not text", field.position)


def _value_kind(value: Value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, Duration):
        return "duration"
    return "text"


def _show(value: Value) -> str:
    return value.text if isinstance(value, Duration) else str(value)
