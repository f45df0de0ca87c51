"""Turn the Python objects a training script has in hand into artifact bytes.

Each ``encode_*`` function is pure: it takes an object and returns an :class:`EncodedArtifact`
(the bytes, the file suffix and media type to store them under, and a small JSON-able ``meta``
the dashboard shows without downloading the bytes). Nothing here touches the network or a store.

pandas, pyarrow and matplotlib are optional: they are imported inside the functions that need
them, so a script without pandas can still log a list of rows (as CSV when pyarrow is missing).
Bad input raises :class:`~cairn.core.errors.InvalidValue` with a message that says what to fix.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import struct
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import orjson

from cairn.core.errors import InvalidValue

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "ArtifactKind",
    "ColumnType",
    "EncodedArtifact",
    "arrow_column_type",
    "encode_confusion_matrix",
    "encode_dict",
    "encode_figure",
    "encode_table",
    "encode_text",
    "pandas_column_type",
]

ArtifactKind = Literal["text", "dict", "figure", "table", "confusion_matrix"]
#: The logical type of a table column, the same whichever library holds the table.
ColumnType = Literal["integer", "float", "boolean", "string", "datetime", "other"]


@dataclass(frozen=True, slots=True)
class EncodedArtifact:
    """Bytes ready to store as an artifact, and what they are."""

    data: bytes
    suffix: str  # ".png", ".json", ".yaml", ".parquet", ".csv" or ".txt"
    media_type: str
    kind: ArtifactKind
    meta: dict[str, Any]


# -- text and dicts ---------------------------------------------------------------------------


def encode_text(text: str) -> EncodedArtifact:
    """UTF-8 text; ``meta`` counts its characters."""
    if not isinstance(text, str):
        raise InvalidValue(f"encode_text takes a str, not {type(text).__name__}")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidValue(f"the text cannot be written as UTF-8: {exc.reason} at position {exc.start}") from None
    return EncodedArtifact(data, ".txt", "text/plain; charset=utf-8", "text", {"chars": len(text)})


def _json_default(value: Any) -> Any:
    # orjson calls this for what it does not serialize itself: other mappings, numpy arrays it
    # cannot take as they are (object dtype, not contiguous) and numpy scalars.
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _to_json(data: Mapping[Any, Any], option: int) -> bytes:
    try:
        return orjson.dumps(
            data if isinstance(data, dict) else dict(data),
            default=_json_default,
            option=option | orjson.OPT_SERIALIZE_NUMPY,
        )
    except orjson.JSONEncodeError as exc:
        raise InvalidValue(f"the dict cannot be written as JSON: {exc}") from None


def encode_dict(data: Mapping[str, Any], fmt: Literal["json", "yaml"] = "json") -> EncodedArtifact:
    """A mapping as indented JSON or as YAML, keys in insertion order.

    Keys must be strings and values JSON-able (numbers, strings, booleans, None, lists, dicts;
    numpy scalars and arrays are converted). Both formats go through the same JSON conversion,
    so they accept the same values: NaN and infinities become null, datetimes RFC 3339 strings.
    """
    if not isinstance(data, Mapping):
        raise InvalidValue(f"encode_dict takes a mapping, not {type(data).__name__}")
    if fmt not in ("json", "yaml"):
        raise InvalidValue(f"fmt must be 'json' or 'yaml', not {fmt!r}")
    text = _to_json(data, orjson.OPT_INDENT_2)
    meta = {"format": fmt, "keys": len(data)}
    if fmt == "json":
        return EncodedArtifact(text + b"\n", ".json", "application/json", "dict", meta)
    import yaml

    dumped = yaml.safe_dump(orjson.loads(text), sort_keys=False, allow_unicode=True, default_flow_style=False)
    return EncodedArtifact(dumped.encode("utf-8"), ".yaml", "application/yaml", "dict", meta)


# -- figures ----------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which the PNG format puts first."""
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def encode_figure(figure: Figure | Axes, dpi: float = 100) -> EncodedArtifact:
    """A matplotlib figure (or the figure an Axes belongs to) as a PNG, trimmed to its content.

    The figure is left open and unchanged: closing it is the caller's business.
    """
    try:
        from matplotlib.axes import Axes
        from matplotlib.figure import Figure, SubFigure
    except ImportError:
        raise InvalidValue("encode_figure needs matplotlib, which is not installed") from None
    if isinstance(dpi, bool) or not isinstance(dpi, int | float) or not math.isfinite(dpi) or dpi <= 0:
        raise InvalidValue(f"dpi must be a positive number, not {dpi!r}")
    target: Any = figure.figure if isinstance(figure, Axes) else figure
    while isinstance(target, SubFigure):  # an Axes in a subfigure: draw the whole figure
        target = target.figure
    if not isinstance(target, Figure):
        raise InvalidValue(f"encode_figure takes a matplotlib Figure or Axes, not {type(figure).__name__}")
    buffer = io.BytesIO()
    target.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    data = buffer.getvalue()
    width, height = _png_size(data)
    return EncodedArtifact(data, ".png", "image/png", "figure", {"width_px": width, "height_px": height})


