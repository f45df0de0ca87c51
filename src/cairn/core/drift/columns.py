"""Turning Arrow columns into what the statistics read: finite float64 values, or category counts.

Both the reference and every window go through these, so that a value is named and counted the
same way on both sides (an integer category ``1`` is ``"1"`` whether it came as int64 or as
float64 ``1.0``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cairn.core.errors import InvalidValue

#: Distinct values above which a numeric column is numeric, else categorical (Evidently's 5).
CATEGORICAL_MAX_DISTINCT = 5


def is_numeric_type(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))


def _all_null(column: pa.ChunkedArray | pa.Array) -> bool:
    # A column whose every value is null, read from Parquet or built from Python, has Arrow's
    # null type: a feature with no values in this window, not a feature of the wrong type.
    return bool(pa.types.is_null(column.type))


def is_categorical_type(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_dictionary(kind)
    )


def float_values(column: pa.ChunkedArray | pa.Array, feature: str) -> tuple[np.ndarray, int]:
    """The finite values of a numeric column as float64, and how many were missing.

    Nulls, NaN and ±inf are missing: none of them has a place on the line the statistics
    measure along (docs/monitoring.md, "Drift statistics").
    """
    if _all_null(column):
        return np.empty(0), len(column)
    if not is_numeric_type(column.type):
        raise InvalidValue(
            f"feature {feature!r} is numeric in the reference but {column.type} here",
            details={"feature": feature, "type": str(column.type)},
        )
    if not pa.types.is_float64(column.type):
        # Unsafe: integers beyond 2**53 (up to 2**64 - 1) and decimals of many digits become the
        # nearest float64, as precise as a distance over a distribution needs; a safe cast
        # refuses them.
        column = pc.cast(column, pa.float64(), safe=False)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if not chunks:
        return np.empty(0), 0
    # One chunk without nulls converts without a copy; nulls become NaN.
    parts = [chunk.to_numpy(zero_copy_only=False) for chunk in chunks]
    values = parts[0] if len(parts) == 1 else np.concatenate(parts)
    finite = np.isfinite(values)
    kept = int(np.count_nonzero(finite))
    if kept == values.size:
        return values, 0
    return values[finite], values.size - kept


def label(value: Any) -> str:
    """A category's name: numbers that are whole without a decimal point, booleans in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def category_counts(column: pa.ChunkedArray | pa.Array, feature: str) -> tuple[dict[str, int], int]:
    """Counts of each category of a column (by :func:`label`), and how many values were missing
    (nulls, and NaN in a numeric column)."""
    if _all_null(column):
        return {}, len(column)
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = pc.cast(column, kind.value_type)
        kind = kind.value_type
    if not (is_categorical_type(kind) or is_numeric_type(kind)):
        raise InvalidValue(
            f"feature {feature!r} has values of type {kind}, which drift cannot measure",
            details={"feature": feature, "type": str(kind)},
        )
    if len(column) == 0:
        return {}, 0
    counted = pc.value_counts(column)
    values = counted.field("values").to_pylist()
    numbers = counted.field("counts").to_numpy()
    counts: dict[str, int] = {}
    missing = 0
    for value, number in zip(values, numbers.tolist(), strict=True):
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            missing += number
            continue
        name = label(value)
        counts[name] = counts.get(name, 0) + number
    return counts, missing
