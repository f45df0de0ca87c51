"""A model's signature: what it takes and what it gives, and the check made before it predicts.

A schema is either named columns, each with a type (a table: a pandas DataFrame, a list of
dicts), or one tensor with a dtype and a shape (a numpy array; ``-1`` is a dimension of any
size, usually the batch). A signature is an input schema and, when known, an output schema.

Column types are ``boolean``, ``integer``, ``float`` (32 bits), ``double``, ``string``,
``binary`` and ``datetime``. When a model predicts, its input is checked against the input
schema (:func:`enforce`):

- a column the schema names and the input lacks is refused, naming the column;
- a column whose values are of another type is refused, naming the column, unless the change
  is a safe widening: ``integer`` → ``float``/``double``, ``float`` → ``double``;
- a column the schema does not name is dropped (and reported, so the caller warns once), as
  MLflow does: a client that sends more than the model needs keeps working.

Text is a tensor of dtype ``str`` (numpy's name for its unicode type of any width; an
array's own name, ``str320``, carries a width that no later input shares and that ``np.dtype``
cannot read back), bytes one of dtype ``bytes``. A single string, a list of strings, a numpy
``<U…`` array and an object array holding only strings all infer ``str``; a string is one row.
A list that numpy would quietly turn into text (``["x", 3]`` becomes ``["x", "3"]``) is refused
as mixed types; an object array of anything else stays an ``object`` tensor, passed as given.

Pure code: numpy arrays and anything that looks like a data frame (``columns`` and
``__getitem__``); pandas itself is never imported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cairn.core.errors import InvalidInput, SignatureMismatch

COLUMN_TYPES = ("boolean", "integer", "float", "double", "string", "binary", "datetime")

#: Which types a column of each type may be given (besides its own): safe widenings only.
_WIDENS_FROM: dict[str, frozenset[str]] = {
    "float": frozenset({"integer"}),
    "double": frozenset({"integer", "float"}),
}
#: The numpy dtype a column of each type is handed to the model as.
_NUMPY_DTYPES: dict[str, str] = {
    "boolean": "bool",
    "integer": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class ColumnSchema:
    columns: tuple[ColumnSpec, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


@dataclass(frozen=True, slots=True)
class TensorSchema:
    dtype: str  # a numpy dtype name: "float64", "int64", "uint8"…
    shape: tuple[int, ...]  # -1 for a dimension of any size


Schema = ColumnSchema | TensorSchema


@dataclass(frozen=True, slots=True)
class Signature:
    inputs: Schema
    outputs: Schema | None = None


@dataclass(frozen=True, slots=True)
class Enforced:
    """Input that fits the schema: columns in the schema's order, typed as it says (or one
    tensor), and the names of the extra columns that were dropped."""

    columns: dict[str, np.ndarray[Any, Any]] | None
    tensor: np.ndarray[Any, Any] | None
    dropped: tuple[str, ...] = ()


# -- wire form (the manifest's "signature") ----------------------------------------------------


def schema_to_wire(schema: Schema) -> Any:
    if isinstance(schema, ColumnSchema):
        return [{"name": c.name, "type": c.type} for c in schema.columns]
    return {"type": "tensor", "dtype": schema.dtype, "shape": list(schema.shape)}


def signature_to_wire(signature: Signature) -> dict[str, Any]:
    return {
        "inputs": schema_to_wire(signature.inputs),
        "outputs": None if signature.outputs is None else schema_to_wire(signature.outputs),
    }


def schema_from_wire(data: Any, where: str) -> Schema:
    """The schema ``data`` describes; InvalidInput naming ``where`` when it describes none."""
    if isinstance(data, list):
        columns = []
        for index, item in enumerate(data):
            if not isinstance(item, dict) or set(item) != {"name", "type"}:
                raise InvalidInput(f"{where}[{index}] must be an object with exactly 'name' and 'type'")
            name, kind = item["name"], item["type"]
            if not isinstance(name, str) or not name:
                raise InvalidInput(f"{where}[{index}].name must be a non-empty string")
            if kind not in COLUMN_TYPES:
                raise InvalidInput(f"{where}[{index}].type must be one of {', '.join(COLUMN_TYPES)}, got {kind!r}")
            columns.append(ColumnSpec(name, kind))
        if len({c.name for c in columns}) != len(columns):
            raise InvalidInput(f"{where} names a column twice")
        return ColumnSchema(tuple(columns))
    if isinstance(data, dict) and data.get("type") == "tensor" and set(data) == {"type", "dtype", "shape"}:
        dtype, shape = data["dtype"], data["shape"]
        if not isinstance(dtype, str) or not _is_numpy_dtype(dtype):
            raise InvalidInput(f"{where}.dtype must be a numpy dtype name, got {dtype!r}")
        if not isinstance(shape, list) or not all(type(n) is int and (n == -1 or n >= 0) for n in shape):
            raise InvalidInput(f"{where}.shape must be a list of sizes (-1 for any size)")
        return TensorSchema(dtype, tuple(shape))
    raise InvalidInput(f"{where} must be a list of columns or a tensor spec {{type: 'tensor', dtype, shape}}")


def signature_from_wire(data: Any, where: str = "signature") -> Signature:
    if not isinstance(data, dict) or set(data) != {"inputs", "outputs"}:
        raise InvalidInput(f"{where} must be an object with exactly 'inputs' and 'outputs'")
    outputs = data["outputs"]
    return Signature(
        schema_from_wire(data["inputs"], f"{where}.inputs"),
        None if outputs is None else schema_from_wire(outputs, f"{where}.outputs"),
    )


def _is_numpy_dtype(name: str) -> bool:
    try:
        return np.dtype(name).kind in "biufcmMUSO" and np.dtype(name).name == name
    except TypeError:
        return False


# -- inference -----------------------------------------------------------------------------------


def infer_schema(example: Any) -> Schema:
    """The schema of an example input or output: a data frame or a list of dicts gives
    columns, an array (or a list of numbers) a tensor whose first dimension is any size."""
    if _is_frame(example):
        return ColumnSchema(tuple(ColumnSpec(str(name), _column_type(example[name], str(name))) for name in example))
    if isinstance(example, Mapping):
        return ColumnSchema(tuple(ColumnSpec(str(k), _column_type(v, str(k))) for k, v in example.items()))
    if isinstance(example, list) and example and all(isinstance(row, Mapping) for row in example):
        return ColumnSchema(
            tuple(ColumnSpec(name, _column_type(values, name)) for name, values in _rows_to_columns(example).items())
        )
    if _is_series(example):
        example = np.asarray(example)
    if isinstance(example, str | bytes):
        example = [example]  # one text is one row
    array = np.asarray(example)
    if array.ndim == 0:
        raise InvalidInput("an input example must hold rows: a data frame, an array or a list of dicts")
    if array.dtype.kind in "USO":
        return TensorSchema(_text_dtype(example, array), (-1, *array.shape[1:]))
    return TensorSchema(array.dtype.name, (-1, *array.shape[1:]))


def infer_signature(example: Any, output: Any = None) -> Signature:
    return Signature(infer_schema(example), None if output is None else infer_schema(output))


def _text_dtype(example: Any, array: np.ndarray[Any, Any]) -> str:
    """The tensor dtype of an example numpy holds as text, bytes or objects: ``str``,
    ``bytes`` or ``object``; SignatureMismatch when a list mixes text with other values."""
    if not isinstance(example, np.ndarray):
        kinds = _leaf_kinds(example)
        if kinds == {"string"}:
            return "str"
        if kinds == {"binary"}:
            return "bytes"
        if array.dtype.kind in "US":
            # numpy made text of values that were not all text: refused rather than guessed
            raise SignatureMismatch(
                f"the example mixes values of different types ({', '.join(sorted(kinds))}): "
                "give only strings, only bytes or only numbers, or a data frame of typed columns",
                details={"column": None, "reason": "mixed types", "got": sorted(kinds)},
            )
        return "object"
    if array.dtype.kind == "U":
        return "str"
    if array.dtype.kind == "S":
        return "bytes"
    kinds = _leaf_kinds(array)
    return "str" if kinds == {"string"} else "bytes" if kinds == {"binary"} else "object"


def _leaf_kinds(values: Any) -> set[str]:
    """The kinds (as :func:`_python_type` names them, ``missing`` for None) of the values in
    ``values``, nested lists and arrays opened."""
    found: set[str] = set()
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, np.ndarray):
            stack.extend(item.ravel().tolist() if item.dtype.kind == "O" else [item.dtype.type()])
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            found.add("missing" if item is None else _python_type(item))
    return found


def _column_type(values: Any, name: str) -> str:
    """The type of a column's values; SignatureMismatch naming the column when they mix types."""
    kind = _values_type(values)
    if kind is None:
        raise SignatureMismatch(
            f"column {name!r} mixes values of different types", details={"column": name, "reason": "mixed types"}
        )
    return kind


