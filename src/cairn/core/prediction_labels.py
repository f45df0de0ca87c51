"""Labels: the ground truth of logged predictions, which usually arrives later than they do
(docs/monitoring.md, "Labels").

A call gives request ids, one label each and optionally the time each label was known; they are
kept as one Parquet file of :data:`LABEL_COLUMNS` in the blob store, and the metadata store
keeps one :class:`PredictionLabelFile` per file. Its ``first_ms`` and ``last_ms`` are the times
of the *predictions* labelled (not of the labels), so a monitor's window finds the label files
that can label it by the same kind of index range as its prediction logs, and retention drops
labels with the predictions they label.

When several labels are given for one request id, the one with the latest ``timestamp_ms``
counts; on a tie, the one logged last (within a call, the later in the call).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cairn.core import limits
from cairn.core.errors import InvalidPredictionLabels

#: Rows one call (one request) may label at most.
MAX_LABELS_PER_CALL = 100_000
#: Characters of a request id at most (``cairn serve`` makes 32; a V2 request's own may be longer).
MAX_REQUEST_ID_LENGTH = 256
#: The columns of a label file.
LABEL = "label"
LABEL_COLUMNS = ("request_id", LABEL, "timestamp_ms")
#: Label files one listing answers by default, and at most.
DEFAULT_LABEL_PAGE = 1000
MAX_LABEL_PAGE = limits.MAX_PAGE_SIZE


@dataclass(frozen=True, slots=True)
class PredictionLabelFile:
    """One Parquet file of labels for a model version's predictions."""

    id: str
    model: str
    version: int
    rows: int
    #: The earliest and latest prediction time (``timestamp_ms`` of the prediction log) labelled.
    first_ms: int
    last_ms: int
    size: int
    digest: str
    created_by: str
    created_at: int


@dataclass(frozen=True, slots=True)
class CheckedLabels:
    """Labels as a call gave them, checked: one kind of label (``int``, ``float`` or ``str``)."""

    ids: list[str]
    labels: list[Any]
    timestamps: list[int]
    kind: str


def check_labels(ids: object, labels: object, timestamps: object, now: int) -> CheckedLabels:
    """Ids, labels and timestamps (``now`` for each when None), checked: InvalidPredictionLabels
    naming the field otherwise. Booleans count as integers (0 and 1); integers and floats mixed
    are floats; numbers and text mixed are refused."""
    id_list = _sequence(ids, "ids")
    label_list = _sequence(labels, "labels")
    if not id_list:
        raise InvalidPredictionLabels("no labels given: ids is empty", details={"field": "ids"})
    if len(id_list) > MAX_LABELS_PER_CALL:
        raise InvalidPredictionLabels(
            f"one call labels at most {MAX_LABELS_PER_CALL} predictions, got {len(id_list)}",
            details={"field": "ids", "limit": MAX_LABELS_PER_CALL},
        )
    if len(label_list) != len(id_list):
        raise InvalidPredictionLabels(
            f"ids and labels differ in length: {len(id_list)} ids, {len(label_list)} labels",
            details={"field": "labels"},
        )
    for position, request_id in enumerate(id_list):
        if not isinstance(request_id, str) or not request_id or len(request_id) > MAX_REQUEST_ID_LENGTH:
            raise InvalidPredictionLabels(
                f"a request id is text of 1 to {MAX_REQUEST_ID_LENGTH} characters, got {str(request_id)[:40]!r} "
                f"at position {position}",
                details={"field": "ids", "position": position},
            )
        if "\x00" in request_id:
            raise InvalidPredictionLabels(
                f"request id at position {position} holds a NUL byte", details={"field": "ids", "position": position}
            )
    kind = _label_kind(label_list)
    if timestamps is None:
        times = [now] * len(id_list)
    else:
        given = _sequence(timestamps, "timestamps")
        if len(given) != len(id_list):
            raise InvalidPredictionLabels(
                f"ids and timestamps differ in length: {len(id_list)} ids, {len(given)} timestamps",
                details={"field": "timestamps"},
            )
        times = []
        for position, value in enumerate(given):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limits.MAX_INT64:
                raise InvalidPredictionLabels(
                    f"a timestamp is whole milliseconds since the epoch (0 to 2^63-1), got {str(value)[:40]!r} "
                    f"at position {position}",
                    details={"field": "timestamps", "position": position},
                )
            times.append(value)
    converted: list[Any]
    if kind == "float":
        converted = [float(v) for v in label_list]
    elif kind == "int":
        converted = [int(v) for v in label_list]
    else:
        converted = list(label_list)
    return CheckedLabels(list(id_list), converted, times, kind)


