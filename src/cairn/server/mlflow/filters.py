"""MLflow's search filters and ``order_by`` clauses, translated into Cairn's query language.

``mlflow.search_runs(filter_string="metrics.acc > 0.9 and params.lr = '0.1'",
order_by=["metrics.acc DESC"])`` reaches the server as a filter string and a list of clauses;
:func:`translate_run_filter` and :func:`translate_order_by` turn them into query text and
sort text that ``Tracking.list_runs`` takes, so an MLflow search runs as one SQL statement on
Cairn's engine like any other. Experiments are few, so :func:`filter_experiments` and
:func:`sort_experiments` apply MLflow's experiment filters in memory.

MLflow's grammar, as its server reads it (``mlflow.utils.search_utils``, on sqlparse): clauses
``IDENTIFIER COMPARATOR VALUE`` joined by ``AND`` only (no ``OR``, no parentheses, no ``NOT``
of a clause). An identifier is ``TYPE.KEY`` (``metrics``/``metric``, ``params``/``param``/
``parameter(s)``, ``tags``/``tag``, ``attributes``/``attribute``/``attr``/``run``,
``datasets``/``dataset``), the key bare or quoted with backticks or double quotes (its text
taken verbatim between them, as MLflow does), or a bare attribute name. Text values are in
single or double quotes, also taken verbatim (``'it''s'`` is the text ``it''s`` for MLflow,
so for Cairn too); ``IN`` lists are Python literals, as MLflow reads them.

How each MLflow field maps onto Cairn's (docs/query.md, "MLflow's filters"):

- ``metrics.K``: the metric's last value, MLflow's latest (``=``, ``!=``, ``<``…; numbers).
  A NaN last value matches nothing in Cairn; MLflow's server lets it match ``!=``.
- ``params.K``: MLflow params are text. A param an MLflow client logged is stored as that
  text, so ``params.lr = '0.1'`` compares text with text. A param logged through Cairn's SDK
  keeps its type and is shown to MLflow as ``str(value)`` (:func:`mlflow_param_text`), so
  ``=`` and ``!=`` also match a number or boolean whose text is the literal (``'0.1'`` matches
  the float 0.1, ``'True'`` the boolean): numbers compare as 64-bit floats there, so ``'5'``
  also matches a float 5.0. ``LIKE``/``ILIKE`` match params stored as text only.
- ``tags.K``: tags. ``tags.mlflow.runName`` and ``tags.mlflow.user`` are the run's name and
  user (:data:`SYSTEM_TAG_ATTRIBUTES`), as MLflow's server keeps them in step.
- attributes: ``run_id`` → ``id``, ``run_name`` (``run name``) → ``name``, ``user_id`` →
  ``user``, ``status`` → ``status`` (MLflow's upper-case names; ``SCHEDULED`` has no Cairn
  run), ``start_time`` (``created``) → ``created``, ``end_time`` → ``ended``, in milliseconds.
  ``artifact_uri`` is refused: Cairn derives it from the run id.
- ``datasets.name``/``digest``/``context`` → ``dataset.*``: a run matches when one of its
  inputs does, as in MLflow; ``NOT IN`` of more than one value is refused (Cairn's
  ``not in`` means "none of the inputs", MLflow's "one of the inputs is not").
- ``LIKE``: ``%`` and ``_`` as in MLflow, a backslash is an ordinary character; ``ILIKE``
  ignores the case of ASCII letters (as Cairn's does everywhere).

A filter MLflow's server refuses is refused with :class:`MlflowApiError`
(``INVALID_PARAMETER_VALUE``), and the message says where: "at position N".
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from cairn.core.entities import ParamValue, RunStatus
from cairn.core.limits import MAX_QUERY_LENGTH
from cairn.core.query.ast import (
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
    SortKey,
    Source,
    Value,
)
from cairn.core.query.evaluate import like
from cairn.core.query.text import format_order, format_query
from cairn.server.mlflow.errors import INVALID_PARAMETER_VALUE, MlflowApiError

#: MLflow tags that are attributes of a Cairn run.
SYSTEM_TAG_ATTRIBUTES = {"mlflow.runName": "name", "mlflow.user": "user"}
#: MLflow's run statuses, and Cairn's for each (SCHEDULED has none).
MLFLOW_STATUSES = {"RUNNING": RunStatus.RUNNING, "SCHEDULED": None, "FINISHED": RunStatus.FINISHED,
                   "FAILED": RunStatus.FAILED, "KILLED": RunStatus.KILLED}  # fmt: skip

_METRIC, _PARAM, _TAG, _ATTRIBUTE, _DATASET = "metric", "parameter", "tag", "attribute", "dataset"
_TYPES = {
    "metric": _METRIC, "metrics": _METRIC,
    "parameter": _PARAM, "parameters": _PARAM, "param": _PARAM, "params": _PARAM,
    "tag": _TAG, "tags": _TAG,
    "attribute": _ATTRIBUTE, "attributes": _ATTRIBUTE, "attr": _ATTRIBUTE, "run": _ATTRIBUTE,
    "dataset": _DATASET, "datasets": _DATASET,
}  # fmt: skip
_NUMERIC_ATTRIBUTES = {"start_time": "created", "created": "created", "Created": "created", "end_time": "ended"}
_TEXT_ATTRIBUTES = {"run_id": "id", "run_name": "name", "run name": "name", "Run name": "name",
                    "Run Name": "name", "user_id": "user", "status": "status", "artifact_uri": ""}  # fmt: skip
_DATASET_KEYS = ("name", "digest", "context")

_NUMERIC_COMPARATORS = ("=", "!=", "<", "<=", ">", ">=")
_TEXT_COMPARATORS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
_ATTRIBUTE_COMPARATORS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_OPS = {"=": Op.EQ, "!=": Op.NE, "<": Op.LT, "<=": Op.LE, ">": Op.GT, ">=": Op.GE}

#: Clauses in one filter: each becomes at most two conditions (a param's text, and the number
#: or boolean that reads as it), so a filter stays within the 500 a Cairn query may join.
MAX_CLAUSES = 200

_FALSE: Expr = IsNull(Field(Source.ATTRIBUTE, "id", 0), negated=False)  # every run has an id
_MAX_FLOAT = 1.7976931348623157e308


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
class _Token:
    kind: str  # "name", "quoted", "string", "number", "keyword", "op", "(", ")", ",", "end"
    text: str  # as written; keywords upper-cased
    position: int
    #: For a name: the identifier's type (None for a bare attribute) and key.
    entity: str | None = None
    key: str = ""


def _tokenize(text: str, what: str) -> list[_Token]:
    if (nul := text.find("\x00")) != -1:  # no key or value can hold one (docs/query.md)
        raise _error(what, text, nul, "a NUL character (\\x00) cannot be part of a search")
    tokens: list[_Token] = []
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
                raise _error(what, text, start, "unterminated text: no closing '")
            i = match.end()
            tokens.append(_Token("string", match.group(), start))
        elif char in '"`' or _WORD.match(text, i):
            token, i = _identifier(text, i, what)
            tokens.append(token)
        elif match := _NUMBER.match(text, i):
            i = match.end()
            tokens.append(_Token("number", match.group(), start))
        elif operator := next((op for op in _OPERATORS if text.startswith(op, i)), None):
            i += len(operator)
            tokens.append(_Token("op", operator, start))
        elif char in "(),":
            i += 1
            tokens.append(_Token(char, char, start))
        else:
            raise _error(what, text, start, f"unexpected character {char!r}")
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _segment(text: str, i: int, what: str) -> tuple[str, bool, int]:
    """One part of an identifier at ``i``: its text, whether it was quoted, and where it ends."""
    char = text[i] if i < len(text) else ""
    if char in ('"', "`"):
        match = (_DOUBLE if char == '"' else _BACKTICK).match(text, i)
        if match is None:
            raise _error(what, text, i, f"unterminated name: no closing {char}")
        return match.group()[1:-1], True, match.end()
    match = _WORD.match(text, i) or re.compile(r"\w+").match(text, i)
    if match is None:
        raise _error(what, text, i, "expected a name after '.'")
    return match.group(), False, match.end()


def _identifier(text: str, i: int, what: str) -> tuple[_Token, int]:
    start = i
    first, first_quoted, i = _segment(text, i, what)
    if not text.startswith(".", i):
        if first_quoted:
            return _Token("quoted", text[start:i], start, None, first), i
        if first.upper() in _KEYWORDS:
            return _Token("keyword", first.upper(), start), i
        return _Token("name", first, start, None, first), i
    if first_quoted and text[start] == '"':
        raise _error(what, text, start, "a type of field is written bare or in backticks")
    parts: list[tuple[str, bool]] = []
    while text.startswith(".", i):
        part, quoted, i = _segment(text, i + 1, what)
        parts.append((part, quoted))
    if len(parts) == 1:
        key = parts[0][0]
    elif any(quoted for _, quoted in parts):
        raise _error(what, text, start, "quote the whole key after its type, as in metrics.`a.b`")
    else:
        key = ".".join(part for part, _ in parts)
    return _Token("name", text[start:i], start, first, key), i


def _error(what: str, text: str, position: int, message: str) -> MlflowApiError:
    near = text[position : position + 20]
    where = f"at position {position}" + (f" (near {near!r})" if near else " (at the end)")
    return invalid(f"Invalid {what} {text!r}: {message} {where}")


# -- clauses ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Clause:
    type: str  # _METRIC, _PARAM, _TAG, _ATTRIBUTE or _DATASET
    key: str
    comparator: str  # upper case: =, !=, <, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL
    value: str | tuple[str, ...] | None  # text; a number as written; a list; None for IS NULL
    numeric: bool  # whether the value was written as a number
    position: int  # of the field
    comparator_position: int = 0


class _ClauseReader:
    """Clauses joined by AND, each ``identifier comparator value``, as MLflow's parser reads."""

    def __init__(self, text: str, types: Mapping[str, str], what: str) -> None:
        self.text, self.types, self.what = text, types, what
        self.tokens = _tokenize(text, what)
        self.index = 0

    def error(self, token: _Token, message: str) -> MlflowApiError:
        return _error(self.what, self.text, token.position, message)

    def next(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    @property
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def clauses(self) -> list[_Clause]:
        # MLflow's server reads the comparisons and lets ANDs fall where they may: it takes
        # "a > 1 b > 2", a trailing "and" or a doubled one as it takes "a > 1 and b > 2".
        clauses: list[_Clause] = []
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

    def field(self) -> tuple[str, str, _Token]:
        token = self.next()
        if token.kind not in ("name", "quoted"):
            found = "the end" if token.kind == "end" else repr(token.text)
            raise self.error(token, f"expected a field such as metrics.acc or params.lr, found {found}")
        if token.entity is None:
            return _ATTRIBUTE, token.key, token
        entity_type = token.entity
        if entity_type not in self.types:
            valid = sorted(set(self.types))
            raise self.error(token, f"invalid entity type {entity_type!r}; valid types are {valid}")
        return self.types[entity_type], token.key, token

    def clause(self) -> _Clause:
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
            return _Clause(kind, key, comparator, None, False, token.position, comparator_token.position)
        elif comparator_token.kind not in ("op", "keyword") or comparator not in (*_OPS, "LIKE", "ILIKE", "IN"):
            raise self.error(comparator_token, "expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN)")
        at = (token.position, comparator_token.position)
        if comparator in ("IN", "NOT IN"):
            return _Clause(kind, key, comparator, self.string_list(), False, *at)
        value = self.next()
        if value.kind == "string":
            return _Clause(kind, key, comparator, value.text[1:-1], False, *at)
        if value.kind == "quoted" and value.text.startswith('"'):
            return _Clause(kind, key, comparator, value.key, False, *at)
        if value.kind == "number":
            return _Clause(kind, key, comparator, value.text, True, *at)
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


def _check(clause: _Clause, reader: _ClauseReader, comparators: Sequence[str], text_value: bool | None) -> None:
    """The comparator and the kind of value MLflow allows for the clause's field."""
    token = _Token("name", "", clause.position)
    if clause.comparator not in comparators:
        raise reader.error(
            _Token("op", "", clause.comparator_position),
            f"invalid comparator {clause.comparator!r} for this field; use one of {list(comparators)}",
        )
    if clause.value is None or isinstance(clause.value, tuple) or text_value is None:
        return
    if text_value and clause.numeric:
        raise reader.error(token, f"expected a quoted string value, got {clause.value}")
    if not text_value and not clause.numeric:
        raise reader.error(token, f"expected a numeric value, got {clause.value!r}")


# -- runs ---------------------------------------------------------------------------------------


def translate_run_filter(filter_string: str | None) -> str:
    """MLflow's run filter as Cairn query text for ``Tracking.list_runs(where=...)``; "" for
    every run. Raises MlflowApiError (INVALID_PARAMETER_VALUE) for a filter MLflow refuses or
    Cairn cannot answer."""
    expr = run_filter_tree(filter_string)
    query = format_query(expr)
    if len(query) > MAX_QUERY_LENGTH:
        raise invalid(f"the filter is too long: Cairn takes queries of up to {MAX_QUERY_LENGTH} characters")
    return query


def run_filter_tree(filter_string: str | None) -> Expr | None:
    """The tree of :func:`translate_run_filter`."""
    if not filter_string or not filter_string.strip():
        return None
    reader = _ClauseReader(filter_string, _TYPES, "filter")
    clauses = reader.clauses()
    if len(clauses) > MAX_CLAUSES:
        raise invalid(f"the filter has {len(clauses)} clauses; Cairn takes up to {MAX_CLAUSES}")
    expr: Expr | None = None
    for clause in clauses:
        condition = _run_condition(clause, reader)
        expr = condition if expr is None else And(expr, condition)
    return expr


def _run_condition(clause: _Clause, reader: _ClauseReader) -> Expr:
    token = _Token("name", "", clause.position)
    if clause.type == _METRIC:
        _check(clause, reader, _NUMERIC_COMPARATORS, text_value=False)
        return _number_compare(Field(Source.METRIC, clause.key, 0), clause.comparator, float(str(clause.value)))
    if clause.type == _PARAM:
        _check(clause, reader, _TEXT_COMPARATORS, text_value=True)
        return _param_condition(clause)
    if clause.type == _TAG:
        _check(clause, reader, _TEXT_COMPARATORS, text_value=True)
        attribute = SYSTEM_TAG_ATTRIBUTES.get(clause.key)
        field = Field(Source.ATTRIBUTE, attribute, 0) if attribute else Field(Source.TAG, clause.key, 0)
        return _text_condition(field, clause)
    if clause.type == _DATASET:
        if clause.key not in _DATASET_KEYS:
            raise reader.error(token, f"invalid dataset key {clause.key!r}; valid keys are {list(_DATASET_KEYS)}")
        _check(clause, reader, _ATTRIBUTE_COMPARATORS, text_value=True)
        return _dataset_condition(Field(Source.DATASET, clause.key, 0), clause, reader)
    if clause.key in _NUMERIC_ATTRIBUTES:
        _check(clause, reader, _NUMERIC_COMPARATORS, text_value=False)
        field = Field(Source.ATTRIBUTE, _NUMERIC_ATTRIBUTES[clause.key], 0)
        return _time_compare(field, clause.comparator, float(str(clause.value)))
    if clause.key not in _TEXT_ATTRIBUTES:
        valid = sorted({*_NUMERIC_ATTRIBUTES, *_TEXT_ATTRIBUTES} - {"created", "Created", "Run name", "Run Name"})
        raise reader.error(token, f"invalid attribute key {clause.key!r}; valid keys are {valid}")
    _check(clause, reader, _ATTRIBUTE_COMPARATORS, text_value=True)
    if clause.comparator in ("IN", "NOT IN") and clause.key != "run_id":
        raise reader.error(token, "only run_id can be compared with a list of quoted strings")
    if clause.key == "artifact_uri":
        raise reader.error(token, "Cairn does not search runs by artifact_uri; filter on run_id instead")
    if clause.key == "status":
        return _status_condition(clause)
    return _text_condition(Field(Source.ATTRIBUTE, _TEXT_ATTRIBUTES[clause.key], 0), clause)


def _text_condition(field: Field, clause: _Clause) -> Expr:
    value = clause.value
    if clause.comparator in ("IS NULL", "IS NOT NULL"):
        return IsNull(field, negated=clause.comparator == "IS NOT NULL")
    if isinstance(value, tuple):
        return In(field, value, negated=clause.comparator == "NOT IN", position=0)
    assert value is not None
    if clause.comparator in ("LIKE", "ILIKE"):
        return Like(field, cairn_pattern(value), clause.comparator == "ILIKE", negated=False, position=0)
    return Compare(field, _OPS[clause.comparator], value, 0)


def cairn_pattern(mlflow_pattern: str) -> str:
    """A LIKE pattern of MLflow's (no escape character) as Cairn's (``\\`` escapes)."""
    return mlflow_pattern.replace("\\", "\\\\")


def mlflow_param_text(value: ParamValue) -> str:
    """How a param Cairn stored is shown to MLflow, which knows params only as text: as
    ``str()`` writes it, the text MLflow's own client logs for the same value."""
    return str(value)


def _typed_twins(text: str) -> list[Value]:
    """The typed params whose MLflow text (:func:`mlflow_param_text`) is ``text``."""
    if text in ("True", "False"):
        return [text == "True"]
    twins: list[Value] = []
    # An int64 has at most 19 digits (and Python refuses to read past 4,300).
    if re.fullmatch(r"-?\d{1,19}", text) and str(int(text)) == text and -(2**63) <= int(text) < 2**63:
        twins.append(int(text))
    try:
        number = float(text)
    except ValueError:
        return twins
    if math.isfinite(number) and str(number) == text:
        twins.append(number)
    return twins


def _param_condition(clause: _Clause) -> Expr:
    field = Field(Source.PARAM, clause.key, 0)
    if clause.comparator not in ("=", "!="):
        return _text_condition(field, clause)
    assert isinstance(clause.value, str)
    equal: Expr = Compare(field, Op.EQ, clause.value, 0)
    for twin in _typed_twins(clause.value):
        equal = Or(equal, Compare(field, Op.EQ, twin, 0))
    # A run without the param is unknown either way, so "not equal" leaves it out, as MLflow does.
    return equal if clause.comparator == "=" else Not(equal)


def _status_condition(clause: _Clause) -> Expr:
    """A status clause as the set of statuses it selects: MLflow's names are not Cairn's, so
    the comparison (a pattern too) is made here, over the few there are."""
    field = Field(Source.ATTRIBUTE, "status", 0)
    value = clause.value
    assert isinstance(value, str)
    holds: Callable[[str], bool] = {
        "=": lambda name: name == value,
        "!=": lambda name: name != value,
        "LIKE": lambda name: like(name, cairn_pattern(value), case_insensitive=False),
        "ILIKE": lambda name: like(name, cairn_pattern(value), case_insensitive=True),
    }[clause.comparator]
    chosen = tuple(status.value for name, status in MLFLOW_STATUSES.items() if status and holds(name))
    if not chosen:
        return _FALSE
    if len(chosen) == len(RunStatus):
        return IsNull(field, negated=True)
    return In(field, chosen, negated=False, position=0)


def _dataset_condition(field: Field, clause: _Clause, reader: _ClauseReader) -> Expr:
    # Cairn's dataset fields hold when one input matches; MLflow's too, for every comparator:
    # ``!=`` is "an input named otherwise", which Cairn says as "< or >" (each one "some input").
    value = clause.value
    if clause.comparator == "!=":
        assert isinstance(value, str)
        return Or(Compare(field, Op.LT, value, 0), Compare(field, Op.GT, value, 0))
    if clause.comparator == "NOT IN":
        assert isinstance(value, tuple)
        if len(set(value)) > 1:
            token = _Token("name", "", clause.position)
            raise reader.error(token, "Cairn cannot search datasets with NOT IN of several values; use != for one")
        return Or(Compare(field, Op.LT, value[0], 0), Compare(field, Op.GT, value[0], 0))
    return _text_condition(field, clause)


def _number_compare(field: Field, comparator: str, number: float) -> Expr:
    """``field op number``; the query language has no literal for ±inf, so those are said with
    the largest float (x > MAX is x = inf), which is the same on every value but NaN."""
    op = _OPS[comparator]
    if math.isfinite(number):
        return Compare(field, op, number, 0)
    # Mirrored for -inf: "x < -inf" is never true, "x <= -inf" is "x < -MAX"…
    sign = 1.0 if number > 0 else -1.0
    beyond = Compare(field, Op.GT if sign > 0 else Op.LT, sign * _MAX_FLOAT, 0)  # x is inf (-inf)
    within = Compare(field, Op.LE if sign > 0 else Op.GE, sign * _MAX_FLOAT, 0)  # x is anything else
    toward, toward_or_equal = (Op.GT, Op.GE) if sign > 0 else (Op.LT, Op.LE)
    away, away_or_equal = (Op.LT, Op.LE) if sign > 0 else (Op.GT, Op.GE)
    table: dict[Op, Expr] = {toward: _FALSE, toward_or_equal: beyond, Op.EQ: beyond, away: within, Op.NE: within,
                             away_or_equal: Or(within, beyond)}  # fmt: skip
    return table[op]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_MS = int((datetime(1, 1, 2, tzinfo=UTC) - _EPOCH).total_seconds()) * 1000
_LAST_MS = int((datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH).total_seconds()) * 1000


def _time_compare(field: Field, comparator: str, number: float) -> Expr:
    """``created``/``ended`` against milliseconds: Cairn compares times with dates, so the
    number is written as one (to the millisecond, UTC). Times are whole milliseconds, so a
    fraction or a time outside the years 1 to 9999 turns into the comparison it amounts to."""
    op = _OPS[comparator]
    present = IsNull(field, negated=True)
    if not math.isfinite(number) or number > _LAST_MS or number < _FIRST_MS:
        above = number > 0  # the literal lies beyond every time
        holds = {Op.LT: above, Op.LE: above, Op.GT: not above, Op.GE: not above, Op.EQ: False, Op.NE: True}[op]
        return present if holds else _FALSE
    if number != math.floor(number):
        if op is Op.EQ:
            return _FALSE
        if op is Op.NE:
            return present
        # x > 1.5 is x > 1; x >= 1.5 is x > 1; x < 1.5 is x <= 1; x <= 1.5 is x <= 1
        op = {Op.GT: Op.GT, Op.GE: Op.GT, Op.LT: Op.LE, Op.LE: Op.LE}[op]
    return Compare(field, op, time_literal(math.floor(number)), 0)


def time_literal(millis: int) -> str:
    """Milliseconds since the epoch as a date Cairn's query language reads back exactly."""
    return (_EPOCH + timedelta(milliseconds=millis)).isoformat(timespec="milliseconds")


# -- order_by -----------------------------------------------------------------------------------

_ORDER_ATTRIBUTES = {"start_time": "created", "created": "created", "Created": "created", "end_time": "ended",
                     "run_id": "id", "run_name": "name", "user_id": "user", "status": "status"}  # fmt: skip


def translate_order_by(order_by: Sequence[str] | None) -> str:
    """MLflow's ``order_by`` clauses as Cairn's sort text for ``Tracking.list_runs(order_by=...)``.

    MLflow orders ties by start time, newest first (unless ``start_time`` was named), then by
    run id ascending; both are added here, so the order is MLflow's to the last run. Missing
    values sort last either way, as in MLflow; a NaN metric sorts with them (MLflow puts NaN
    just before the missing ones)."""
    keys: list[SortKey] = []
    seen: set[tuple[str, str]] = set()
    named_before: set[tuple[str, str]] = set()
    for clause in order_by or ():
        kind, key, descending, position = _order_clause(clause)
        if kind == _ATTRIBUTE:
            if key not in _ORDER_ATTRIBUTES:
                valid = sorted({*_ORDER_ATTRIBUTES, "artifact_uri"} - {"Created"})
                raise _error(
                    "order_by clause", clause, position, f"invalid attribute key {key!r}; valid keys are {valid}"
                )
            field = Field(Source.ATTRIBUTE, _ORDER_ATTRIBUTES[key], 0)
        elif kind == _METRIC:
            field = Field(Source.METRIC, key, 0)
        elif kind == _PARAM:
            field = Field(Source.PARAM, key, 0)
        elif kind == _TAG:
            attribute = SYSTEM_TAG_ATTRIBUTES.get(key)
            field = Field(Source.ATTRIBUTE, attribute, 0) if attribute else Field(Source.TAG, key, 0)
        else:
            raise _error("order_by clause", clause, position, "runs cannot be ordered by a dataset field")
        named = (kind, field.key if kind == _ATTRIBUTE else key)  # as MLflow tells fields apart
        if named in named_before:
            raise invalid(f"`order_by` contains duplicate fields: {list(order_by or ())}")
        named_before.add(named)
        if (field.source, field.key) not in seen:  # tags.mlflow.user after user_id orders nothing more
            seen.add((field.source, field.key))
            keys.append(SortKey(field, descending))
    if (Source.ATTRIBUTE, "created") not in seen:
        keys.append(SortKey(Field(Source.ATTRIBUTE, "created", 0), descending=True))
    if (Source.ATTRIBUTE, "id") not in seen:
        keys.append(SortKey(Field(Source.ATTRIBUTE, "id", 0), descending=False))
    return format_order(keys)


def _order_clause(clause: str, types: Mapping[str, str] = _TYPES) -> tuple[str, str, bool, int]:
    """One ``order_by`` clause: the field's type and key, whether descending, its position."""
    if not isinstance(clause, str):
        raise invalid(f"Invalid order_by clause {clause!r}: it must be a string")
    reader = _ClauseReader(clause, types, "order_by clause")
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


# -- experiments --------------------------------------------------------------------------------


class ExperimentView(Protocol):
    """What an experiment search reads of an experiment (the route builds one per project)."""

    @property
    def experiment_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def creation_time(self) -> int | None: ...
    @property
    def last_update_time(self) -> int | None: ...
    @property
    def tags(self) -> Mapping[str, str]: ...


E = TypeVar("E", bound=ExperimentView)

_EXPERIMENT_TYPES = {"attribute": _ATTRIBUTE, "tag": _TAG, "tags": _TAG}
_EXPERIMENT_NUMERIC = ("creation_time", "last_update_time")
_EXPERIMENT_KEYS = ("name", "experiment_id", *_EXPERIMENT_NUMERIC)


def experiment_filter(filter_string: str | None) -> Callable[[ExperimentView], bool]:
    """MLflow's experiment filter as a predicate over experiments (checked when made, so a bad
    filter fails before any experiment is read). Raises MlflowApiError."""
    if not filter_string or not filter_string.strip():
        return lambda _experiment: True
    reader = _ClauseReader(filter_string, _EXPERIMENT_TYPES, "filter")
    tests = [_experiment_test(clause, reader) for clause in reader.clauses()]
    return lambda experiment: all(test(experiment) for test in tests)


def filter_experiments(experiments: Iterable[E], filter_string: str | None) -> list[E]:
    matches = experiment_filter(filter_string)
    return [experiment for experiment in experiments if matches(experiment)]


def _experiment_test(clause: _Clause, reader: _ClauseReader) -> Callable[[ExperimentView], bool]:
    token = _Token("name", "", clause.position)
    if clause.type == _TAG:
        _check(clause, reader, _TEXT_COMPARATORS, text_value=True)
        key = clause.key
        if clause.comparator in ("IS NULL", "IS NOT NULL"):
            wanted = clause.comparator == "IS NOT NULL"
            return lambda experiment: (key in experiment.tags) == wanted
        text_test = _text_test(clause)
        return lambda experiment: key in experiment.tags and text_test(experiment.tags[key])
    if clause.key not in _EXPERIMENT_KEYS:
        raise reader.error(token, f"invalid attribute key {clause.key!r}; valid keys are {sorted(_EXPERIMENT_KEYS)}")
    key = clause.key
    if key in _EXPERIMENT_NUMERIC:
        _check(clause, reader, _NUMERIC_COMPARATORS, text_value=False)
        number, op = float(str(clause.value)), _OPS[clause.comparator]

        def numeric(experiment: ExperimentView) -> bool:
            value = getattr(experiment, key)
            return value is not None and bool(op.apply(value, number))

        return numeric
    comparators = ("=", "!=", "IN", "NOT IN") if key == "experiment_id" else ("=", "!=", "LIKE", "ILIKE")
    _check(clause, reader, comparators, text_value=True)
    text_test = _text_test(clause)
    return lambda experiment: text_test(str(getattr(experiment, key)))


def _text_test(clause: _Clause) -> Callable[[str], bool]:
    value = clause.value
    if isinstance(value, tuple):
        negated = clause.comparator == "NOT IN"
        return lambda text: (text in value) != negated
    assert isinstance(value, str)
    if clause.comparator in ("LIKE", "ILIKE"):
        pattern, folded = cairn_pattern(value), clause.comparator == "ILIKE"
        return lambda text: like(text, pattern, folded)
    op = _OPS[clause.comparator]
    return lambda text: bool(op.apply(text, value))


def sort_experiments(experiments: Iterable[E], order_by: Sequence[str] | None) -> list[E]:
    """Experiments in MLflow's order: by each clause (missing values last), then by id, highest
    first; with no clauses, newest first, then by id. Raises MlflowApiError."""
    keys: list[tuple[str, bool]] = []
    for clause in order_by or ("creation_time DESC", "experiment_id ASC"):
        kind, key, descending, position = _order_clause(clause, _EXPERIMENT_TYPES)
        if kind != _ATTRIBUTE:
            raise _error("order_by clause", clause, position, "experiments are ordered by attributes only")
        if key not in _EXPERIMENT_KEYS:
            raise _error(
                "order_by clause",
                clause,
                position,
                f"invalid attribute key {key!r}; valid keys are {sorted(_EXPERIMENT_KEYS)}",
            )
        keys.append((key, descending))
    if not any(key == "experiment_id" for key, _ in keys):
        keys.append(("experiment_id", True))
    ordered = list(experiments)
    for key, descending in reversed(keys):  # a stable sort, least significant key first
        present = [e for e in ordered if getattr(e, key) is not None]
        missing = [e for e in ordered if getattr(e, key) is None]
        present.sort(key=_experiment_sort_key(key), reverse=descending)
        ordered = present + missing
    return ordered


def _experiment_sort_key(key: str) -> Callable[[ExperimentView], tuple[int, int | str]]:
    return lambda experiment: _experiment_sort_value(key, getattr(experiment, key))


def _experiment_sort_value(key: str, value: object) -> tuple[int, int | str]:
    # MLflow's experiment ids are numbers; ids that are digits sort as numbers, before others.
    if key == "experiment_id" and isinstance(value, str) and value.isdigit():
        return (0, int(value))
    return (1, value) if isinstance(value, str) else (0, value)  # type: ignore[return-value]
