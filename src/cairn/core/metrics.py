"""Metric points in columns: what a batch carries in, what a history gives out.

Points travel and rest as columns (steps, timestamps, values) per key, never as one object per
point: a million points is then three arrays, not a million dicts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cairn.core.errors import InvalidRequest, InvalidValue
from cairn.core.limits import (
    MAX_INT64,
    MAX_POINTS_PER_BATCH,
    MIN_INT64,
    check_int64,
    check_key,
    check_metric_value,
)

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]

_NON_FINITE_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass(frozen=True, slots=True, eq=False)
class MetricColumns:
    """The points of one key in one batch, in the order they were logged."""

    key: str
    steps: Int64Array
    timestamps: Int64Array
    values: Float64Array

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    @classmethod
    def from_lists(cls, key: object, steps: object, timestamps: object, values: object) -> MetricColumns:
        """Validate raw (JSON-decoded) columns and pack them into arrays.

        The fast path hands the lists to numpy; only when that fails do we walk the values to
        say precisely which one is wrong.
        """
        key = check_key(key, "metric")
        if not (isinstance(steps, list) and isinstance(timestamps, list) and isinstance(values, list)):
            raise InvalidRequest(f"metric {key!r}: steps, timestamps and values must be lists")
        if not len(steps) == len(timestamps) == len(values):
            raise InvalidRequest(
                f"metric {key!r}: steps, timestamps and values must have the same length",
                details={"steps": len(steps), "timestamps": len(timestamps), "values": len(values)},
            )
        return cls(
            key=key,
            steps=_integer_column(steps, "step", key),
            timestamps=_integer_column(timestamps, "timestamp", key, minimum=0),
            values=_value_column(values, key),
        )

    def check(self) -> None:
        """Refuse columns a store cannot hold, however they were built.

        :meth:`from_lists` checks raw input; this checks the arrays themselves, so that columns
        made directly (numpy in, no JSON) meet the same rules in-process as through a server.
        """
        key = check_key(self.key, "metric")
        details = {"key": key}
        arrays = (self.steps, self.timestamps, self.values)
        if not all(isinstance(a, np.ndarray) and a.ndim == 1 for a in arrays):
            raise InvalidRequest(f"metric {key!r}: steps, timestamps and values must be 1-D arrays")
        if not len(self.steps) == len(self.timestamps) == len(self.values):
            raise InvalidRequest(
                f"metric {key!r}: steps, timestamps and values must have the same length",
                details={"lengths": [len(a) for a in arrays]},
            )
        for what, array in (("step", self.steps), ("timestamp", self.timestamps)):
            if array.dtype.kind not in "iu":
                raise InvalidValue(f"metric {key!r}: every {what} must be an integer", details=details)
            if array.dtype.kind == "u" and array.size and int(array.max()) > MAX_INT64:
                raise InvalidValue(f"metric {key!r}: a {what} does not fit in 64 bits", details=details)
        if self.timestamps.size and int(self.timestamps.min()) < 0:
            raise InvalidValue(f"metric {key!r}: timestamp must be at least 0", details=details)
        if self.values.dtype.kind not in "fiu":
            raise InvalidValue(f"metric {key!r}: values must be numbers", details=details)


def _integer_column(items: list[object], what: str, key: str, minimum: int = MIN_INT64) -> Int64Array:
    if not items:
        return np.empty(0, dtype=np.int64)
    try:
        # Without a dtype numpy tells us what the items are: kind "i" only if all are integers.
        array = np.array(items)
    except (ValueError, OverflowError):
        array = np.array([], dtype=object)
    if array.dtype.kind != "i" or array.shape != (len(items),):
        for item in items:
            if not isinstance(item, int):  # JSON gives ints, not numpy integers
                raise InvalidValue(
                    f"metric {key!r}: {what} must be an integer, got {item!r}"[:200], details={"key": key}
                )
            check_int64(item, f"metric {key!r}: {what}", minimum=minimum)
        raise InvalidValue(f"metric {key!r}: every {what} must be an integer", details={"key": key})
    array = array.astype(np.int64, copy=False)
    if int(array.min()) < minimum:
        raise InvalidValue(f"metric {key!r}: {what} must be at least {minimum}", details={"key": key})
    return array


def _value_column(items: list[object], key: str) -> Float64Array:
    if not items:
        return np.empty(0, dtype=np.float64)
    try:
        array = np.array(items)
    except (ValueError, OverflowError):
        array = np.array([], dtype=object)
    if array.dtype.kind in "fi" and array.shape == (len(items),):
        return array.astype(np.float64, copy=False)
    return np.array([check_metric_value(key, item) for item in items], dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class MetricBatch:
    """Metric columns sent together, named by (client_id, seq) so a resend is recognised."""

    client_id: str
    seq: int
    columns: Sequence[MetricColumns]

    @property
    def points(self) -> int:
        return sum(len(c) for c in self.columns)

    def check(self) -> None:
        """Every rule a store relies on: the size of the batch, its seq and each column's content."""
        self.check_size()
        check_int64(self.seq, "seq", minimum=0, error=InvalidRequest)
        for columns in self.columns:
            columns.check()

    def check_size(self) -> None:
        if self.points > MAX_POINTS_PER_BATCH:
            raise InvalidRequest(
                f"a batch may hold at most {MAX_POINTS_PER_BATCH} points, this one has {self.points}",
                details={"limit": MAX_POINTS_PER_BATCH},
            )


