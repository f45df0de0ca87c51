"""Where ``cairn predict`` reads and writes: local paths and ``s3://`` URLs, CSV and Parquet.

Input is read as a stream of Arrow tables of at most ``batch_rows`` rows, so memory holds one
batch at a time whatever the input's size:

- a ``.csv`` file (pyarrow's streaming reader: a header line, then rows; column types are
  inferred from the first block of about a megabyte and held to after it);
- a ``.parquet`` (or ``.pq``) file;
- a folder of Parquet files, read in the natural order of their paths (``part-2`` before
  ``part-10``, as Dask and Spark name and read parts); files whose name starts with ``.`` or
  ``_`` (``_SUCCESS``, checksums) are skipped. Every file must have the first one's schema:
  this is checked on the files' footers before anything is scored or written.

Output is a ``.csv`` file, a ``.parquet`` file, or else a folder of Parquet part files
(``part-00000.parquet`` …). It appears whole or not at all: a local output is written under a
temporary name beside it and renamed at the end; an ``s3://`` output is written to a local
temporary folder and uploaded at the end (an object appears only once its upload completed; a
folder's parts already uploaded are deleted if a later one fails). An output that exists is
refused unless ``overwrite`` is set.

``s3://`` goes through the settings the blob store uses: ``CAIRN_BLOBS_ENDPOINT`` (else
``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``) for a store other than AWS, and the usual AWS
credentials and region.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from cairn.client.datasets import CHUNK_BYTES, DatasetFile, file_digest, folder_manifest
from cairn.core.errors import AlreadyExists, FrameworkNotInstalled, InvalidBatchInput

InputKind = Literal["csv", "parquet", "folder"]
OutputKind = Literal["csv", "parquet", "folder"]

_PARQUET_SUFFIXES = (".parquet", ".pq")
#: A folder output starts a new part file after this many rows (at a batch's end).
PART_ROWS = 1_000_000
#: Bytes of CSV pyarrow parses at a time (its type inference looks at the first block).
CSV_BLOCK_BYTES = 1 << 20


def require_pyarrow() -> None:
    try:
        import pandas  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ModuleNotFoundError:
        raise FrameworkNotInstalled(
            "batch scoring reads and writes files with pyarrow and pandas: pip install 'cairn[batch]'",
            details={"package": "pyarrow"},
        ) from None


# -- locations -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Location:
    """A local path (made absolute) or an ``s3://BUCKET/KEY`` URL."""

    text: str
    bucket: str | None
    path: str  # the absolute local path, or the key in the bucket (no leading or trailing /)

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def fs_path(self) -> str:
        """The path as pyarrow's file system for it takes it."""
        return f"{self.bucket}/{self.path}" if self.bucket is not None else self.path


def parse_location(text: str) -> Location:
    if "\x00" in text or not text.strip():
        raise InvalidBatchInput(f"not a path: {text!r}", details={"path": text})
    if text.startswith("s3://"):
        parts = urlsplit(text)
        key = parts.path.strip("/")
        if not parts.netloc or not key:
            raise InvalidBatchInput(f"an s3:// location needs a bucket and a key: {text}", details={"path": text})
        return Location(text, parts.netloc, key)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", text):
        raise InvalidBatchInput(
            f"only local paths and s3:// URLs can be read and written: {text}", details={"path": text}
        )
    return Location(text, None, os.path.abspath(os.path.expanduser(text)))


