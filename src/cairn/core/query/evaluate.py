"""The meaning of a query, in plain Python over Run entities.

This is the reference the SQL compiler must agree with (a property test checks it on SQLite
and PostgreSQL). The rules, which docs/query.md states for users:

- Logic is three-valued, as in SQL: a comparison on a key the run never logged is *unknown*,
  ``not unknown`` is unknown, and only runs for which the whole query is *true* match.
- ``is null`` is true exactly when the run never logged the key (or the attribute is empty).
- A param compares only with a literal of its own kind: numbers (int and float alike, compared
  as 64-bit floats) with numbers, text with text, booleans with booleans. Any other pairing is
  false, not an error, because one key may hold different kinds in different runs.
- Metric values that are NaN compare as unknown. Text compares by code point.
- ``like`` patterns use ``%`` (any run of characters) and ``_`` (one character);
  ``ilike`` ignores the case of ASCII letters.
- Dataset fields are about the run's inputs, of which it may have several or none, and are
  never unknown: ``dataset.name = 'x'`` (and ``<``, ``in``, ``like``…) holds when one of the
  inputs matches; ``!=``, ``not in`` and ``not like`` hold when none does (a run without
  inputs included); ``dataset.name is null`` holds for a run without inputs.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cairn.core.entities import Run
from cairn.core.params import encode_param
from cairn.core.query.ast import (
    ATTRIBUTES,
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
    SortKey,
    Source,
    Value,
)
from cairn.core.query.values import duration_millis, time_millis

_MISSING = object()

#: The datasets a run used, each as {"name", "digest", "context"}.
Inputs = Sequence[Mapping[str, str]]


def matches(expr: Expr | None, run: Run, now_ms: int, inputs: Inputs = ()) -> bool:
    return expr is None or evaluate(expr, run, now_ms, inputs) is True


def evaluate(expr: Expr, run: Run, now_ms: int, inputs: Inputs = ()) -> bool | None:
    """True, False, or None for unknown."""
    if isinstance(expr, And):
        left, right = evaluate(expr.left, run, now_ms, inputs), evaluate(expr.right, run, now_ms, inputs)
        if left is False or right is False:
            return False
        return None if left is None or right is None else True
    if isinstance(expr, Or):
        left, right = evaluate(expr.left, run, now_ms, inputs), evaluate(expr.right, run, now_ms, inputs)
        if left is True or right is True:
            return True
        return None if left is None or right is None else False
    if isinstance(expr, Not):
        inner = evaluate(expr.operand, run, now_ms, inputs)
        return None if inner is None else not inner
    if expr.field.source is Source.DATASET:
        return _dataset_holds(expr, inputs)
    if isinstance(expr, IsNull):
        missing = field_value(expr.field, run) is _MISSING
        return missing != expr.negated
    if isinstance(expr, Compare):
        return _compare(expr.field, expr.op, expr.value, run, now_ms)
    if isinstance(expr, In):
        found: bool | None = False
        for value in expr.values:
            result = _compare(expr.field, Op.EQ, value, run, now_ms)
            if result is True:
                found = True
                break
            if result is None:
                found = None
        if found is None:
            return None
        return found != expr.negated
    assert isinstance(expr, Like)
    stored = field_value(expr.field, run)
    if stored is _MISSING:
        return None
    # A param that is not text does not match (and so matches ``not like``).
    result = isinstance(stored, str) and like(stored, expr.pattern, expr.case_insensitive)
    return result != expr.negated


def _dataset_holds(expr: Compare | In | Like | IsNull, inputs: Inputs) -> bool:
    """Whether a condition on dataset fields holds for a run with these inputs (never unknown)."""
    if isinstance(expr, IsNull):
        return bool(inputs) == expr.negated
    values = [entry[expr.field.key] for entry in inputs]
    if isinstance(expr, Compare):
        if expr.op is Op.NE:
            return not any(value == expr.value for value in values)
        return any(bool(expr.op.apply(value, expr.value)) for value in values)
    if isinstance(expr, In):
        return any(value in expr.values for value in values) != expr.negated
    return any(like(value, expr.pattern, expr.case_insensitive) for value in values) != expr.negated


def field_value(field: Field, run: Run) -> Any:
    """The run's value of ``field``, or ``_MISSING``. NaN metric values count as present."""
    if field.source is Source.PARAM:
        return run.params[field.key] if field.key in run.params else _MISSING
    if field.source is Source.TAG:
        return run.tags.get(field.key, _MISSING)
    if field.source is Source.METRIC:
        summary = run.metrics.get(field.key)
        if summary is None:
            return _MISSING
        return {
            Aggregate.LAST: summary.last,
            Aggregate.MIN: summary.min,
            Aggregate.MAX: summary.max,
            Aggregate.COUNT: summary.count,
        }[field.aggregate]
    return _attribute(field.key, run)


