"""Turning a user's (possibly nested) config into typed, flat params.

``{"optimizer": {"name": "adam", "lr": 0.001}}`` becomes ``optimizer.name = "adam"`` and
``optimizer.lr = 0.001``. Values keep their type (int, float, bool, str, or None) so that later
queries compare numbers as numbers; anything else (lists, tuples, objects) is stored as its JSON
or ``str()`` text, which is what a person reading the run expects to see.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from cairn.core.entities import ParamValue
from cairn.core.errors import InvalidValue
from cairn.core.limits import MAX_INT64, MAX_PARAM_VALUE_LENGTH, MIN_INT64, check_key


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, ParamValue]:
    """Flatten nested mappings into dotted keys and type every leaf value."""
    flat: dict[str, ParamValue] = {}
    for raw_key, value in config.items():
        key = f"{prefix}{raw_key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, prefix=f"{key}."))
        else:
            flat[check_key(key, "param")] = typed_param_value(key, value)
    return flat


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