def s3_endpoint() -> str | None:
    """The S3 endpoint the blob store would use (None: AWS itself)."""
    for name in ("CAIRN_BLOBS_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def filesystem(location: Location) -> Any:
    """pyarrow's file system for ``location``."""
    from pyarrow import fs

    if not location.is_s3:
        return fs.LocalFileSystem()
    options: dict[str, Any] = {}
    endpoint = s3_endpoint()
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options.update(endpoint_override=parts.netloc, scheme=parts.scheme or "https")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return fs.S3FileSystem(**options)


def _s3_client() -> Any:
    import boto3

    return boto3.session.Session().client("s3", endpoint_url=s3_endpoint())


def _natural_key(path: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def _arrow_message(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]


# -- input -----------------------------------------------------------------------------------


@dataclass
class BatchInput:
    """An input checked to be readable: its files, schema and, for Parquet, its row count."""

    location: Location
    kind: InputKind
    filesystem: Any
    files: list[str]  # file-system paths, in reading order
    schema: Any = None  # a pyarrow Schema (None for CSV until read)
    rows: int | None = None
    sizes: list[int] = field(default_factory=list)

    def relative(self, path: str) -> str:
        if self.kind != "folder":
            return self.location.name
        return path[len(self.location.fs_path) :].lstrip("/")

    def digest(self) -> str:
        """Hex SHA-256 of a file's bytes, or of a folder's manifest (cairn.client.datasets):
        the same digest ``run.log_dataset`` records for the same file or folder."""
        listed = [DatasetFile(self.relative(path), *self._file_digest(path)) for path in self.files]
        if self.kind != "folder":
            return listed[0].digest
        return hashlib.sha256(folder_manifest(listed)).hexdigest()

    def _file_digest(self, path: str) -> tuple[str, int]:
        if not self.location.is_s3:
            return file_digest(Path(path))
        digest, size = hashlib.sha256(), 0
        with self.filesystem.open_input_stream(path) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
        return digest.hexdigest(), size

    def batches(self, batch_rows: int) -> Generator[Any, None, None]:
        """The input as pyarrow Tables of ``batch_rows`` rows (the last may have fewer)."""
        return _rechunk(self._record_batches(batch_rows), batch_rows)

    def _record_batches(self, batch_rows: int) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        for path in self.files:
            try:
                if self.kind == "csv":
                    with self.filesystem.open_input_stream(path) as stream:
                        reader = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES))
                        _check_text(self.relative(path), reader.schema)
                        yield from reader
                else:
                    with self.filesystem.open_input_file(path) as handle:
                        for batch in pq.ParquetFile(handle, pre_buffer=False).iter_batches(batch_size=batch_rows):
                            yield batch.replace_schema_metadata(None)
            except (pa.ArrowException, OSError) as exc:
                name = self.relative(path)
                message = f"{name} cannot be read: {_arrow_message(exc)}"
                raise InvalidBatchInput(message, details={"path": name}) from None


def _dictionary_columns(schema: Any) -> list[str]:
    """The columns worth dictionary encoding: not floats, whose values (features, scores)
    rarely repeat, so that trying costs the writer three times the time to gain nothing."""
    import pyarrow as pa

    return [field_.name for field_ in schema if not pa.types.is_floating(field_.type)]


def _check_text(name: str, schema: Any) -> None:
    """pyarrow reads a CSV column that is not valid UTF-8 as bytes; a CSV is text."""
    import pyarrow as pa

    for field_ in schema:
        if pa.types.is_binary(field_.type) or pa.types.is_large_binary(field_.type):
            raise InvalidBatchInput(
                f"{name}: column {field_.name!r} is not UTF-8 text", details={"path": name, "column": field_.name}
            )


def _rechunk(batches: Iterator[Any], rows: int) -> Generator[Any, None, None]:
    """Record batches of any sizes as Tables of exactly ``rows`` rows, the last excepted."""
    import pyarrow as pa

    pending: list[Any] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == rows:
                yield pa.Table.from_batches(pending)
                pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending)


def open_input(text: str) -> BatchInput:
    """The input at ``text``, its kind told by its suffix (a folder: Parquet files). Raises
    InvalidBatchInput naming the path for a missing input, an unknown kind, a Parquet file that
    does not parse, or a folder file of another schema than the first."""
    require_pyarrow()
    from pyarrow import fs as pafs

    location = parse_location(text)
    files = filesystem(location)
    try:
        info = files.get_file_info(location.fs_path)
    except OSError as exc:
        raise InvalidBatchInput(f"{text} cannot be read: {_arrow_message(exc)}", details={"path": text}) from None
    if info.type == pafs.FileType.Directory:
        found = files.get_file_info(pafs.FileSelector(location.fs_path, recursive=True))
        paths = [
            entry.path
            for entry in found
            if entry.type == pafs.FileType.File
            and not any(part.startswith((".", "_")) for part in entry.path[len(location.fs_path) :].split("/"))
        ]
        source = BatchInput(location, "folder", files, sorted(paths, key=_natural_key))
        for path in source.files:
            if not path.lower().endswith(_PARQUET_SUFFIXES):
                name = source.relative(path)
                raise InvalidBatchInput(
                    f"{name} in the input folder is not a Parquet file: a folder holds Parquet files only",
                    details={"path": name},
                )
        if not source.files:
            raise InvalidBatchInput(f"the input folder {text} holds no Parquet file", details={"path": text})
        _read_footers(source)
        return source
    if info.type != pafs.FileType.File:
        raise InvalidBatchInput(f"no such file or folder: {text}", details={"path": text})
    suffix = location.name.lower().rsplit(".", 1)[-1] if "." in location.name else ""
    if suffix == "csv":
        return BatchInput(location, "csv", files, [location.fs_path])
    if f".{suffix}" in _PARQUET_SUFFIXES:
        source = BatchInput(location, "parquet", files, [location.fs_path])
        _read_footers(source)
        return source
    raise InvalidBatchInput(
        f"{text} is neither a .csv nor a .parquet file (nor a folder of Parquet files)", details={"path": text}
    )