# -- tables -----------------------------------------------------------------------------------

_INFERRED_TYPES: dict[str, ColumnType] = {
    "string": "string",
    "integer": "integer",
    "floating": "float",
    "mixed-integer-float": "float",
    "decimal": "float",
    "boolean": "boolean",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "datetime",
}


def arrow_column_type(arrow_type: Any) -> ColumnType:
    """The logical type of a pyarrow ``DataType``."""
    import pyarrow as pa

    types = pa.types
    if types.is_dictionary(arrow_type):
        return arrow_column_type(arrow_type.value_type)
    if types.is_boolean(arrow_type):
        return "boolean"
    if types.is_integer(arrow_type):
        return "integer"
    if types.is_floating(arrow_type) or types.is_decimal(arrow_type):
        return "float"
    is_string_view = getattr(types, "is_string_view", None)  # pyarrow >= 16
    if types.is_string(arrow_type) or types.is_large_string(arrow_type):
        return "string"
    if is_string_view is not None and is_string_view(arrow_type):
        return "string"
    if types.is_timestamp(arrow_type) or types.is_date(arrow_type):
        return "datetime"
    return "other"


def pandas_column_type(series: Any) -> ColumnType:
    """The logical type of a pandas Series: from its dtype, or from its values for ``object``.

    A categorical column has the type of its categories.
    """
    import pandas as pd
    from pandas.api import types as pdt

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return pandas_column_type(pd.Series(dtype.categories))
    if isinstance(dtype, pd.ArrowDtype):
        return arrow_column_type(dtype.pyarrow_dtype)
    if pdt.is_bool_dtype(dtype):
        return "boolean"
    if pdt.is_integer_dtype(dtype):
        return "integer"
    if pdt.is_float_dtype(dtype):
        return "float"
    if pdt.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pdt.is_object_dtype(dtype):
        return _INFERRED_TYPES.get(pdt.infer_dtype(series, skipna=True), "other")
    if pdt.is_string_dtype(dtype):
        return "string"
    return "other"


def _python_column_type(values: Iterable[Any]) -> ColumnType:
    seen: set[ColumnType] = set()
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(value, bool):
            seen.add("boolean")
        elif isinstance(value, int):
            seen.add("integer")
        elif isinstance(value, float):
            seen.add("float")
        elif isinstance(value, str):
            seen.add("string")
        elif isinstance(value, dt.date):  # datetime is a date too
            seen.add("datetime")
        else:
            return "other"
    if seen == {"integer", "float"}:
        return "float"
    return seen.pop() if len(seen) == 1 else "other"


def _loaded_pandas() -> ModuleType | None:
    """pandas if the program has imported it: an object cannot be a DataFrame otherwise."""
    module = sys.modules.get("pandas")
    return module if isinstance(module, ModuleType) else None


def _parquet_modules(fmt: str) -> tuple[Any, Any] | None:
    """(pyarrow, pyarrow.parquet) when the table should be written as Parquet, else None."""
    if fmt == "csv":
        return None
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        if fmt == "parquet":
            raise InvalidValue("fmt='parquet' needs pyarrow, which is not installed; use fmt='csv'") from None
        return None
    return pa, pq


def _parquet_bytes(pa: Any, pq: Any, table: Any) -> bytes:
    # Parquet holds no write time, so the same data gives the same bytes (with the same pyarrow
    # and pandas: the footer names the pyarrow version, pandas' metadata its own).
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def _column_names(columns: Any) -> list[str]:
    if isinstance(columns, str | bytes) or not isinstance(columns, Iterable):
        raise InvalidValue(f"columns must be a list of column names, not {type(columns).__name__}")
    names = list(columns)
    for name in names:
        if not isinstance(name, str):
            raise InvalidValue(f"column names must be strings, not {type(name).__name__} ({name!r})")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidValue(f"column names must be unique; repeated: {duplicates}")
    return names


