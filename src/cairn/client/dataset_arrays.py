"""In-memory arrays as a dataset: what Keras, PyTorch and Lightning train on.

A source is one array, or a tuple, list or dict of arrays that share their first dimension
(``(x, y)``, ``{"x": x, "y": y}``). An array is a numpy array or anything with
``__array__``; a torch tensor is detached and moved to the CPU first (without importing torch
here). :func:`named_arrays` turns a source into ``{name: numpy array}``: one array is named
``"0"``, a tuple's or list's by their position (``"0"``, ``"1"``, …), a dict's by their keys.

The digest (:func:`arrays_digest`) is defined so that anyone can recompute it, and reads the
arrays in chunks, so that a large array is never copied whole.
"""

from __future__ import annotations

import hashlib
import math
import sys
import zipfile
from collections.abc import Mapping
from types import ModuleType
from typing import IO, Any

import numpy as np
import orjson

from cairn.core.errors import InvalidValue

__all__ = [
    "array_profile",
    "array_schema",
    "arrays_digest",
    "is_array_source",
    "named_arrays",
    "write_npz",
]

#: Arrays are hashed this many bytes (rounded to whole rows) at a time: a slice of a strided
#: array is made contiguous one chunk at a time, never the whole array.
CHUNK_BYTES = 16 * 1024 * 1024
#: Numeric arrays with this many dimensions or fewer get min, max and mean in the profile; an
#: image batch (60000×28×28) is left at its dtype and shape, which costs nothing to find.
PROFILE_MAX_DIMENSIONS = 2
_NUMERIC_KINDS = "iuf"
#: A fixed time for every member of a stored .npz, so that the same arrays give the same bytes
#: (and so one blob), whenever they are written.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def is_array_source(source: Any) -> bool:
    """Whether ``source`` is meant as arrays: one array, or a tuple, list or dict (of arrays).
    A pandas DataFrame has ``__array__`` too, but it is a table, described by its columns."""
    pd = sys.modules.get("pandas")
    if isinstance(pd, ModuleType) and isinstance(source, pd.DataFrame):
        return False
    return isinstance(source, np.ndarray | tuple | list | dict) or hasattr(source, "__array__")


def named_arrays(source: Any) -> dict[str, np.ndarray]:
    """``source`` as ``{name: array}``, every array checked: not 0-d, not of object dtype, and
    all with the same first dimension (the rows). Raises InvalidValue otherwise."""
    if isinstance(source, dict):
        if not source:
            raise InvalidValue("a dict of arrays must hold at least one array")
        for key in source:
            if not isinstance(key, str) or not key:
                raise InvalidValue(
                    f"the arrays of a dict are named by their keys, which must be non-empty strings, not {key!r}"
                )
        items = list(source.items())
    elif isinstance(source, tuple | list):
        if not source:
            raise InvalidValue(f"a {type(source).__name__} of arrays must hold at least one array")
        items = [(str(i), item) for i, item in enumerate(source)]
    else:
        items = [("0", source)]
    arrays = {name: _as_array(name, item) for name, item in items}
    rows = {name: array.shape[0] for name, array in arrays.items()}
    if len(set(rows.values())) > 1:
        listed = ", ".join(f"{name!r}: {count}" for name, count in rows.items())
        raise InvalidValue(
            f"the arrays of a dataset must have the same first dimension (rows); got {listed}", details={"rows": rows}
        )
    return arrays


def _as_array(name: str, value: Any) -> np.ndarray:
    array = value if isinstance(value, np.ndarray) else _to_numpy(name, value)
    if array.ndim == 0:
        raise InvalidValue(
            f"dataset array {name!r} is a single value (0-d); an array needs a first dimension, its rows",
            details={"array": name},
        )
    if array.dtype.hasobject:
        raise InvalidValue(
            f"dataset array {name!r} holds Python objects (dtype {array.dtype}), which have no bytes to hash; "
            "convert it to a numeric or string dtype first (e.g. .astype(str))",
            details={"array": name, "dtype": str(array.dtype)},
        )
    return array