def _values_type(values: Any) -> str | None:
    """The column type of ``values``; "" when there is nothing to tell by (empty or all
    missing), None when they mix types."""
    array = _as_array(values)
    kind = array.dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "float" if array.dtype.itemsize <= 4 else "double"
    if kind == "M":
        return "datetime"
    if kind == "U":
        return "string"
    if kind == "S":
        return "binary"
    found: set[str] = set()
    for value in array.ravel().tolist():
        if value is None or (isinstance(value, float) and value != value):  # missing, or NaN
            continue
        found.add(_python_type(value))
    if found == {"integer", "double"}:
        return "double"
    if len(found) > 1 or "?" in found:
        return None
    return found.pop() if found else ""


def _as_array(values: Any) -> np.ndarray[Any, Any]:
    """``values`` as an array that keeps what each value is: numpy would turn ``[2.5, b""]``
    into bytes and ``["x", 3]`` into strings, hiding the very mismatch the check is for."""
    if isinstance(values, np.ndarray):
        return values
    if isinstance(values, list | tuple):
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    return np.asarray(values)


def _python_type(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | np.integer):
        return "integer"
    if isinstance(value, float | np.floating):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray):
        return "binary"
    if isinstance(value, dt.datetime | dt.date | np.datetime64):
        return "datetime"
    return "?"