def _read_footers(source: BatchInput) -> None:
    """Schema and row count from every Parquet footer; one schema for all files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    first_name = ""
    for path in source.files:
        name = source.relative(path)
        try:
            with source.filesystem.open_input_file(path) as handle:
                metadata = pq.read_metadata(handle)
            schema = metadata.schema.to_arrow_schema().remove_metadata()
        except (pa.ArrowException, OSError) as exc:
            message = f"{name} is not a Parquet file: {_arrow_message(exc)}"
            raise InvalidBatchInput(message, details={"path": name}) from None
        if source.schema is None:
            source.schema, first_name = schema, name
        elif not schema.equals(source.schema):
            raise InvalidBatchInput(
                f"{name} has another schema than {first_name}: {_schema_difference(source.schema, schema)}",
                details={"path": name},
            )
        rows += metadata.num_rows
    source.rows = rows


def _schema_difference(first: Any, other: Any) -> str:
    for field_ in first:
        index = other.get_field_index(field_.name)
        if index < 0:
            return f"it has no column {field_.name!r}"
        if not other.field(index).type.equals(field_.type):
            return f"column {field_.name!r} is {other.field(index).type} there, {field_.type} in the first"
    extra = [name for name in other.names if name not in first.names]
    if extra:
        return f"it has a column {extra[0]!r} the first has not"
    return "its columns are in another order"


# -- output ----------------------------------------------------------------------------------


def output_kind(location: Location) -> OutputKind:
    name = location.name.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if "." in name and not location.text.endswith("/"):
        raise InvalidBatchInput(
            f"{location.text}: an output is a .csv or .parquet file, or a folder (a path without a suffix, "
            "or ending in /)",
            details={"path": location.text},
        )
    return "folder"


class BatchOutput:
    """Where scored tables go; nothing is visible at the output until :meth:`commit`.

    Every table must have the first one's schema (later ones are cast to it when they can
    be, so an all-null chunk of predictions is fine)."""

    def __init__(self, location: Location, kind: OutputKind, *, overwrite: bool) -> None:
        require_pyarrow()
        self.location = location
        self.kind = kind
        self.overwrite = overwrite
        self.rows = 0
        self._schema: Any = None
        self._writer: Any = None
        self._part = 0
        self._part_rows = 0
        if location.is_s3:
            self._client = _s3_client()
            self._check_s3_target()
            self._work = Path(tempfile.mkdtemp(prefix="cairn-predict-"))
            self._staged = self._work / (location.name if kind != "folder" else "parts")
        else:
            self._check_local_target()
            target = Path(location.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._work = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.cairn-tmp"
            if kind == "folder":
                self._work.mkdir()
            self._staged = self._work
        if kind == "folder":
            self._staged.mkdir(exist_ok=True)

    # -- checks before anything is written

    def _check_local_target(self) -> None:
        target = Path(self.location.path)
        if not (target.exists() or target.is_symlink()) or self.overwrite:
            if target.is_dir() and self.kind != "folder":
                raise InvalidBatchInput(f"{self.location.text} is a folder", details={"path": self.location.text})
            return
        if target.is_dir() and self.kind == "folder" and not any(target.iterdir()):
            return  # an empty folder made for the output
        raise AlreadyExists(
            f"the output {self.location.text} exists already (--overwrite replaces it)",
            details={"path": self.location.text},
        )

    def _check_s3_target(self) -> None:
        if self.overwrite:
            return
        key = self.location.path
        prefix = f"{key}/" if self.kind == "folder" else key
        listed = self._client.list_objects_v2(Bucket=self.location.bucket, Prefix=prefix, MaxKeys=10)
        taken = [item["Key"] for item in listed.get("Contents", []) if self.kind == "folder" or item["Key"] == key]
        if taken:
            raise AlreadyExists(
                f"the output {self.location.text} exists already (--overwrite replaces it)",
                details={"path": self.location.text},
            )

    # -- writing

    def staging_folder(self) -> Path | None:
        """For a local folder output: the hidden folder beside it where part files may be
        written directly (then :meth:`adopt` them); None for other outputs."""
        return self._staged if self.kind == "folder" and not self.location.is_s3 else None

    def adopt(self, rows: int) -> None:
        """Take the ``rows`` rows of part files someone else (Dask's workers) wrote into
        :meth:`staging_folder` as this output's."""
        if rows:
            self._schema = "adopted"
        self.rows = rows

    def write(self, table: Any) -> None:
        import pyarrow as pa

        if self._schema is None:
            self._schema = table.schema.remove_metadata()
        table = table.replace_schema_metadata(None)
        if not table.schema.equals(self._schema):
            try:
                table = table.cast(self._schema)
            except (pa.ArrowException, ValueError) as exc:
                raise InvalidBatchInput(
                    f"rows {self.rows} on do not have the types of the first rows ({_arrow_message(exc)}); "
                    "a CSV's column types come from its first block: write it as Parquet, or scale the batch",
                    details={"row": self.rows},
                ) from None
        if self._writer is None:
            self._writer = self._open_writer()
        self._writer.write_table(table) if self.kind != "csv" else self._writer.write(table)
        self.rows += table.num_rows
        self._part_rows += table.num_rows
        if self.kind == "folder" and self._part_rows >= PART_ROWS:
            self._writer.close()
            self._writer, self._part, self._part_rows = None, self._part + 1, 0

    def _open_writer(self) -> Any:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        if self.kind == "csv":
            return pacsv.CSVWriter(str(self._staged), self._schema)
        path = self._staged if self.kind == "parquet" else self._staged / part_name(self._part)
        return pq.ParquetWriter(str(path), self._schema, use_dictionary=_dictionary_columns(self._schema))

    def commit(self) -> None:
        """Make the output appear whole: rename it into place, or upload it."""
        if self._schema is None:
            raise InvalidBatchInput("the input has no rows: there is nothing to score", details={"rows": 0})
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.location.is_s3:
            self._upload()
            shutil.rmtree(self._work, ignore_errors=True)
            return
        target = Path(self.location.path)
        if self.kind == "folder":
            replace_folder(self._work, target)
        else:
            if target.is_symlink() or target.is_file():
                target.unlink()
            os.replace(self._work, target)

    def abort(self) -> None:
        """Remove what was written; the output is as it was before."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # the file is removed anyway
                pass
            self._writer = None
        if self._work.is_dir():
            shutil.rmtree(self._work, ignore_errors=True)
        else:
            self._work.unlink(missing_ok=True)

    def _upload(self) -> None:
        bucket, key = self.location.bucket, self.location.path
        if self.kind != "folder":
            self._client.upload_file(str(self._staged), bucket, key)
            return
        if self.overwrite:
            delete_s3_prefix(self._client, bucket, f"{key}/")
        uploaded: list[str] = []
        try:
            for part in sorted(self._staged.iterdir()):
                self._client.upload_file(str(part), bucket, f"{key}/{part.name}")
                uploaded.append(f"{key}/{part.name}")
        except BaseException:
            for done in uploaded:
                self._client.delete_object(Bucket=bucket, Key=done)
            raise


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def replace_folder(staged: Path, target: Path) -> None:
    """Move the folder ``staged`` to ``target``, replacing what is there, in two renames."""
    if not (target.exists() or target.is_symlink()):
        os.replace(staged, target)
        return
    if target.is_dir() and not target.is_symlink():
        trash = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.cairn-old"
        os.replace(target, trash)
        os.replace(staged, target)
        shutil.rmtree(trash, ignore_errors=True)
        return
    target.unlink()
    os.replace(staged, target)


def delete_s3_prefix(client: Any, bucket: str | None, prefix: str) -> None:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
