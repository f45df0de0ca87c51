"""Describe a dataset before it is logged: a digest that names its content, and a small profile.

:func:`describe_dataset` takes a file, a folder, a pandas DataFrame or in-memory arrays and
returns a :class:`DatasetDescription`. It only reads: nothing is uploaded, written or stored. Digests are
hex SHA-256 and are defined so that anyone can recompute them:

* a file: the SHA-256 of its bytes;
* a folder: the SHA-256 of its manifest (see :func:`folder_manifest`);
* a DataFrame: see :func:`frame_digest`;
* arrays (one, or a tuple, list or dict of them): see
  :func:`cairn.client.dataset_arrays.arrays_digest`.

Tabular files (``.csv``, ``.tsv``, ``.parquet``, ``.jsonl``) are profiled with pandas and
pyarrow when they are installed; without them a dataset still gets its digest and file list.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
import orjson

from cairn.client.artifact_formats import arrow_column_type, pandas_column_type
from cairn.client.dataset_arrays import (
    array_columns,
    array_profile,
    array_schema,
    arrays_digest,
    is_array_source,
    named_arrays,
)
from cairn.core.artifacts import DatasetFileEntry, DatasetSpec
from cairn.core.errors import InvalidArtifactPath, InvalidValue

__all__ = [
    "DatasetDescription",
    "DatasetFile",
    "describe_arrays",
    "describe_dataset",
    "file_digest",
    "folder_manifest",
    "frame_digest",
]

CHUNK_BYTES = 1024 * 1024
#: Delimited and JSON-lines files larger than this are profiled on their first rows only.
SAMPLE_ABOVE_BYTES = 256 * 1024 * 1024
SAMPLE_ROWS = 100_000
#: Only the first columns are profiled, so that a very wide table keeps a small profile.
PROFILE_COLUMNS = 200
_TOP_VALUES = 5
#: A numeric column keeps its 0th, 1st, ..., 100th percentiles, so that drift can be measured
#: against a dataset whose rows are not stored.
PROFILE_QUANTILES = 101
_MAX_TEXT = 200
_TABULAR_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl")


@dataclass(frozen=True, slots=True)
class DatasetFile:
    """One file of a dataset: ``path`` is POSIX and relative to the dataset's folder."""

    path: str
    digest: str
    size: int
    local_path: Path | None = None


@dataclass(frozen=True, slots=True)
class DatasetDescription:
    """What :func:`describe_dataset` found. ``rows``/``columns`` are None when not known."""

    digest: str
    source_uri: str  # file:// URI of the resolved path; "" for a DataFrame or arrays
    source_kind: Literal["file", "folder", "dataframe", "array"]
    rows: int | None = None
    columns: int | None = None
    #: [{"name": ..., "type": ...}]; an array's entry also has "shape", that of one row.
    schema: list[dict[str, Any]] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    files: list[DatasetFile] = field(default_factory=list)

    def spec(self, name: str, *, files: Sequence[DatasetFileEntry] = (), stored: bool = False) -> DatasetSpec:
        """What a run logs of this dataset under ``name``: the description, with ``files`` the
        manifest of what is kept of it (uploaded, when ``stored``)."""
        return DatasetSpec(
            name=name,
            digest=self.digest,
            source_uri=self.source_uri,
            source_kind=self.source_kind,
            rows=self.rows,
            columns=self.columns,
            schema=list(self.schema),
            profile=dict(self.profile),
            files=list(files),
            stored=stored,
        )


def describe_dataset(source: str | os.PathLike[str] | Any) -> DatasetDescription:
    """Digest, shape, schema and profile of a file, a folder, a pandas DataFrame or arrays.

    Arrays are a numpy array or anything with ``__array__`` (a torch tensor), or a tuple,
    list or dict of them sharing their first dimension (see :mod:`cairn.client.dataset_arrays`).

    A folder is walked recursively, hidden files included; symlinks are followed as long as
    they stay inside it (one that leads outside, or back into a folder it is in, raises
    :class:`~cairn.core.errors.InvalidArtifactPath`). Files are read in 1 MiB chunks, never
    whole; a tabular file is also parsed to profile it (see the module docstring).
    """
    pd = sys.modules.get("pandas")
    if isinstance(pd, ModuleType) and isinstance(source, pd.DataFrame):
        return _describe_frame(source)
    if not isinstance(source, str | os.PathLike):
        if is_array_source(source):
            return describe_arrays(named_arrays(source))
        raise InvalidValue(f"describe_dataset takes a path, a pandas DataFrame or arrays, not {type(source).__name__}")
    path = Path(source)
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidValue(f"no such file or folder: {os.fspath(source)}", details={"path": str(path)}) from None
    if resolved.is_dir():
        return _describe_folder(resolved)
    if not resolved.is_file():
        raise InvalidValue(f"not a regular file or a folder: {os.fspath(source)}", details={"path": str(path)})
    return _describe_file(resolved, path.name or resolved.name)


