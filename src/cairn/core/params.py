"""Turning a user's (possibly nested) config into typed, flat params.

``{"optimizer": {"name": "adam", "lr": 0.001}}`` becomes ``optimizer.name = "adam"`` and
``optimizer.lr = 0.001``. Values keep their type (int, float, bool, str, or None) so that later
queries compare numbers as numbers; anything else (lists, tuples, objects) is stored as its JSON
or ``str()`` text, which is what a person reading the run expects to see.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from cairn.core.entities import ParamValue
from cairn.core.errors import InvalidValue
from cairn.core.limits import MAX_CONFIG_DEPTH, MAX_INT64, MAX_PARAM_VALUE_LENGTH, MIN_INT64, check_key


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, ParamValue]:
    """Flatten nested mappings into dotted keys and type every leaf value.

    A config nested more than :data:`MAX_CONFIG_DEPTH` levels is refused (``invalid_value``).
    The walk keeps its own stack rather than recursing, so however deep a config goes it is
    that error, never a ``RecursionError``.
    """
    flat: dict[str, ParamValue] = {}
    # (dotted prefix, the rest of one mapping's items): depth first, in the mapping's order, so
    # a later key wins a clash exactly as it did when this recursed.
    stack: list[tuple[str, Iterator[tuple[Any, Any]]]] = [(prefix, iter(config.items()))]
    while stack:
        prefix, items = stack[-1]
        for raw_key, value in items:
            key = f"{prefix}{raw_key}"
            if isinstance(value, Mapping) and value:
                if len(stack) >= MAX_CONFIG_DEPTH:
                    raise _too_deep(key)
                stack.append((f"{key}.", iter(value.items())))
                break
            if len(stack) + _nesting(value, MAX_CONFIG_DEPTH - len(stack)) > MAX_CONFIG_DEPTH:
                raise _too_deep(key)
            flat[check_key(key, "param")] = typed_param_value(key, value)
        else:
            stack.pop()
    return flat


def _nesting(value: Any, limit: int) -> int:
    """Levels of lists, tuples and mappings in a leaf value (0 for a scalar), counted level by
    level without recursion, and only up to ``limit + 1``: enough to know it is too deep."""
    depth, level = 0, [value]
    while depth <= limit:
        containers = [item for item in level if isinstance(item, list | tuple | Mapping)]
        if not containers:
            return depth
        depth += 1
        level = [inner for c in containers for inner in (c.values() if isinstance(c, Mapping) else c)]
    return depth


def _too_deep(key: str) -> InvalidValue:
    return InvalidValue(
        f"the config is nested more than {MAX_CONFIG_DEPTH} levels deep (at {key[:100]!r})",
        details={"key": key[:100], "limit": MAX_CONFIG_DEPTH},
    )


def typed_param_value(key: str, value: Any) -> ParamValue:
    """The value as one of the param types, refusing text past the documented limit."""
    if value is None or isinstance(value, bool | int):
        typed: ParamValue = value
    elif isinstance(value, float):
        typed = value
    elif isinstance(value, str):
        typed = value
    elif callable(getattr(value, "item", None)) and getattr(value, "ndim", 0) == 0:
        # numpy scalars; a numpy array (ndim > 0) is stored as JSON text like a list
        return typed_param_value(key, value.item())
    else:
        try:
            typed = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
        except TypeError:
            typed = str(value)
    if isinstance(typed, str) and len(typed) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidValue(
            f"param {key!r} is {len(typed)} characters long; the limit is {MAX_PARAM_VALUE_LENGTH}",
            details={"key": key, "limit": MAX_PARAM_VALUE_LENGTH},
        )
    if isinstance(typed, str) and "\x00" in typed:
        # PostgreSQL cannot store NUL in text.
        raise InvalidValue(f"param {key!r} contains a NUL character", details={"key": key})
    if isinstance(typed, int) and not isinstance(typed, bool) and not MIN_INT64 <= typed <= MAX_INT64:
        # Signed 64 bits, like steps: what JSON (orjson) carries, so every backend agrees.
        raise InvalidValue(f"param {key!r} is an integer beyond 64 bits; log it as a string", details={"key": key})
    return typed


def param_type_name(value: ParamValue) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def same_param_value(a: ParamValue, b: ParamValue) -> bool:
    """Whether logging ``b`` over ``a`` is a repeat rather than a change.

    Numbers compare by value (0.1 and 0.10 are one value; 1 and 1.0 too), booleans only with
    booleans, NaN equals NaN.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return a == b
    return type(a) is type(b) and a == b


def encode_param(value: ParamValue) -> tuple[str, str | None]:
    """(type name, text) as stored; the text of None is None."""
    kind = param_type_name(value)
    if value is None:
        return kind, None
    if isinstance(value, bool):
        return kind, "true" if value else "false"
    if isinstance(value, float):
        return kind, repr(value)
    return kind, str(value)


def decode_param(kind: str, text: str | None) -> ParamValue:
    if kind == "none" or text is None:
        return None
    if kind == "bool":
        return text == "true"
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    return text
