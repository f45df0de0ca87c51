"""How a metric chunk's arrays are packed into bytes: raw little-endian int64 and float64.

Raw arrays cost nothing to encode or decode (numpy reads them in place) and store NaN and ±inf
bit for bit, which a REAL column in SQLite cannot (it turns NaN into NULL).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cairn.core.metrics import Float64Array, Int64Array, MetricColumns

_INT64 = np.dtype("<i8")
_FLOAT64 = np.dtype("<f8")


def chunk_row(run_id: str, columns: MetricColumns) -> dict[str, Any]:
    """The ``metric_chunks`` row for one key's points of one batch (at least one point)."""
    values = columns.values
    finite_or_inf = values[~np.isnan(values)]
    return {
        "run_id": run_id,
        "key": columns.key,
        "first_step": int(columns.steps.min()),
        "last_step": int(columns.steps.max()),
        "count": len(columns),
        "min_value": float(finite_or_inf.min()) if finite_or_inf.size else None,
        "max_value": float(finite_or_inf.max()) if finite_or_inf.size else None,
        "steps": columns.steps.astype(_INT64, copy=False).tobytes(),
        "timestamps": columns.timestamps.astype(_INT64, copy=False).tobytes(),
        "values": values.astype(_FLOAT64, copy=False).tobytes(),
    }


def decode_int64(data: bytes) -> Int64Array:
    return np.frombuffer(data, dtype=_INT64).astype(np.int64, copy=False)


def decode_float64(data: bytes) -> Float64Array:
    return np.frombuffer(data, dtype=_FLOAT64).astype(np.float64, copy=False)
