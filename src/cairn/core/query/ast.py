"""The parsed form of a run query: what the parser makes and the SQL compiler reads.

Every node remembers ``position``, the 0-based column in the query text where it starts, so
that a mistake found after parsing (a text value compared with a metric, say) can still point
at its column. Positions are left out of equality: two trees are equal when they mean the same,
wherever their parts were written. :mod:`cairn.core.query.text` writes a tree back as text.
"""

from __future__ import annotations

import dataclasses
import enum
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class Source(enum.StrEnum):
    PARAM = "params"
    METRIC = "metrics"
    TAG = "tags"
    ATTRIBUTE = "attribute"
    #: The dataset versions a run used (``dataset.name``, ``dataset.digest``, ``dataset.context``).
    DATASET = "dataset"


class Aggregate(enum.StrEnum):
    """Which summary of a metric: the value at the last step by default."""

    LAST = "last"
    MIN = "min"
    MAX = "max"
    COUNT = "count"


#: Run attributes a query may name, with the type of their values (the vocabulary of runs,
#: :data:`cairn.core.query.vocabulary.RUNS`).
ATTRIBUTES = {
    "id": "text",
    "name": "text",
    "status": "text",
    "user": "text",
    "project": "text",
    "parent": "text",
    "notes": "text",
    "created": "time",
    "ended": "time",
    "duration": "duration",
}


#: What a query may ask of the datasets a run used; all text.
DATASET_FIELDS = ("name", "digest", "context")


@dataclass(frozen=True, slots=True)
class Field:
    source: Source
    key: str  # the param, metric or tag key, or the attribute's name
    position: int = dataclasses.field(compare=False)
    aggregate: Aggregate = Aggregate.LAST
    #: The related thing the field belongs to, "" for the thing searched itself: a model
    #: version's ``run.params.lr`` is the param ``lr`` of scope "run" (see :mod:`.vocabulary`).
    scope: str = ""


@dataclass(frozen=True, slots=True)
class Duration:
    """A span of time in milliseconds, as written: ``7d``, ``90s``. Negative means "ago"."""

    millis: int
    text: str


#: A literal: a number, text, a boolean, or a duration (``-7d``, ``2h``).
Value = int | float | str | bool | Duration


class Op(enum.StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    def apply(self, left: Any, right: Any) -> Any:
        """``left op right``: a bool on Python values, a SQL expression on SQLAlchemy columns
        (both overload the same operators), so the evaluator and the compiler share one table."""
        return _OPERATORS[self](left, right)


_OPERATORS: dict[Op, Callable[[Any, Any], Any]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


@dataclass(frozen=True, slots=True)
class Compare:
    field: Field
    op: Op
    value: Value
    position: int = dataclasses.field(compare=False)  # of the value, for type errors


@dataclass(frozen=True, slots=True)
class In:
    field: Field
    values: tuple[Value, ...]
    negated: bool
    position: int = dataclasses.field(compare=False)


@dataclass(frozen=True, slots=True)
class Like:
    field: Field
    pattern: str
    case_insensitive: bool
    negated: bool
    position: int = dataclasses.field(compare=False)


@dataclass(frozen=True, slots=True)
class IsNull:
    """``field is null``: the run never logged that key (or the attribute is empty)."""

    field: Field
    negated: bool


@dataclass(frozen=True, slots=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


Expr = Compare | In | Like | IsNull | And | Or | Not


@dataclass(frozen=True, slots=True)
class SortKey:
    field: Field
    descending: bool