# -- files and folders ------------------------------------------------------------------------


def file_digest(path: Path) -> tuple[str, int]:
    """Hex SHA-256 and size of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def folder_manifest(files: list[DatasetFile]) -> bytes:
    """The manifest a folder's digest is the SHA-256 of: one line per file,
    ``f"{path}\\t{digest}\\t{size}\\n"``, UTF-8, sorted by ``path`` (as Python sorts strings:
    by code point). ``path`` is POSIX and relative to the folder, ``digest`` the file's hex
    SHA-256 and ``size`` its length in bytes. An empty folder has an empty manifest."""
    lines = sorted(f"{file.path}\t{file.digest}\t{file.size}\n" for file in files)
    return "".join(lines).encode("utf-8")


def _describe_file(path: Path, name: str) -> DatasetDescription:
    digest, size = file_digest(path)
    rows: int | None = None
    columns: int | None = None
    schema: list[dict[str, str]] = []
    profile: dict[str, Any] = {"bytes": size}
    if path.suffix.lower() in _TABULAR_SUFFIXES:
        try:
            table = _read_tabular(path, size)
        except (ValueError, TypeError, OSError, NotImplementedError) as exc:
            # A file named .csv that does not parse is still a dataset; say why it has no profile.
            first_line = (str(exc).strip().splitlines() or [""])[0]
            profile["error"] = f"{type(exc).__name__}: {first_line}"[:_MAX_TEXT]
            table = None
        if table is not None:
            rows, schema, extra = table
            columns = len(schema)
            profile.update(extra)
    return DatasetDescription(
        digest=digest,
        source_uri=path.as_uri(),
        source_kind="file",
        rows=rows,
        columns=columns,
        schema=schema,
        profile=profile,
        files=[DatasetFile(name, digest, size, path)],
    )


def _check_manifest_name(relative: str) -> None:
    if any(c in relative for c in "\t\n\r"):
        raise InvalidArtifactPath(f"a file name with a tab or line break cannot be listed: {relative!r}")
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArtifactPath(f"a file name that is not valid UTF-8 cannot be listed: {relative!r}") from None


def walk_folder(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative POSIX path, resolved path) of every regular file under the resolved folder
    ``root``, following symlinks that stay inside it; one that leaves it, or loops back into a
    folder it is in, raises InvalidArtifactPath. Shared by datasets and ``run.log_artifact``."""
    return _walk(root, root, "", frozenset({root}))


def _walk(root: Path, folder: Path, prefix: str, ancestors: frozenset[Path]) -> Iterator[tuple[str, Path]]:
    """(relative POSIX path, resolved path) of every regular file under ``folder``."""
    with os.scandir(folder) as entries:
        listed = sorted(entries, key=lambda entry: entry.name)
    for entry in listed:
        relative = f"{prefix}{entry.name}"
        _check_manifest_name(relative)
        target = Path(entry.path)
        if entry.is_symlink():
            try:
                target = target.resolve()
            except (OSError, RuntimeError):
                raise InvalidArtifactPath(f"a symlink that cannot be resolved: {relative}") from None
            if not target.is_relative_to(root):
                raise InvalidArtifactPath(
                    f"{relative} is a symlink to {target}, outside the folder {root}",
                    details={"path": relative},
                )
        if target.is_dir():
            if target in ancestors:
                raise InvalidArtifactPath(f"{relative} is a symlink into a folder it is in", details={"path": relative})
            yield from _walk(root, target, f"{relative}/", ancestors | {target})
        elif target.is_file():  # sockets, FIFOs and dangling symlinks are not dataset files
            yield relative, target


