"""Prediction logs as entities: the Parquet files ``cairn serve`` writes of what a model
version was asked and answered (docs/prediction-logs.md).

A file holds the sampled predictions of one registered model version within one UTC hour,
one row per predicted input row. Its bytes live in the blob store under their SHA-256, like an
artifact's; the metadata store keeps one :class:`PredictionLogFile` per file, so monitoring
finds a version's files for a window of time without opening any.

Every file has the columns of :data:`REQUIRED_COLUMNS`; the rest are the request's input
columns and the model's prediction columns, named in the Parquet schema's metadata under
:data:`INPUTS_KEY` and :data:`OUTPUTS_KEY`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cairn.core import limits
from cairn.core.errors import InvalidPageToken, InvalidValue

#: Milliseconds in the hour a file's predictions fall within.
HOUR_MS = 3_600_000
#: The media type of a file, sent and answered over HTTP (IANA's, 2024).
MEDIA_TYPE = "application/vnd.apache.parquet"
#: Bytes of one file at most: what one request body may hold (limits.MAX_REQUEST_BYTES).
MAX_PREDICTION_LOG_BYTES = limits.MAX_REQUEST_BYTES
#: Files one listing answers by default, and at most.
DEFAULT_PREDICTION_LOG_PAGE = 1000
MAX_PREDICTION_LOG_PAGE = limits.MAX_PAGE_SIZE

#: Every file has these columns, of these kinds, besides the inputs and predictions.
REQUEST_ID = "request_id"  # text: the V2 request's id, else one made for the request
TIMESTAMP_MS = "timestamp_ms"  # integer: when the prediction was answered, ms since the epoch
LATENCY_MS = "latency_ms"  # number: the request's time from parsing to its predictions
MODEL_VERSION = "model_version"  # integer: the version that answered, the file's own
REQUIRED_COLUMNS: dict[str, str] = {
    REQUEST_ID: "string",
    TIMESTAMP_MS: "integer",
    LATENCY_MS: "number",
    MODEL_VERSION: "integer",
}
#: Keys of the Parquet schema's metadata that name the input and prediction columns (JSON lists).
INPUTS_KEY = "cairn.inputs"
OUTPUTS_KEY = "cairn.outputs"
#: The registered model's name, in the schema's metadata too, so a file read alone says whose it is.
MODEL_KEY = "cairn.model"
#: The one prediction column of a model with one output; ``prediction.NAME`` for each of several.
PREDICTION = "prediction"
#: The one input column of a tensor input: each row's part of the tensor.
TENSOR_INPUT = "input"

#: How far past the store's clock a prediction time may lie (ms): clocks of the machines that
#: predict drift from the store's by seconds, rarely by more; five minutes covers that and still
#: refuses seconds-for-milliseconds and other unit mistakes, which land years ahead.
FUTURE_SKEW_MS = 300_000

#: What a column of a file may be found to be against the version's signature.
MISSING, EXTRA, WRONG_TYPE = "missing", "extra", "type"
#: The kinds of the signature's column types a file's column of each kind fits (safe widenings).
_FITS: dict[str, frozenset[str]] = {
    "boolean": frozenset({"boolean"}),
    "integer": frozenset({"integer", "float", "double"}),
    "float": frozenset({"float", "double"}),
    "string": frozenset({"string"}),
    "binary": frozenset({"binary"}),
    "datetime": frozenset({"datetime"}),
    # a column of nothing but missing values fits any type
    "null": frozenset({"boolean", "integer", "float", "double", "string", "binary", "datetime"}),
}

#: A file's id: 32 hex characters (UUID4), like a run's.
FILE_ID_PATTERN = "^[0-9a-f]{32}$"
#: A listing's page token: the last file's first prediction time, ``-``, its id.
PAGE_TOKEN_PATTERN = "^[0-9]{1,19}-[0-9a-f]{32}$"
MAX_PAGE_TOKEN_LENGTH = 19 + 1 + 32
_FILE_ID = re.compile(FILE_ID_PATTERN)
_PAGE_TOKEN = re.compile(PAGE_TOKEN_PATTERN)


@dataclass(frozen=True, slots=True)
class ColumnMismatch:
    """One input column of a file that does not match the version's signature: ``missing``
    (the signature names it, the file lacks it), ``extra`` (the other way round) or ``type``
    (its values are of a type the signature's does not take)."""

    column: str
    problem: str
    #: The signature's type (None for an extra column) and the file's kind (None when missing).
    expected: str | None
    found: str | None


@dataclass(frozen=True, slots=True)
class PredictionLogFile:
    """One Parquet file of a model version's predictions within one UTC hour."""

    id: str
    model: str
    version: int
    #: The start of the UTC hour every prediction in the file falls within (ms).
    hour_ms: int
    rows: int
    #: The earliest and latest ``timestamp_ms`` in the file.
    first_ms: int
    last_ms: int
    size: int
    #: The SHA-256 of the file's bytes: its key in the blob store.
    digest: str
    created_by: str
    created_at: int
    #: The input columns that do not match the version's signature (none when it names no
    #: columns), and the rows they concern: all of the file's when there is one, else 0. Such a
    #: file is kept all the same: what a model was really sent is what monitoring must see.
    mismatches: tuple[ColumnMismatch, ...] = ()
    mismatched_rows: int = 0


def signature_mismatches(signature: Sequence[Mapping[str, Any]], found: Mapping[str, str]) -> list[ColumnMismatch]:
    """How the input columns ``found`` (name to kind: ``boolean``, ``integer``, ``float``,
    ``string``, ``binary``, ``datetime``, ``null`` or anything else) differ from a signature's
    named input columns (``[{"name", "type"}]``, as the manifest has them), in the signature's
    order, then the extra columns in the file's."""
    mismatches: list[ColumnMismatch] = []
    named = {str(c["name"]): str(c["type"]) for c in signature}
    for name, expected in named.items():
        kind = found.get(name)
        if kind is None:
            mismatches.append(ColumnMismatch(name, MISSING, expected, None))
        elif expected not in _FITS.get(kind, frozenset()):
            mismatches.append(ColumnMismatch(name, WRONG_TYPE, expected, kind))
    mismatches.extend(ColumnMismatch(name, EXTRA, None, kind) for name, kind in found.items() if name not in named)
    return mismatches


def mismatch_to_wire(mismatch: ColumnMismatch) -> dict[str, Any]:
    return {
        "column": mismatch.column,
        "problem": mismatch.problem,
        "expected": mismatch.expected,
        "found": mismatch.found,
    }


def mismatch_from_wire(data: Mapping[str, Any]) -> ColumnMismatch:
    return ColumnMismatch(data["column"], data["problem"], data.get("expected"), data.get("found"))


def hour_of(time_ms: int) -> int:
    """The start of the UTC hour ``time_ms`` falls within."""
    return time_ms - time_ms % HOUR_MS


def check_hour(hour_ms: object) -> int:
    """The start of a UTC hour: a multiple of :data:`HOUR_MS` from 0. Raises InvalidValue."""
    checked = limits.check_int64(hour_ms, "hour_ms", minimum=0)
    if checked % HOUR_MS:
        raise InvalidValue(
            f"hour_ms is the start of a UTC hour (a multiple of {HOUR_MS}), got {checked}",
            details={"field": "hour_ms"},
        )
    return checked


def check_file_id(file_id: object) -> str:
    """A file's id as ids are made (32 lowercase hex characters). Raises InvalidValue."""
    if not isinstance(file_id, str) or not _FILE_ID.fullmatch(file_id):
        raise InvalidValue(f"a prediction log's id is 32 hex characters, got {str(file_id)[:40]!r}")
    return file_id


def token_after(file: PredictionLogFile) -> str:
    """The token of the page that starts after ``file``."""
    return f"{file.first_ms}-{file.id}"


def position_from_token(token: object) -> tuple[int, str]:
    """The (first_ms, id) a listing's page token says the next page starts after."""
    if not isinstance(token, str) or not _PAGE_TOKEN.fullmatch(token):
        raise InvalidPageToken(f"{str(token)[:40]!r} is not a page token of a prediction log listing")
    first_ms, file_id = token.split("-", 1)
    return int(first_ms), file_id


def prediction_log_to_wire(file: PredictionLogFile) -> dict[str, Any]:
    return {
        "id": file.id,
        "model": file.model,
        "version": file.version,
        "hour_ms": file.hour_ms,
        "rows": file.rows,
        "first_ms": file.first_ms,
        "last_ms": file.last_ms,
        "size": file.size,
        "digest": file.digest,
        "created_by": file.created_by,
        "created_at": file.created_at,
        "mismatches": [mismatch_to_wire(m) for m in file.mismatches],
        "mismatched_rows": file.mismatched_rows,
    }


def prediction_log_from_wire(data: dict[str, Any]) -> PredictionLogFile:
    return PredictionLogFile(
        id=data["id"],
        model=data["model"],
        version=data["version"],
        hour_ms=data["hour_ms"],
        rows=data["rows"],
        first_ms=data["first_ms"],
        last_ms=data["last_ms"],
        size=data["size"],
        digest=data["digest"],
        created_by=data["created_by"],
        created_at=data["created_at"],
        mismatches=tuple(mismatch_from_wire(m) for m in data.get("mismatches") or ()),
        mismatched_rows=int(data.get("mismatched_rows") or 0),
    )