def _to_numpy(name: str, value: Any) -> np.ndarray:
    if not hasattr(value, "__array__"):
        raise InvalidValue(
            f"dataset array {name!r} is of type {type(value).__name__}, not an array "
            "(a numpy array, a tensor, or anything with __array__)",
            details={"array": name},
        )
    if callable(getattr(value, "detach", None)) and callable(getattr(value, "cpu", None)):
        value = value.detach().cpu()  # a torch tensor: off the graph, and off the GPU
    try:
        array: np.ndarray = np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as exc:  # torch's bfloat16 has no numpy dtype
        raise InvalidValue(
            f"dataset array {name!r} cannot be read as a numpy array: {exc}", details={"array": name}
        ) from None
    return array


def dtype_descr(array: np.ndarray) -> Any:
    """The dtype as a .npy header writes it: ``"<f4"``, ``"|u1"``, or a list for records."""
    return np.lib.format.dtype_to_descr(array.dtype)


def arrays_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """Hex SHA-256 of arrays' names, dtypes, shapes and values.

    For each array in order of name (as Python sorts strings), it hashes the UTF-8 line
    ``orjson.dumps([name, descr, shape]) + b"\\n"`` (``descr`` the dtype as a .npy header
    writes it, e.g. ``"<f4"``; ``shape`` a list of ints), then the array's bytes in C order.
    The same values in the same dtype and shape give the same digest, however they lie in
    memory (a Fortran-ordered copy or a strided view included).
    """
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = arrays[name]
        digest.update(orjson.dumps([name, dtype_descr(array), list(array.shape)]) + b"\n")
        if array.nbytes == 0:
            continue
        row_bytes = max(array.nbytes // array.shape[0], 1)
        step = max(CHUNK_BYTES // row_bytes, 1)
        for start in range(0, array.shape[0], step):
            # A view when the array is C-contiguous; otherwise a copy of this chunk only.
            chunk = np.ascontiguousarray(array[start : start + step])
            digest.update(chunk.reshape(-1).view(np.uint8).data)
    return digest.hexdigest()


def array_columns(arrays: Mapping[str, np.ndarray]) -> int:
    """The values in one row of all the arrays together: the columns they would be as one flat
    table (x of 60000×28×28 and y of 60000 make 785)."""
    return sum(math.prod(array.shape[1:]) for array in arrays.values())


def array_schema(arrays: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """One entry per array, in the order given: its name, dtype and the shape of one row."""
    return [{"name": name, "type": str(array.dtype), "shape": list(array.shape[1:])} for name, array in arrays.items()]


def array_profile(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Bytes, and for numeric arrays of one or two dimensions their NaN count, min, max and
    mean (over the values that are not NaN; an infinite result is None)."""
    profiles: dict[str, Any] = {}
    for name, array in arrays.items():
        profile: dict[str, Any] = {"bytes": int(array.nbytes)}
        if array.ndim <= PROFILE_MAX_DIMENSIONS and array.dtype.kind in _NUMERIC_KINDS:
            profile.update(_numeric_summary(array))
        profiles[name] = profile
    return {"bytes": sum(p["bytes"] for p in profiles.values()), "arrays": profiles}


def _numeric_summary(array: np.ndarray) -> dict[str, Any]:
    nulls = int(np.count_nonzero(np.isnan(array))) if array.dtype.kind == "f" else 0
    values = array[~np.isnan(array)] if nulls else array  # a copy only when there are NaNs
    if values.size == 0:
        return {"nulls": nulls, "min": None, "max": None, "mean": None}
    with np.errstate(all="ignore"):  # a mean of huge values overflows to inf, reported as None
        return {
            "nulls": nulls,
            "min": _finite(values.min()),
            "max": _finite(values.max()),
            "mean": _finite(values.mean(dtype=np.float64)),
        }


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def write_npz(arrays: Mapping[str, np.ndarray], stream: IO[bytes]) -> None:
    """The arrays as an uncompressed ``.npz`` that ``np.load`` reads back by name (no pickles:
    object arrays are refused before). Members carry a fixed time, so the same arrays give
    the same bytes; numpy writes each array in chunks, so none is copied whole."""
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            with archive.open(member, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, array, allow_pickle=False)