def _describe_folder(root: Path) -> DatasetDescription:
    files = []
    extensions: dict[str, int] = {}
    for relative, path in walk_folder(root):
        digest, size = file_digest(path)
        files.append(DatasetFile(relative, digest, size, path))
        suffix = Path(relative).suffix.lower()
        extensions[suffix] = extensions.get(suffix, 0) + 1
    files.sort(key=lambda file: file.path)
    profile = {
        "files": len(files),
        "bytes": sum(file.size for file in files),
        "extensions": dict(sorted(extensions.items())),
    }
    return DatasetDescription(
        digest=hashlib.sha256(folder_manifest(files)).hexdigest(),
        source_uri=root.as_uri(),
        source_kind="folder",
        profile=profile,
        files=files,
    )


# -- arrays ----------------------------------------------------------------------------------


def describe_arrays(arrays: dict[str, np.ndarray]) -> DatasetDescription:
    """The description of arrays :func:`~cairn.client.dataset_arrays.named_arrays` checked:
    rows are their shared first dimension, columns the values of one row of them all."""
    return DatasetDescription(
        digest=arrays_digest(arrays),
        source_uri="",
        source_kind="array",
        rows=next(iter(arrays.values())).shape[0],
        columns=array_columns(arrays),
        schema=array_schema(arrays),
        profile=array_profile(arrays),
        files=[],
    )


# -- tabular files ----------------------------------------------------------------------------

_Tabular = tuple[int | None, list[dict[str, str]], dict[str, Any]]


def _import_pandas() -> Any:
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _read_tabular(path: Path, size: int) -> _Tabular | None:
    """(rows, schema, profile) of a tabular file, or None without the libraries to read it."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path, size)
    pd = _import_pandas()
    if pd is None:
        return None
    sample = size > SAMPLE_ABOVE_BYTES
    nrows = SAMPLE_ROWS if sample else None
    if suffix == ".jsonl":
        frame = pd.read_json(path, lines=True, nrows=nrows)
    else:
        frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", nrows=nrows, low_memory=False)
    sampled = sample and len(frame) >= SAMPLE_ROWS
    schema = _frame_schema(frame)
    profile = _profile_frame(frame)
    if sampled:
        profile["sampled_rows"] = len(frame)
    return (None if sampled else len(frame)), schema, profile


def _read_parquet(path: Path, size: int) -> _Tabular | None:
    # Rows and schema come from the footer; only the profile reads data.
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    with pq.ParquetFile(path) as parquet:
        arrow_schema = parquet.schema_arrow
        schema = [{"name": f.name, "type": arrow_column_type(f.type)} for f in arrow_schema]
        rows = int(parquet.metadata.num_rows)
        profile: dict[str, Any] = {}
        if _import_pandas() is None:
            return rows, schema, profile
        names = arrow_schema.names[:PROFILE_COLUMNS]
        if size > SAMPLE_ABOVE_BYTES and rows > SAMPLE_ROWS:
            batches, count = [], 0
            for batch in parquet.iter_batches(batch_size=SAMPLE_ROWS, columns=names):
                batches.append(batch.slice(0, SAMPLE_ROWS - count))
                count += batches[-1].num_rows
                if count >= SAMPLE_ROWS:
                    break
            table = pa.Table.from_batches(batches, schema=batches[0].schema)
            profile["sampled_rows"] = count
        else:
            table = parquet.read(columns=names)
    profile.update(_profile_frame(table.to_pandas()))
    if len(arrow_schema.names) > PROFILE_COLUMNS:
        profile["truncated_columns"] = True
    return rows, schema, profile


# -- DataFrames and profiles ------------------------------------------------------------------


def _json_name(name: Any) -> Any:
    return name if isinstance(name, str | int | float | bool) or name is None else str(name)


def frame_digest(frame: Any) -> str:
    """Hex SHA-256 of a DataFrame's content, computed in memory.

    It hashes ``orjson.dumps([[name, str(dtype)], ...])`` for the columns in order (names
    that are not JSON scalars as ``str(name)``), then the little-endian uint64 row hashes of
    ``pandas.util.hash_pandas_object(frame, index=True)``. Same columns, dtypes, index and
    values in the same order give the same digest with the same pandas version.
    """
    import pandas as pd

    signature = orjson.dumps([[_json_name(name), str(dtype)] for name, dtype in frame.dtypes.items()])
    try:
        row_hashes = pd.util.hash_pandas_object(frame, index=True)
    except TypeError as exc:
        raise InvalidValue(f"the DataFrame has values that cannot be hashed: {exc}") from None
    digest = hashlib.sha256(signature)
    digest.update(np.ascontiguousarray(row_hashes.to_numpy(dtype="<u8")).tobytes())
    return digest.hexdigest()


def _describe_frame(frame: Any) -> DatasetDescription:
    return DatasetDescription(
        digest=frame_digest(frame),
        source_uri="",
        source_kind="dataframe",
        rows=len(frame),
        columns=len(frame.columns),
        schema=_frame_schema(frame),
        profile=_profile_frame(frame),
        files=[],
    )


def _frame_schema(frame: Any) -> list[dict[str, str]]:
    return [{"name": str(name), "type": pandas_column_type(frame.iloc[:, i])} for i, name in enumerate(frame.columns)]


def _json_scalar(value: Any) -> Any:
    """A value as a plain JSON type: numpy scalars unwrapped, non-finite floats None, the rest text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)[:_MAX_TEXT]