# -- enforcement ---------------------------------------------------------------------------------


def enforce(schema: Schema, data: Any) -> Enforced:
    """``data`` checked against ``schema`` and converted to what it promises (see the module
    docstring); SignatureMismatch naming the column otherwise."""
    if isinstance(schema, TensorSchema):
        return Enforced(None, _enforce_tensor(schema, data))
    given = _as_columns(data, schema)
    missing = [name for name in schema.names if name not in given]
    if missing:
        raise SignatureMismatch(
            f"input is missing column {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            details={"column": missing[0], "missing": missing},
        )
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for spec in schema.columns:
        columns[spec.name] = _enforce_column(spec, given[spec.name])
    dropped = tuple(name for name in given if name not in columns)
    return Enforced(columns, None, dropped)


def _enforce_column(spec: ColumnSpec, values: Any) -> np.ndarray[Any, Any]:
    array = _as_array(values)
    got = _values_type(array)
    if got is None or (got and got != spec.type and got not in _WIDENS_FROM.get(spec.type, ())):
        seen = "values of mixed types" if got is None else f"{got} values"
        raise SignatureMismatch(
            f"column {spec.name!r} must hold {spec.type} values, got {seen}",
            details={"column": spec.name, "expected": spec.type, "got": got or "mixed"},
        )
    if spec.type in ("integer", "boolean") and array.dtype.kind == "O" and any(v is None for v in array.ravel()):
        raise SignatureMismatch(
            f"column {spec.name!r} has a missing value; {spec.type} columns cannot",
            details={"column": spec.name, "expected": spec.type, "got": "missing"},
        )
    return array.astype(_NUMPY_DTYPES[spec.type], copy=False)


def _enforce_tensor(schema: TensorSchema, data: Any) -> np.ndarray[Any, Any]:
    if isinstance(data, list) and data and all(isinstance(row, Mapping) for row in data):
        raise SignatureMismatch("the model takes a tensor, not rows of named columns", details={"column": None})
    expected = np.dtype(schema.dtype)
    if expected.kind in "US":
        return _enforce_text_tensor(schema, data)
    array = np.asarray(data.to_numpy() if _is_frame(data) else data)
    if array.dtype != expected and not (
        expected.kind != "O" and array.dtype.kind in "biuf" and np.can_cast(array.dtype, expected, "safe")
    ):
        raise SignatureMismatch(
            f"the input tensor must hold {expected.name}, got {array.dtype.name}",
            details={"column": None, "expected": expected.name, "got": array.dtype.name},
        )
    _check_shape(schema, array)
    return array.astype(expected, copy=False)


