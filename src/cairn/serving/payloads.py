"""Request and response shapes of the two serving protocols, to and from model input.

- MLflow's scoring protocol (``POST /invocations``): a JSON object with exactly one of
  ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` (and optional
  ``params``), or a ``text/csv`` body; the answer is ``{"predictions": [...]}``.
- The Open Inference Protocol V2 (KServe, MLServer): ``{"inputs": [{"name", "shape",
  "datatype", "data"}], "parameters"?, "id"?}``; inputs named after the signature's columns
  form a table (MLServer's pandas codec); one 2-D input is rows in the signature's column
  order; the answer is ``{"model_name", "model_version", "id", "outputs": [...]}``.

Parsing only reshapes: the signature check itself is ``cairn.core.models.signature.enforce``,
which the server runs on each request before batching, so one bad request never fails the
others of its batch. What parsing does besides reshaping is undo what the wire cannot say: JSON
has one kind of number, so a number sent for a ``float`` (32-bit) column or a ``float32``
tensor becomes one; an ISO 8601 string sent for a ``datetime`` column becomes a datetime; a
base64 string sent for a ``binary`` column becomes its bytes (as MLflow does). Values that are
of another kind altogether (a string for a number) are left as they came, for ``enforce`` to
refuse by name.

This is the per-request path of the server: no pandas (a frame is only read on the way out),
no imports inside functions, one ``orjson.loads`` per body.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from cairn.core.errors import InvalidRequest, UnsupportedMediaType
from cairn.core.models.signature import ColumnSchema, Signature, TensorSchema

#: The four ways MLflow's ``/invocations`` takes input; a body names exactly one.
MLFLOW_INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
#: V2 datatypes and the numpy dtype each is read as (BYTES: Python strings in an object array).
V2_DATATYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
_DATATYPE_OF_DTYPE = {dtype: name for name, dtype in V2_DATATYPES.items()}
_V2_REQUEST_KEYS = frozenset({"id", "parameters", "inputs", "outputs"})
_V2_INPUT_KEYS = frozenset({"name", "shape", "datatype", "parameters", "data"})
_INT64_MAX = np.iinfo(np.int64).max
_NUMBER_TYPES = frozenset({int, float})
_NUMBER_OR_MISSING = frozenset({int, float, type(None)})


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """One request's input, not yet checked against the signature.

    Exactly one of ``columns`` (a table: column name → values, every column ``rows`` long)
    and ``tensor`` (an array whose first dimension is ``rows``) is set.
    """

    columns: dict[str, Any] | None
    tensor: np.ndarray[Any, Any] | None
    rows: int
    params: dict[str, Any] = field(default_factory=dict)
    #: V2 only: the request's ``id``, echoed in the answer.
    request_id: str | None = None


def _bad(message: str, where: str, **details: Any) -> InvalidRequest:
    return InvalidRequest(message, details={"field": where, **details})


# -- MLflow: /invocations --------------------------------------------------------------------------


def parse_invocations(body: bytes, content_type: str | None, signature: Signature | None) -> ParsedRequest:
    """An MLflow ``/invocations`` body (JSON or CSV, by ``content_type``).

    Raises InvalidRequest (400) naming the field for a malformed body, two MLflow keys or
    none, ragged columns; UnsupportedMediaType (415) for another content type; InvalidRequest
    for a body that is not UTF-8."""
    media_type = _media_type(content_type)
    if media_type == "text/csv":
        return _parse_csv(body, signature)
    document = _load_json(body)
    if not isinstance(document, dict):
        raise _bad(
            f"the body must be a JSON object with exactly one of {', '.join(MLFLOW_INPUT_KEYS)}, "
            f"got a JSON {_json_kind(document)}",
            "body",
        )
    given = [key for key in MLFLOW_INPUT_KEYS if key in document]
    if len(given) != 1:
        found = f"both {given[0]!r} and {given[1]!r}" if len(given) > 1 else "none of them"
        raise _bad(
            f"the body must hold exactly one of {', '.join(MLFLOW_INPUT_KEYS)}; it holds {found}",
            ",".join(given) if given else "body",
            keys=sorted(document),
        )
    unknown = sorted(set(document) - {given[0], "params"})
    if unknown:
        raise _bad(
            f"the body holds {unknown[0]!r}, which is not one of {', '.join(MLFLOW_INPUT_KEYS)} or 'params'",
            unknown[0],
        )
    params = _params(document.get("params"), "params")
    key = given[0]
    value = document[key]
    if key == "dataframe_split":
        parsed = _dataframe_split(value, signature)
    elif key == "dataframe_records":
        parsed = _records(value, key, signature)
    else:
        parsed = _instances(value, key, signature)
    return ParsedRequest(parsed.columns, parsed.tensor, parsed.rows, params)


def _media_type(content_type: str | None) -> str:
    """``application/json`` or ``text/csv`` (JSON when there is no header, as curl's
    ``-d`` without ``-H`` is common); UnsupportedMediaType otherwise, or for a charset other
    than UTF-8 or a parameter MLflow does not take either."""
    if content_type is None or not content_type.strip():
        return "application/json"
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    media_type = media_type.lower()
    if media_type not in ("application/json", "text/csv"):
        raise UnsupportedMediaType(
            f"/invocations takes application/json or text/csv, not {media_type!r}",
            details={"content_type": content_type, "supported": ["application/json", "text/csv"]},
        )
    for parameter in parameters:
        if not parameter:
            continue
        name, _, value = parameter.partition("=")
        name, value = name.strip().lower(), value.strip().strip('"').lower()
        if name != "charset":
            raise UnsupportedMediaType(
                f"the content type's parameter {name!r} is not one /invocations takes (only charset)",
                details={"content_type": content_type},
            )
        if value not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(
                f"/invocations reads UTF-8 only, not charset {value!r}", details={"content_type": content_type}
            )
    return media_type


def _load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson refuses invalid UTF-8, nesting past 1024 levels, NaN and numbers out of range.
        raise _bad(f"the body is not valid UTF-8 JSON: {exc}", "body") from None


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "boolean" if isinstance(value, bool) else "number"


def _params(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(f"{where} must be a JSON object of parameter names to values", where)
    return value


def _dataframe_split(value: Any, signature: Signature | None) -> ParsedRequest:
    where = "dataframe_split"
    if not isinstance(value, dict):
        raise _bad(f"{where} must be an object with 'columns' and 'data' (pandas' split orient)", where)
    unknown = sorted(set(value) - {"columns", "data", "index"})
    if unknown:
        raise _bad(f"{where} holds {unknown[0]!r}; it takes 'columns', 'data' and 'index'", f"{where}.{unknown[0]}")
    data = value.get("data")
    if not isinstance(data, list):
        raise _bad(f"{where}.data must be a list of rows", f"{where}.data")
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise _bad(f"{where}.index must be a list as long as {where}.data ({len(data)} rows)", f"{where}.index")
    if "columns" not in value:
        # No names: rows as an unnamed table, like "inputs".
        return _instances(data, f"{where}.data", signature)
    names = value["columns"]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise _bad(f"{where}.columns must be a list of column names", f"{where}.columns")
    _no_duplicates(names, f"{where}.columns")
    if not data:
        raise _bad(f"{where}.data holds no rows", f"{where}.data")
    width = len(names)
    for number, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            raise _bad(
                f"{where}.data[{number}] must be a list of {width} values, one per column",
                f"{where}.data",
                row=number,
            )
    columns = {name: list(values) for name, values in zip(names, zip(*data, strict=True), strict=True)}
    return _table(columns, len(data), signature)


def _records(value: Any, where: str, signature: Signature | None) -> ParsedRequest:
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise _bad(f"{where} must be a list of objects, one per row", where)
    if not value:
        raise _bad(f"{where} holds no rows", where)
    names = list(value[0])
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for number, row in enumerate(value):
        if len(row) != len(names) or any(name not in row for name in names):
            odd = next((name for name in names if name not in row), None) or next(n for n in row if n not in columns)
            raise _bad(
                f"{where}[{number}] does not have the columns of row 0 (column {odd!r}); "
                "every row must give every column (null for a missing value)",
                odd,
                row=number,
            )
        for name in names:
            columns[name].append(row[name])
    return _table(columns, len(value), signature)


def _instances(value: Any, where: str, signature: Signature | None) -> ParsedRequest:
    """``instances`` or ``inputs``: rows (lists or scalars), records (objects), or an object
    of columns."""
    if isinstance(value, dict):
        return _column_object(value, where, signature)
    if isinstance(value, str) and signature is not None and signature.inputs == TensorSchema("str", (-1,)):
        value = [value]  # one text for a model of texts: one row, as MLflow takes it
    if not isinstance(value, list):
        raise _bad(f"{where} must be a list of rows or an object of columns", where)
    if not value:
        raise _bad(f"{where} holds no rows", where)
    if isinstance(value[0], dict):
        return _records(value, where, signature)
    schema = signature.inputs if signature is not None else None
    if isinstance(schema, ColumnSchema):
        return _rows_as_columns(value, where, schema)
    return _tensor(value, where, schema)


def _column_object(value: dict[str, Any], where: str, signature: Signature | None) -> ParsedRequest:
    """``{"a": [1, 2], "b": [3, 4]}`` (or one row of scalars, ``{"a": 1, "b": 3}``)."""
    if not value:
        raise _bad(f"{where} holds no columns", where)
    schema = signature.inputs if signature is not None else None
    if isinstance(schema, TensorSchema):
        if len(value) != 1:
            raise _bad(f"the model takes one tensor; {where} holds {len(value)} named inputs", where)
        (name, tensor), *_ = value.items()
        return _tensor(tensor, f"{where}.{name}", schema)
    if not any(isinstance(values, list) for values in value.values()):
        return _table({name: [scalar] for name, scalar in value.items()}, 1, signature)
    rows = -1
    for name, values in value.items():
        if not isinstance(values, list):
            raise _bad(f"column {name!r} of {where} must be a list of values like the others", name)
        if rows == -1:
            rows = len(values)
        elif len(values) != rows:
            raise _bad(
                f"column {name!r} of {where} holds {len(values)} values where the first column holds {rows}",
                name,
                expected=rows,
                got=len(values),
            )
    if rows == 0:
        raise _bad(f"{where} holds no rows", where)
    return _table(dict(value), rows, signature)


def _rows_as_columns(rows: list[Any], where: str, schema: ColumnSchema) -> ParsedRequest:
    """Unnamed rows for a model that takes columns: the rows' values in the signature's
    column order (a list of scalars for a one-column signature)."""
    names = schema.names
    if len(names) == 1 and not any(isinstance(value, list) for value in rows):
        return _table({names[0]: list(rows)}, len(rows), Signature(schema))
    width = len(names)
    for number, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise _bad(
                f"{where}[{number}] must be a list of {width} values, one per column of the model "
                f"({', '.join(names)}), or give the columns by name",
                where,
                row=number,
                expected=names,
            )
    columns = {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}
    return _table(columns, len(rows), Signature(schema))


def _table(columns: dict[str, Any], rows: int, signature: Signature | None) -> ParsedRequest:
    schema = signature.inputs if signature is not None else None
    if isinstance(schema, ColumnSchema):
        for spec in schema.columns:
            if spec.name in columns:
                columns[spec.name] = _coerce_column(spec.type, columns[spec.name], spec.name)
    elif isinstance(schema, TensorSchema):
        # Named columns for a model that takes one tensor: the columns side by side, in the
        # order given (enforce then checks the dtype and shape).
        if len(columns) == 1:
            only = next(iter(columns.values()))
            return _tensor(only, next(iter(columns)), schema)
        stacked = _stack_columns(columns)
        return _tensor(stacked, "columns", schema)
    return ParsedRequest(columns, None, rows)


def _stack_columns(columns: dict[str, Any]) -> list[list[Any]]:
    return [list(row) for row in zip(*columns.values(), strict=True)]


def _tensor(data: Any, where: str, schema: TensorSchema | None) -> ParsedRequest:
    """Rows as one array (in the signature's dtype, when the values allow it)."""
    # Objects for a text tensor too: numpy would read ["good", 3] as the text ["good", "3"],
    # hiding from enforce the very number it must refuse.
    as_objects = schema is not None and schema.dtype in ("object", "str", "bytes")
    try:
        array = np.asarray(data, dtype=object if as_objects else None)
    except (ValueError, OverflowError):
        raise _bad(f"{where} must be rows of equal length (a rectangular array)", where) from None
    if array.dtype.kind == "O" and any(isinstance(item, list) for item in array.ravel()):
        # numpy keeps ragged rows as lists inside an array of objects
        raise _bad(f"{where} must be rows of equal length (a rectangular array)", where)
    if array.ndim == 0:
        raise _bad(f"{where} must be a list of rows, not a single value", where)
    if schema is not None:
        array = _to_dtype(array, np.dtype(schema.dtype))
    return ParsedRequest(None, array, int(array.shape[0]))


def _to_dtype(array: np.ndarray[Any, Any], dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """``array`` as ``dtype`` when that only undoes JSON's one kind of number (a number to any
    float; an integer to an integer type it fits); unchanged otherwise, for enforce to refuse."""
    kind = array.dtype.kind
    if array.dtype == dtype:
        return array
    if dtype.kind == "f" and kind in "iuf":
        return array.astype(dtype)
    if dtype.kind in "iu" and kind in "iu" and array.size:
        info = np.iinfo(dtype)
        if info.min <= array.min() and array.max() <= info.max:
            return array.astype(dtype)
    if dtype.kind == "O" and kind in "US":
        return array.astype(object)
    return array


def _coerce_column(kind: str, values: Any, name: str) -> Any:
    """One column's values as its signature type says, when they are of that kind as far as
    the wire can tell (see the module docstring); unchanged otherwise."""
    if isinstance(values, np.ndarray):
        return _coerce_array(kind, values, name)
    if kind in ("double", "float"):
        types = set(map(type, values))
        if types <= _NUMBER_TYPES:
            return np.array(values, dtype=np.float64 if kind == "double" else np.float32)
        if types <= _NUMBER_OR_MISSING:
            return np.array([math.nan if v is None else v for v in values], dtype=np.float64).astype(
                np.float64 if kind == "double" else np.float32
            )
        return values
    if kind == "integer":
        if set(map(type, values)) == {int}:
            try:
                return np.array(values, dtype=np.int64)
            except OverflowError:
                raise _bad(f"column {name!r} holds an integer out of the 64-bit range", name) from None
        return values
    if kind == "boolean":
        return np.array(values, dtype=bool) if set(map(type, values)) == {bool} else values
    if kind == "binary":
        return _base64_column(values, name)
    if kind == "datetime":
        return _datetime_column(values, name)
    return values


def _coerce_array(kind: str, array: np.ndarray[Any, Any], name: str) -> np.ndarray[Any, Any]:
    if kind in ("double", "float") and array.dtype.kind in "iuf":
        return array.astype(np.float64 if kind == "double" else np.float32, copy=False)
    if kind == "integer" and array.dtype.kind == "u" and array.size and array.max() > _INT64_MAX:
        raise _bad(f"column {name!r} holds an integer out of the 64-bit range", name)
    if kind == "binary" and array.dtype.kind == "O":
        return np.array([v.encode("utf-8") if isinstance(v, str) else v for v in array.tolist()], dtype=object)
    if kind == "datetime" and array.dtype.kind == "O":
        return np.asarray(_datetime_column(array.tolist(), name))
    return array


def _base64_column(values: Sequence[Any], name: str) -> Any:
    if not all(isinstance(value, str) or value is None for value in values):
        return values
    try:
        return [None if value is None else base64.b64decode(value, validate=True) for value in values]
    except (binascii.Error, ValueError):
        raise _bad(f"column {name!r} is binary: its values must be base64 strings", name) from None


def _datetime_column(values: Sequence[Any], name: str) -> Any:
    if not all(isinstance(value, str) or value is None for value in values):
        return values
    parsed: list[Any] = []
    for value in values:
        if value is None:
            parsed.append(np.datetime64("NaT"))
            continue
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _bad(f"column {name!r} holds {value[:40]!r}, which is not an ISO 8601 date or time", name) from None
        if moment.tzinfo is not None:  # numpy's datetimes have no time zone: UTC, as pandas does
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        parsed.append(moment)
    return np.array(parsed, dtype="datetime64[ns]")


def _no_duplicates(names: Sequence[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise _bad(f"{where} names column {name!r} twice", where, column=name)
        seen.add(name)


# -- MLflow: text/csv --------------------------------------------------------------------------------

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def _parse_csv(body: bytes, signature: Signature | None) -> ParsedRequest:
    """A CSV body: a header row of column names, then one line per row. An empty field is a
    missing value."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad(f"the CSV body is not valid UTF-8 (byte {exc.start})", "body") from None
    if "\x00" in text:
        raise _bad("the CSV body holds a NUL character", "body")
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise _bad(f"the CSV body does not parse: {exc}", "body") from None
    lines = [line for line in lines if line]  # blank lines, e.g. a trailing one
    if not lines:
        raise _bad("the CSV body is empty: it needs a header row of column names", "body")
    header, rows = lines[0], lines[1:]
    if not rows:
        raise _bad("the CSV body holds a header but no rows", "body")
    _no_duplicates(header, "header")
    width = len(header)
    for number, row in enumerate(rows, start=2):
        if len(row) != width:
            raise _bad(f"CSV line {number} has {len(row)} fields where the header has {width}", "body", line=number)
    text_columns = {name: list(values) for name, values in zip(header, zip(*rows, strict=True), strict=True)}
    schema = signature.inputs if signature is not None else None
    if isinstance(schema, TensorSchema):
        return _csv_tensor(rows, schema)
    types = {spec.name: spec.type for spec in schema.columns} if isinstance(schema, ColumnSchema) else {}
    columns = {
        name: _csv_column(values, types[name], name) if name in types else _csv_guess(values)
        for name, values in text_columns.items()
    }
    return ParsedRequest(columns, None, len(rows))


def _csv_column(values: list[str], kind: str, name: str) -> Any:
    try:
        if kind in ("double", "float"):
            return np.array([float(v) if v else math.nan for v in values], dtype=_FLOAT_DTYPES[kind])
        if kind == "integer":
            if not all(values):
                return [int(v) if v else None for v in values]  # enforce refuses the missing value
            return np.array([int(v) for v in values], dtype=np.int64)
        if kind == "boolean":
            return [_csv_bool(v) if v else None for v in values]
    except (ValueError, OverflowError):
        bad = next(v for v in values if not _parses(v, kind))
        raise _bad(f"column {name!r} holds {bad[:40]!r}, which is not a {kind} value", name) from None
    if kind == "datetime":
        return _datetime_column([v or None for v in values], name)
    if kind == "binary":
        return _base64_column([v or None for v in values], name)
    return [v if v else None for v in values]


_FLOAT_DTYPES = {"double": np.float64, "float": np.float32}


def _parses(value: str, kind: str) -> bool:
    try:
        if kind == "integer":
            return not value or -(2**63) <= int(value) <= _INT64_MAX
        if kind == "boolean":
            return not value or _csv_bool(value) is not None
        float(value or 0)
    except ValueError:
        return False
    return True


def _csv_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(value)


def _csv_guess(values: list[str]) -> Any:
    """A column the signature does not type (or no signature): integers, numbers, booleans
    or strings, the first that fits every non-empty value, as pandas' ``read_csv`` guesses."""
    present = [v for v in values if v]
    for convert in (int, float):
        try:
            converted = [convert(v) for v in present]
        except ValueError:
            continue
        if convert is int and len(present) == len(values) and all(-(2**63) <= v <= _INT64_MAX for v in converted):
            return np.array(converted, dtype=np.int64)
        return np.array([float(v) if v else math.nan for v in values], dtype=np.float64)
    if present and all(v.lower() in ("true", "false") for v in present):
        return [None if not v else v.lower() == "true" for v in values]
    return [v if v else None for v in values]


def _csv_tensor(rows: list[list[str]], schema: TensorSchema) -> ParsedRequest:
    dtype = np.dtype(schema.dtype)
    try:
        if dtype.kind == "b":
            array = np.array([[_csv_bool(v) for v in row] for row in rows], dtype=bool)
        elif dtype.kind == "O":
            array = np.array(rows, dtype=object)
        else:
            array = np.array(rows, dtype=dtype)
    except (ValueError, OverflowError):
        raise _bad(f"the CSV body's values must all be {dtype.name} values for this model", "body") from None
    return ParsedRequest(None, array, len(rows))


# -- Open Inference Protocol V2 ------------------------------------------------------------------


def parse_v2_infer(body: bytes, signature: Signature | None) -> ParsedRequest:
    """An Open Inference Protocol V2 ``infer`` body. Raises InvalidRequest naming the input
    (``details.field``) when a shape does not match its data, a datatype is unknown, or the
    inputs neither name the signature's columns nor form one 2-D table."""
    document = _load_json(body)
    if not isinstance(document, dict):
        raise _bad("the body must be a JSON object with 'inputs'", "body")
    unknown = sorted(set(document) - _V2_REQUEST_KEYS)
    if unknown:
        raise _bad(f"the body holds {unknown[0]!r}, which is not a field of a V2 inference request", unknown[0])
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise _bad("id must be a string", "id")
    params = _params(document.get("parameters"), "parameters")
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _bad("inputs must be a non-empty list of {name, shape, datatype, data}", "inputs")
    decoded: dict[str, np.ndarray[Any, Any]] = {}
    for index, item in enumerate(inputs):
        name, array = _v2_input(item, index)
        if name in decoded:
            raise _bad(f"two inputs are named {name!r}", name)
        decoded[name] = array
    parsed = _v2_model_input(decoded, signature)
    return ParsedRequest(parsed.columns, parsed.tensor, parsed.rows, params, request_id)


def _v2_input(item: Any, index: int) -> tuple[str, np.ndarray[Any, Any]]:
    where = f"inputs[{index}]"
    if not isinstance(item, dict):
        raise _bad(f"{where} must be an object with name, shape, datatype and data", where)
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(f"{where}.name must be a non-empty string", where)
    unknown = sorted(set(item) - _V2_INPUT_KEYS)
    if unknown:
        raise _bad(f"input {name!r} holds {unknown[0]!r}, which is not a field of a V2 input", name)
    missing = [key for key in ("shape", "datatype", "data") if key not in item]
    if missing:
        raise _bad(f"input {name!r} has no {missing[0]!r}", name)
    shape, datatype, data = item["shape"], item["datatype"], item["data"]
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise _bad(f"the shape of input {name!r} must be a list of sizes (whole numbers, 0 or more)", name)
    if datatype not in V2_DATATYPES:
        raise _bad(
            f"input {name!r} has datatype {str(datatype)[:20]!r}, which is none of {', '.join(V2_DATATYPES)}",
            name,
            datatype=datatype if isinstance(datatype, str) else None,
        )
    flat = _flatten(data if isinstance(data, list) else [data])
    count = math.prod(shape)
    if len(flat) != count:
        raise _bad(
            f"input {name!r} has shape {shape}, which holds {count} values, but its data holds {len(flat)}",
            name,
            shape=shape,
            values=len(flat),
        )
    return name, _v2_array(flat, datatype, name).reshape(shape)


def _flatten(data: list[Any]) -> list[Any]:
    """Nested lists as one flat list, row-major (V2 data may come either way)."""
    if not any(isinstance(item, list) for item in data):
        return data
    flat: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _v2_array(flat: list[Any], datatype: str, name: str) -> np.ndarray[Any, Any]:
    """The values of one input as its datatype; InvalidRequest naming the input when a value
    is not of that datatype or out of its range (a float for an INT, 300 for a UINT8)."""
    dtype = np.dtype(V2_DATATYPES[datatype])
    if datatype == "BYTES":
        if not all(isinstance(value, str) for value in flat):
            raise _bad(f"input {name!r} is BYTES: every value must be a string", name)
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array
    if not flat:
        return np.empty(0, dtype=dtype)
    types = set(map(type, flat))
    if datatype == "BOOL":
        if types != {bool}:
            raise _bad(f"input {name!r} is BOOL: every value must be true or false", name)
        return np.array(flat, dtype=bool)
    if dtype.kind in "iu":
        if types != {int}:
            raise _bad(f"input {name!r} is {datatype}: every value must be a whole number", name)
        try:
            return np.array(flat, dtype=dtype)
        except OverflowError:
            info = np.iinfo(dtype)
            raise _bad(f"input {name!r} is {datatype}: its values must lie in [{info.min}, {info.max}]", name) from None
    if not types <= _NUMBER_TYPES:
        raise _bad(f"input {name!r} is {datatype}: every value must be a number", name)
    with np.errstate(over="ignore"):
        array = np.array(flat, dtype=dtype)
    if dtype.itemsize < 8 and not np.isfinite(array).all() and np.isfinite(np.array(flat, dtype=np.float64)).all():
        raise _bad(f"input {name!r} is {datatype}: a value is too large for it", name)
    return array


def _v2_model_input(inputs: dict[str, np.ndarray[Any, Any]], signature: Signature | None) -> ParsedRequest:
    schema = signature.inputs if signature is not None else None
    if isinstance(schema, TensorSchema) or (schema is None and len(inputs) == 1):
        if len(inputs) != 1:
            raise _bad(f"the model takes one tensor; the request has {len(inputs)} inputs", "inputs")
        name, array = next(iter(inputs.items()))
        if array.ndim == 0:
            raise _bad(f"input {name!r} must have a shape of at least one dimension (its rows)", name)
        if schema is not None:
            array = _to_dtype(array, np.dtype(schema.dtype))
        return ParsedRequest(None, array, int(array.shape[0]))
    if isinstance(schema, ColumnSchema) and len(inputs) == 1:
        name, array = next(iter(inputs.items()))
        if name not in schema.names and array.ndim == 2:
            width = len(schema.columns)
            if array.shape[1] != width:
                raise _bad(
                    f"input {name!r} has {array.shape[1]} values per row; the model takes {width} columns "
                    f"({', '.join(schema.names)})",
                    name,
                    expected=width,
                    got=int(array.shape[1]),
                )
            columns = {spec.name: array[:, i] for i, spec in enumerate(schema.columns)}
            return _table(columns, int(array.shape[0]), signature)
    rows = -1
    columns = {}
    for name, array in inputs.items():
        if not (array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)):
            raise _bad(
                f"input {name!r} has shape {list(array.shape)}: a column's shape is [n] or [n, 1] "
                "(a table of several columns is one input of shape [n, k])",
                name,
            )
        if rows == -1:
            rows = int(array.shape[0])
        elif array.shape[0] != rows:
            raise _bad(f"input {name!r} has {array.shape[0]} rows where the first input has {rows}", name)
        columns[name] = array.reshape(rows)
    return _table(columns, rows, signature)


# -- answers -----------------------------------------------------------------------------------------


def predictions_to_json(predictions: Any) -> Any:
    """A model's output as JSON values (numpy arrays, pandas frames and series, dicts of
    arrays, scalars), as MLflow's ``{"predictions": ...}`` holds it.

    A frame becomes a list of records (``[{"column": value}, ...]``) and a series the records
    of a one-column frame, as MLflow's scoring server answers; NaN becomes null; bytes become
    base64; datetimes become ISO 8601 strings."""
    if isinstance(predictions, np.ndarray):
        return _array_to_json(predictions)
    if _is_frame(predictions):
        return _records_of(_frame_columns(predictions))
    if _is_series(predictions):
        return _records_of({_column_name(predictions.name, 0): _array_to_json(predictions.to_numpy())})
    if isinstance(predictions, Mapping):
        return {str(key): predictions_to_json(value) for key, value in predictions.items()}
    if isinstance(predictions, list | tuple):
        return [predictions_to_json(value) for value in predictions]
    return _scalar_to_json(predictions)


def _array_to_json(array: np.ndarray[Any, Any]) -> Any:
    kind = array.dtype.kind
    if kind in "biu":
        return array.tolist()
    if kind == "f":
        if np.isfinite(array).all():
            return array.tolist()
        # JSON has no NaN or infinity: null, as whatever serializer the caller uses
        values = array.astype(object)
        values[~np.isfinite(array)] = None
        return values.tolist()
    if kind == "M":
        text = np.datetime_as_string(array).astype(object)  # in the array's own unit
        text[np.isnat(array)] = None
        return text.tolist()
    if kind == "m":
        return array.astype("timedelta64[ns]").astype(np.int64).tolist()
    if kind == "U":
        return array.tolist()
    if kind == "c":
        return [[z.real, z.imag] for z in array.ravel().tolist()]
    return _nested_json(array.tolist())


def _nested_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_nested_json(item) for item in value]
    return _scalar_to_json(value)


def _scalar_to_json(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, np.ndarray):
        return _array_to_json(value)
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else str(np.datetime_as_string(value))
    if isinstance(value, np.generic):
        return _scalar_to_json(value.item())
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_scalar_to_json(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _scalar_to_json(v) for k, v in value.items()}
    if _is_frame(value) or _is_series(value):
        return predictions_to_json(value)
    if value != value:  # pandas' NA and NaT
        return None
    return str(value)


def _frame_columns(frame: Any) -> dict[str, Any]:
    return {_column_name(name, i): _series_json(frame.iloc[:, i]) for i, name in enumerate(frame.columns)}


def _series_json(series: Any) -> Any:
    if not isinstance(series.dtype, np.dtype):
        # pandas' own types (nullable integers, categories, strings): their values as objects,
        # pd.NA as None, so a nullable integer stays an integer
        values = series.to_numpy(dtype=object, na_value=None)
    else:
        values = series.to_numpy()
    if values.dtype.kind == "O":
        # pandas' extension types (nullable integers, categories, strings) come as objects
        # holding pd.NA; null them rather than stringify.
        return [None if _is_missing(v) else _scalar_to_json(v) for v in values.tolist()]
    return _array_to_json(values)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def _records_of(columns: dict[str, Any]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _column_name(name: Any, index: int) -> str:
    return str(index) if name is None else str(name)


def _is_frame(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "iloc") and hasattr(value, "to_numpy")


def _is_series(value: Any) -> bool:
    return hasattr(value, "iloc") and hasattr(value, "to_numpy") and not hasattr(value, "columns")


def v2_outputs(predictions: Any) -> list[dict[str, Any]]:
    """A model's output as V2 ``outputs``: ``[{"name", "shape", "datatype", "data"}]``, one
    per part of :func:`named_outputs`; the datatype comes from the dtype (strings, objects and
    datetimes are BYTES, as strings), the shape from the array, and the data is flat, row-major."""
    return [_v2_output(name, value) for name, value in named_outputs(predictions)]


def named_outputs(predictions: Any) -> list[tuple[str, Any]]:
    """A model's output as named parts: one named ``predict`` for an array, one per key for a
    dict of arrays, one per column of a frame, a series' own name (``predict`` when it has
    none), ``output_0``, ``output_1``… for a tuple. V2's outputs and the prediction log's
    columns are named so."""
    if _is_frame(predictions):
        return [
            (_column_name(name, i), predictions.iloc[:, i].to_numpy()) for i, name in enumerate(predictions.columns)
        ]
    if _is_series(predictions):
        return [("predict" if predictions.name is None else str(predictions.name), predictions.to_numpy())]
    if isinstance(predictions, Mapping):
        return [(str(name), value) for name, value in predictions.items()]
    if isinstance(predictions, tuple):
        return [(f"output_{i}", value) for i, value in enumerate(predictions)]
    return [("predict", predictions)]


def _v2_output(name: str, value: Any) -> dict[str, Any]:
    if _is_series(value) or _is_frame(value):
        value = value.to_numpy()
    array = value if isinstance(value, np.ndarray) else _as_output_array(value)
    datatype = v2_datatype(array.dtype)
    flat = array.reshape(-1)
    if datatype == "BYTES":
        data: list[Any] = [_bytes_item(item) for item in _array_to_json(flat)]
    else:
        data = flat.tolist()
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": data}


def v2_datatype(dtype: np.dtype[Any]) -> str:
    """The V2 datatype a numpy dtype is sent as (BYTES for anything without a number type)."""
    return _DATATYPE_OF_DTYPE.get(dtype.name, "BYTES")


def _as_output_array(value: Any) -> np.ndarray[Any, Any]:
    """A list or scalar as an array, its dtype guessed; ragged lists as objects."""
    try:
        array = np.asarray(value)
    except ValueError:
        array = np.empty(len(value), dtype=object)
        array[:] = list(value)
    return array


def _bytes_item(value: Any) -> Any:
    if value is None or isinstance(value, str):  # a missing value stays null
        return value
    return orjson.dumps(value).decode("utf-8")  # a list or mapping inside an object array


# -- splitting a batch's predictions ------------------------------------------------------------------


def split_predictions(predictions: Any, counts: list[int]) -> list[Any]:
    """A batch's predictions cut back into each request's, ``counts[i]`` rows for request
    ``i`` in order: arrays, lists, frames and series by their first axis (a frame's or series'
    parts keep their index), dicts and tuples part by part.

    ValueError when the predictions do not hold ``sum(counts)`` rows: a model that does not
    answer one row per input row cannot be batched, and the caller predicts one by one."""
    total = sum(counts)
    bounds = np.cumsum([0, *counts]).tolist()
    return _split(predictions, bounds, total)


def _split(predictions: Any, bounds: list[int], total: int) -> list[Any]:
    parts = len(bounds) - 1
    if isinstance(predictions, Mapping):
        split = {key: _split(value, bounds, total) for key, value in predictions.items()}
        return [{key: pieces[i] for key, pieces in split.items()} for i in range(parts)]
    if isinstance(predictions, tuple):
        split_items = [_split(value, bounds, total) for value in predictions]
        return [tuple(pieces[i] for pieces in split_items) for i in range(parts)]
    if _is_frame(predictions) or _is_series(predictions):
        _check_rows(len(predictions), total)
        return [predictions.iloc[bounds[i] : bounds[i + 1]] for i in range(parts)]
    if isinstance(predictions, np.ndarray | list):
        if isinstance(predictions, np.ndarray) and predictions.ndim == 0:
            raise ValueError("the model answered one value for a batch of requests: it cannot be batched")
        _check_rows(len(predictions), total)
        return [predictions[bounds[i] : bounds[i + 1]] for i in range(parts)]
    raise ValueError(f"the model answered a {type(predictions).__name__} for a batch: it cannot be split by rows")


def _check_rows(got: int, expected: int) -> None:
    if got != expected:
        raise ValueError(f"the model answered {got} rows for a batch of {expected}: it cannot be batched")