def _profile_frame(frame: Any) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for i, name in enumerate(frame.columns[:PROFILE_COLUMNS]):
        key = str(name)
        n = 1
        while key in columns:  # repeated names, as pandas reads them: a, a.1, a.2
            key, n = f"{name}.{n}", n + 1
        columns[key] = _profile_column(frame.iloc[:, i])
    profile: dict[str, Any] = {"columns": columns}
    if len(frame.columns) > PROFILE_COLUMNS:
        profile["truncated_columns"] = True
    return profile


def _profile_column(series: Any) -> dict[str, Any]:
    import pandas as pd

    kind = pandas_column_type(series)
    profile: dict[str, Any] = {"type": kind, "nulls": int(series.isna().sum())}
    if isinstance(series.dtype, pd.CategoricalDtype) or kind in ("string", "boolean"):
        profile.update(_distinct_values(series))
    elif kind in ("integer", "float"):
        profile.update(_numeric_summary(series))
    elif kind == "datetime":
        profile.update(_datetime_range(series))
    return profile


def _distinct_values(series: Any) -> dict[str, Any]:
    counts = [(value, int(count)) for value, count in series.value_counts(dropna=True).items() if count > 0]
    # Ties in a fixed order, so that the same data gives the same profile.
    counts.sort(key=lambda pair: (-pair[1], type(pair[0]).__name__, str(pair[0])))
    return {"distinct": len(counts), "top": [[_json_scalar(v), c] for v, c in counts[:_TOP_VALUES]]}


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _numeric_summary(series: Any) -> dict[str, Any]:
    import pandas as pd

    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return {"min": None, "max": None, "mean": None}
    with np.errstate(all="ignore"):  # a mean of huge values overflows to inf, reported as None
        summary: dict[str, Any] = {
            "min": _finite(values.min()),
            "max": _finite(values.max()),
            "mean": _finite(values.mean()),
        }
    finite = values[np.isfinite(values)]
    if finite.size:
        summary["quantiles"] = _percentiles(finite)
    return summary


def _percentiles(values: Any) -> list[float]:
    """The 0th to 100th percentiles of finite values, ascending: what a drift reference reads
    when the dataset's rows are not stored (``core/drift/reference.py``, docs/monitoring.md)."""
    levels = np.linspace(0, 1, PROFILE_QUANTILES)
    # Linear interpolation can step down by one ulp between equal neighbours; keep it ascending.
    return [float(q) for q in np.maximum.accumulate(np.quantile(values, levels))]


def _datetime_range(series: Any) -> dict[str, Any]:
    import pandas as pd

    try:
        low, high = series.min(skipna=True), series.max(skipna=True)
    except (TypeError, ValueError):  # naive and aware datetimes mixed in an object column
        return {}
    return {
        "min": None if pd.isna(low) else _json_scalar(low),
        "max": None if pd.isna(high) else _json_scalar(high),
    }