def _sequence(value: object, field: str) -> list[Any]:
    """A list of plain Python values: numpy arrays, pandas Series and numpy scalars unwrapped."""
    if isinstance(value, str | bytes | bytearray):
        raise InvalidPredictionLabels(f"{field} is a list, got {type(value).__name__}", details={"field": field})
    tolist = getattr(value, "tolist", None)  # a numpy array or pandas Series
    if not isinstance(value, Sequence) and callable(tolist):
        value = tolist()
    if not isinstance(value, Sequence):
        raise InvalidPredictionLabels(f"{field} is a list, got {type(value).__name__}", details={"field": field})
    return [_plain(v) for v in value]


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # a numpy scalar
    if item is not None and not isinstance(value, str | bytes | int | float) and callable(item):
        return item()
    if isinstance(value, str) and type(value) is not str:
        return str(value)
    return value


def _label_kind(labels: Sequence[Any]) -> str:
    """``int``, ``float`` or ``str``: what every label is."""
    kinds = set()
    for position, label in enumerate(labels):
        if isinstance(label, bool | int) and not isinstance(label, float):
            if not isinstance(label, bool) and not -(2**63) <= label < 2**63:
                raise _bad_label(position, "an integer label fits in 64 bits")
            kinds.add("int")
        elif isinstance(label, float):
            if not math.isfinite(label):
                raise _bad_label(position, "a label is a finite number or text, not NaN or infinite")
            kinds.add("float")
        elif isinstance(label, str):
            if "\x00" in label:
                raise _bad_label(position, "a label holds no NUL byte")
            if len(label) > limits.MAX_NAME_LENGTH:
                raise _bad_label(position, f"a text label is at most {limits.MAX_NAME_LENGTH} characters")
            kinds.add("str")
        else:
            raise _bad_label(position, f"a label is a number or text, not {type(label).__name__}")
    if "str" in kinds and len(kinds) > 1:
        raise InvalidPredictionLabels("labels are all numbers or all text, not a mix", details={"field": "labels"})
    if "str" in kinds:
        return "str"
    return "float" if "float" in kinds else "int"


def _bad_label(position: int, message: str) -> InvalidPredictionLabels:
    return InvalidPredictionLabels(
        f"{message} (label at position {position})", details={"field": "labels", "position": position}
    )


def label_token_after(file: PredictionLabelFile) -> str:
    """The token of the listing page that starts after ``file`` (the form of a prediction log
    listing's: first prediction time, ``-``, id)."""
    return f"{file.first_ms}-{file.id}"


def label_file_to_wire(file: PredictionLabelFile) -> dict[str, Any]:
    return {
        "id": file.id,
        "model": file.model,
        "version": file.version,
        "rows": file.rows,
        "first_ms": file.first_ms,
        "last_ms": file.last_ms,
        "size": file.size,
        "digest": file.digest,
        "created_by": file.created_by,
        "created_at": file.created_at,
    }


def label_file_from_wire(data: dict[str, Any]) -> PredictionLabelFile:
    return PredictionLabelFile(
        id=data["id"],
        model=data["model"],
        version=data["version"],
        rows=data["rows"],
        first_ms=data["first_ms"],
        last_ms=data["last_ms"],
        size=data["size"],
        digest=data["digest"],
        created_by=data["created_by"],
        created_at=data["created_at"],
    )