@dataclass(frozen=True, slots=True, eq=False)
class MetricHistory:
    """Points of one metric of one run, ordered by step (then by the order they were logged).

    ``total`` counts the points in the requested step window; ``downsampled`` says whether the
    arrays hold an envelope of them rather than all of them.
    """

    key: str
    steps: Int64Array
    timestamps: Int64Array
    values: Float64Array
    total: int
    downsampled: bool = False
    next_offset: int | None = None

    def __len__(self) -> int:
        return int(self.steps.shape[0])


def parse_wire_value(value: float | int | str) -> float:
    if isinstance(value, str):
        return _NON_FINITE_TEXT[value]
    return float(value)


def envelope_indices(steps: Int64Array, values: Float64Array, buckets: int) -> npt.NDArray[np.intp]:
    """Indices of the points to draw so that no extreme is lost when ``buckets`` < points.

    ``steps`` must be sorted. The step range is cut into ``buckets`` equal spans; each non-empty
    span keeps its first point, its last, its minimum and its maximum (finite or infinite), and
    its first NaN if it has one, so a single spike or gap among a million points still shows.
    Returned indices are sorted and unique, at most 5 per bucket.
    """
    n = int(steps.shape[0])
    if n == 0 or buckets <= 0:
        return np.empty(0, dtype=np.intp)
    first_step, last_step = int(steps[0]), int(steps[-1])
    span = last_step - first_step + 1
    # Which bucket each point falls in, by step: an honest x-axis even when steps are uneven.
    # Offsets are taken in uint64, where they are exact (int64 would overflow past 2**63).
    offsets = steps.astype(np.uint64) - np.uint64(first_step % 2**64)
    if span * buckets < 2**64:
        bucket_of = (offsets * np.uint64(buckets) // np.uint64(span)).astype(np.intp)
    else:  # steps spread over most of the int64 range: float precision is plenty there
        bucket_of = (offsets.astype(np.float64) * (buckets / span)).astype(np.intp)
    np.minimum(bucket_of, buckets - 1, out=bucket_of)
    starts = np.flatnonzero(np.r_[True, bucket_of[1:] != bucket_of[:-1]])
    ends = np.r_[starts[1:], n] - 1

    is_nan = np.isnan(values)
    keep = [starts, ends]
    if is_nan.any():
        for fill, reducer in ((np.inf, np.minimum), (-np.inf, np.maximum)):
            finite_or_inf = np.where(is_nan, fill, values)
            extreme = reducer.reduceat(finite_or_inf, starts)
            sizes = np.diff(np.r_[starts, n])
            hit = (finite_or_inf == np.repeat(extreme, sizes)) & ~is_nan
            keep.append(_first_per_bucket(hit, bucket_of))
        keep.append(_first_per_bucket(is_nan, bucket_of))
    else:
        sizes = np.diff(np.r_[starts, n])
        for reducer in (np.minimum, np.maximum):
            extreme = reducer.reduceat(values, starts)
            keep.append(_first_per_bucket(values == np.repeat(extreme, sizes), bucket_of))
    return np.unique(np.concatenate(keep))


def _first_per_bucket(mask: npt.NDArray[np.bool_], bucket_of: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The first index in each bucket where ``mask`` holds."""
    hits = np.flatnonzero(mask)
    if hits.size == 0:
        return hits
    _, first = np.unique(bucket_of[hits], return_index=True)
    return hits[first]