def shown_value(field: Field, run: Run) -> Any:
    """The run's value of ``field`` for display: None where the run has none."""
    value = field_value(field, run)
    return None if value is _MISSING else value


def _attribute(name: str, run: Run) -> Any:
    value: Any = {
        "id": run.id,
        "name": run.name,
        "status": run.status.value,
        "user": run.user,
        "project": run.project,
        "parent": run.parent_id,
        "notes": run.notes,
        "created": run.start_time,
        "ended": run.end_time,
        "duration": run.duration_ms,
    }[name]
    return _MISSING if value is None else value


def _compare(field: Field, op: Op, literal: Value, run: Run, now_ms: int) -> bool | None:
    stored = field_value(field, run)
    if stored is _MISSING:
        return None
    if field.source is Source.METRIC:
        if stored is None or math.isnan(stored):  # min/max of all-NaN, or a NaN last value
            return None
        return bool(op.apply(float(stored), float(literal)))  # type: ignore[arg-type]
    if field.source is Source.ATTRIBUTE:
        kind = ATTRIBUTES[field.key]
        if kind == "time":
            return bool(op.apply(stored, time_millis(literal, now_ms)))
        if kind == "duration":
            return bool(op.apply(stored, duration_millis(literal)))
        return bool(op.apply(stored, literal))
    if field.source is Source.TAG:
        return bool(op.apply(stored, literal))
    return _compare_param(stored, op, literal)


def _compare_param(stored: Any, op: Op, literal: Value) -> bool | None:
    if isinstance(literal, bool) or isinstance(stored, bool):
        return isinstance(literal, bool) and isinstance(stored, bool) and bool(op.apply(stored, literal))
    if isinstance(literal, int | float):
        if not isinstance(stored, int | float):
            return False
        number = float(stored)
        return None if math.isnan(number) else bool(op.apply(number, float(literal)))
    if isinstance(literal, str):
        return isinstance(stored, str) and bool(op.apply(stored, literal))
    return False


def like(text: str, pattern: str, case_insensitive: bool) -> bool:
    """SQL LIKE with ``\\`` as the escape character (``\\%`` is a literal percent sign)."""
    if case_insensitive:
        text, pattern = _fold_ascii(text), _fold_ascii(pattern)
    regex, escaped = [], False
    for char in pattern:
        if escaped:
            regex.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            regex.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.fullmatch("".join(regex), text, flags=re.DOTALL) is not None


def _fold_ascii(text: str) -> str:
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


# -- ordering ---------------------------------------------------------------------------------


def sort_runs(runs: list[Run], keys: list[SortKey]) -> list[Run]:
    """Runs in query order: by each key (missing values last whatever the direction; for
    params, numbers before text), then by creation, newest first, then by id, descending."""

    def compare(a: Run, b: Run) -> int:
        return _compare_runs(a, b, keys)

    return sorted(runs, key=functools.cmp_to_key(compare))


def _compare_runs(a: Run, b: Run, keys: list[SortKey]) -> int:
    for key in keys:
        for a_value, b_value in zip(sort_parts(key.field, a), sort_parts(key.field, b), strict=True):
            # Each part is missing (None, sorted last) or a value ordered by the key's direction.
            if a_value is None or b_value is None:
                if (a_value is None) != (b_value is None):
                    return 1 if a_value is None else -1
                continue
            if a_value != b_value:
                less = a_value < b_value
                return (1 if less else -1) if key.descending else (-1 if less else 1)
    if a.start_time != b.start_time:
        return -1 if a.start_time > b.start_time else 1
    return (a.id < b.id) - (a.id > b.id)


def sort_parts(field: Field, run: Run) -> tuple[Any, ...]:
    """The values a run is ordered by for ``field``, the same parts the SQL orders by.

    A part is None when missing. A metric whose value is NaN counts as missing. A param sorts
    by its number (booleans as 0 and 1) and then its stored text, so numbers come before text.
    """
    value = field_value(field, run)
    if field.source is Source.PARAM and value is not _MISSING and value is None:
        return (True, None, None)  # logged as None: present, after every number and text
    if value is _MISSING or value is None:
        return (None, None, None) if field.source is Source.PARAM else (None,)
    if field.source is Source.METRIC:
        return (None if math.isnan(value) else float(value),)
    if field.source is Source.PARAM:
        number = float(value) if isinstance(value, bool | int | float) else None
        if number is not None and math.isnan(number):
            number = None
        _, text = encode_param(value)
        return (True, number, text)
    return (value,)