def _enforce_text_tensor(schema: TensorSchema, data: Any) -> np.ndarray[Any, Any]:
    """Text (or bytes) for a ``str`` (``bytes``) tensor: a string is one row; a list, a
    ``<U…`` (``|S…``) array, or an object array must hold only strings (bytes). The model
    gets a ``<U…`` array of text, or an object array of bytes (a ``|S…`` array would drop
    trailing NUL bytes)."""
    kind = np.dtype(schema.dtype).kind
    want = "string" if kind == "U" else "binary"
    if _is_frame(data) or _is_series(data):
        data = data.to_numpy()
        if data.ndim == 2 and data.shape[1] == 1 and len(schema.shape) == 1:
            data = data[:, 0]  # a table of one text column (a batch file's): its texts
    if isinstance(data, str | bytes):
        data = [data]
    if isinstance(data, np.ndarray):
        array = data
        ok = array.dtype.kind == kind or (array.dtype.kind == "O" and _leaf_kinds(array) == {want})
    else:
        try:
            array = np.asarray(data, dtype=object)
        except ValueError:
            raise SignatureMismatch(
                "the input tensor must be rows of equal length", details={"column": None, "expected": schema.dtype}
            ) from None
        ok = _leaf_kinds(data) == {want}
    if not ok:
        got = sorted(_leaf_kinds(array))
        raise SignatureMismatch(
            f"the input tensor must hold {schema.dtype} values, got {', '.join(got) or 'nothing'}",
            details={"column": None, "expected": schema.dtype, "got": got},
        )
    _check_shape(schema, array)
    return array.astype(str) if want == "string" else array.astype(object)


def _check_shape(schema: TensorSchema, array: np.ndarray[Any, Any]) -> None:
    if array.ndim != len(schema.shape) or any(
        want not in (-1, got) for want, got in zip(schema.shape, array.shape, strict=True)
    ):
        raise SignatureMismatch(
            f"the input tensor must have shape {_shape_text(schema.shape)}, got {_shape_text(array.shape)}",
            details={"column": None, "expected": list(schema.shape), "got": list(array.shape)},
        )


def _as_columns(data: Any, schema: ColumnSchema) -> dict[str, Any]:
    """The input's columns by name (in the input's order)."""
    if _is_frame(data):
        return {str(name): data[name] for name in data}
    if isinstance(data, Mapping):
        return {str(k): v for k, v in data.items()}
    if isinstance(data, list) and all(isinstance(row, Mapping) for row in data):
        return _rows_to_columns(data)
    array = np.asarray(data)
    if array.ndim == 2 and array.shape[1] == len(schema.columns):
        # An unnamed table as wide as the schema: its columns in the schema's order.
        return {spec.name: array[:, index] for index, spec in enumerate(schema.columns)}
    raise SignatureMismatch(
        f"the model takes the columns {', '.join(schema.names)}: give a data frame, a list of dicts, "
        f"or a 2-D array {len(schema.columns)} wide",
        details={"column": None, "expected": schema.names},
    )


def _rows_to_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """A list of dicts as columns; a key some rows lack makes a column only if all have it,
    else that column is missing from row ``i`` and refused by name."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(str(k) for k in row))
    columns: dict[str, list[Any]] = {}
    for name in names:
        values = []
        for index, row in enumerate(rows):
            if name not in row:
                raise SignatureMismatch(
                    f"row {index} is missing column {name!r}", details={"column": name, "row": index}
                )
            values.append(row[name])
        columns[name] = values
    return columns


def _is_frame(data: Any) -> bool:
    return hasattr(data, "columns") and hasattr(data, "dtypes") and hasattr(data, "to_numpy")


def _is_series(data: Any) -> bool:
    return hasattr(data, "dtype") and hasattr(data, "to_numpy") and not hasattr(data, "columns")


def _shape_text(shape: Iterable[int]) -> str:
    return "(" + ", ".join("any" if n == -1 else str(n) for n in shape) + ")"