def _plain(value: Any) -> Any:
    if isinstance(value, np.bool_ | np.integer | np.floating | np.str_):
        return value.item()
    return value


def _rows_to_columns(data: Any, columns: Sequence[str] | None) -> tuple[list[str], list[list[Any]], int]:
    """Column names, column values and the row count of a list of rows."""
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise InvalidValue(f"a numpy array table must have 2 dimensions, not {data.ndim}")
        data = data.tolist()
    if isinstance(data, str | bytes | bytearray | Mapping) or not isinstance(data, Iterable):
        raise InvalidValue(f"encode_table takes a pandas DataFrame or a list of rows, not {type(data).__name__}")
    rows = list(data)
    names = None if columns is None else _column_names(columns)
    if not rows:
        names = names or []
        return names, [[] for _ in names], 0
    if isinstance(rows[0], Mapping):
        if names is None:
            names = _column_names(rows[0].keys())
        expected = set(names)
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise InvalidValue(
                    f"row {i} is a {type(row).__name__} but row 0 a dict: rows must all be dicts or lists"
                )
            if row.keys() != expected:
                missing = sorted(map(str, expected - row.keys()))
                extra = sorted(map(str, row.keys() - expected))
                raise InvalidValue(f"row {i} does not have the table's columns: missing {missing}, unexpected {extra}")
        values = [[_plain(row[name]) for row in rows] for name in names]
    elif isinstance(rows[0], list | tuple):
        if names is None:
            raise InvalidValue("rows given as lists or tuples need columns=[...] to name their values")
        for i, row in enumerate(rows):
            if not isinstance(row, list | tuple):
                raise InvalidValue(
                    f"row {i} is a {type(row).__name__} but row 0 a list: rows must all be dicts or lists"
                )
            if len(row) != len(names):
                raise InvalidValue(f"row {i} has {len(row)} values for {len(names)} columns ({names})")
        values = [[_plain(row[j]) for row in rows] for j in range(len(names))]
    else:
        raise InvalidValue(f"each row must be a dict or a list/tuple, not {type(rows[0]).__name__}")
    if not names:
        raise InvalidValue("the rows have no columns")
    return names, values, len(rows)


def _csv_cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _rows_csv(names: list[str], values: list[list[Any]], n_rows: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for i in range(n_rows):
        writer.writerow([_csv_cell(column[i]) for column in values])
    return buffer.getvalue().encode("utf-8")


def _table_artifact(data: bytes, schema: list[dict[str, str]], n_rows: int, parquet: bool) -> EncodedArtifact:
    meta = {"rows": n_rows, "columns": schema, "format": "parquet" if parquet else "csv"}
    if parquet:
        return EncodedArtifact(data, ".parquet", "application/vnd.apache.parquet", "table", meta)
    return EncodedArtifact(data, ".csv", "text/csv", "table", meta)


def _encode_frame(frame: Any, fmt: str) -> EncodedArtifact:
    names = [str(name) for name in frame.columns]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidValue(f"the DataFrame's column names must be unique as strings; repeated: {duplicates}")
    frame = frame.set_axis(names, axis=1)
    schema = [{"name": name, "type": pandas_column_type(frame.iloc[:, i])} for i, name in enumerate(names)]
    modules = _parquet_modules(fmt)
    if modules is None:
        data = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
        return _table_artifact(data, schema, len(frame), parquet=False)
    pa, pq = modules
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except pa.ArrowException as exc:
        raise InvalidValue(
            f"the DataFrame cannot be written as Parquet ({exc}); fix the column or use fmt='csv'"
        ) from None
    return _table_artifact(_parquet_bytes(pa, pq, table), schema, len(frame), parquet=True)


def encode_table(
    data: Any, columns: Sequence[str] | None = None, fmt: Literal["auto", "parquet", "csv"] = "auto"
) -> EncodedArtifact:
    """A table as Parquet (when pyarrow is installed) or CSV.

    ``data`` is a pandas DataFrame (its index is not kept: ``reset_index()`` first to keep it),
    a list of dicts with the same keys, or a list of lists/tuples named by ``columns``. For a
    list of dicts, ``columns`` sets the column order. ``fmt="csv"`` forces CSV; ``"parquet"``
    refuses to fall back. The same data gives the same bytes. ``meta`` has the row count and
    each column's name and logical type (see :data:`ColumnType`).
    """
    if fmt not in ("auto", "parquet", "csv"):
        raise InvalidValue(f"fmt must be 'auto', 'parquet' or 'csv', not {fmt!r}")
    pd = _loaded_pandas()
    if pd is not None and isinstance(data, pd.DataFrame):
        if columns is not None:
            raise InvalidValue("columns= names the values of list rows; select or rename the DataFrame's instead")
        return _encode_frame(data, fmt)
    names, values, n_rows = _rows_to_columns(data, columns)
    schema: list[dict[str, str]] = [
        {"name": name, "type": _python_column_type(column)} for name, column in zip(names, values, strict=True)
    ]
    modules = _parquet_modules(fmt)
    if modules is None:
        return _table_artifact(_rows_csv(names, values, n_rows), schema, n_rows, parquet=False)
    pa, pq = modules
    arrays = []
    for name, column in zip(names, values, strict=True):
        try:
            arrays.append(pa.array(column))
        except (pa.ArrowException, OverflowError) as exc:
            raise InvalidValue(f"column {name!r} cannot be written as Parquet ({exc}); use fmt='csv'") from None
    table = pa.Table.from_arrays(arrays, names=names)
    return _table_artifact(_parquet_bytes(pa, pq, table), schema, n_rows, parquet=True)


# -- confusion matrices -----------------------------------------------------------------------


def _labels_list(values: Any, what: str) -> list[Any]:
    if isinstance(values, str | bytes | bytearray | Mapping) or not isinstance(values, Iterable):
        raise InvalidValue(f"{what} must be a sequence of labels, not {type(values).__name__}")
    # numpy arrays and pandas Series give plain Python values through tolist().
    items = values.tolist() if hasattr(values, "tolist") else list(values)
    for item in items:
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidValue(f"{what} has a missing or non-finite value ({item!r}); drop or fill it first")
        if not isinstance(item, str | int | float):
            shown = "a missing value (None)" if item is None else f"a {type(item).__name__} ({item!r})"
            raise InvalidValue(f"{what} has {shown}; labels must be strings or numbers")
    return items


def encode_confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> EncodedArtifact:
    """Counts of (true, predicted) label pairs, stored as JSON data for the dashboard to draw.

    ``y_true`` and ``y_pred`` are sequences of the same length (lists, numpy arrays, pandas
    Series) of strings or numbers. ``labels`` gives the rows' and columns' order; by default
    it is the sorted union of the values seen. The JSON is
    ``{"labels": [...], "matrix": [[...], ...], "total": n}`` where ``matrix[i][j]`` counts
    true label ``labels[i]`` predicted as ``labels[j]``.
    """
    true = _labels_list(y_true, "y_true")
    pred = _labels_list(y_pred, "y_pred")
    if len(true) != len(pred):
        raise InvalidValue(f"y_true has {len(true)} values but y_pred has {len(pred)}")
    if labels is None:
        try:
            order = sorted(set(true) | set(pred))
        except TypeError:
            raise InvalidValue("the labels mix strings and numbers, so they have no order: pass labels=[...]") from None
    else:
        order = _labels_list(labels, "labels")
        if len(set(order)) != len(order):
            raise InvalidValue(f"labels has repeated values: {order}")
    index = {label: i for i, label in enumerate(order)}
    unknown = [label for label in dict.fromkeys(true + pred) if label not in index]
    if unknown:
        raise InvalidValue(f"values not in labels: {unknown[:10]}", details={"unknown": unknown[:10]})
    matrix = [[0] * len(order) for _ in order]
    for t, p in zip(true, pred, strict=True):
        matrix[index[t]][index[p]] += 1
    total = len(true)
    accuracy = sum(matrix[i][i] for i in range(len(order))) / total if total else None
    data = orjson.dumps({"labels": order, "matrix": matrix, "total": total})
    return EncodedArtifact(
        data, ".json", "application/json", "confusion_matrix", {"labels": order, "accuracy": accuracy}
    )
