"""Prediction logging: a sampled share of what ``cairn serve`` is asked and answers, written as
Parquet files per model version and UTC hour (docs/prediction-logs.md).

The request's path only enqueues: :meth:`PredictionLogger.offer` draws the sample, checks the
budget and puts a small record on a bounded queue, without converting anything, and returns.
A full queue (or a budget of bytes spent) drops the record and counts it; nothing on the
request's path waits for the log or can fail because of it.

One writer thread per process drains the queue, gathers records by (model, version, UTC hour)
and, every ``flush_rows`` rows, ``flush_bytes`` bytes or ``flush_seconds``, turns a group into
one Parquet table (a row per predicted input row) and hands it to the sink. A sink that fails
drops that file with a warning on the ``cairn.serve`` logger and a count: a file is never
retried, so a store that is away costs the predictions of its absence and never memory.

The counters (:meth:`PredictionLogger.counters`) count requests, by outcome: ``logged``,
``sampled_out``, ``dropped_full`` and ``dropped_error``.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cairn.client.prediction_files import encode_prediction_log, require_pyarrow
from cairn.core.clock import now_ms
from cairn.core.errors import InvalidValue
from cairn.core.prediction_logs import (
    LATENCY_MS,
    MODEL_VERSION,
    PREDICTION,
    REQUEST_ID,
    REQUIRED_COLUMNS,
    TENSOR_INPUT,
    TIMESTAMP_MS,
    hour_of,
)
from cairn.serving import payloads
from cairn.serving.model_source import ServedModel

log = logging.getLogger("cairn.serve")

LOGGED, SAMPLED_OUT, DROPPED_FULL, DROPPED_ERROR = "logged", "sampled_out", "dropped_full", "dropped_error"
#: Bytes a value of a list column is reckoned at when its size is not known (a Python list).
_GUESSED_VALUE_BYTES = 16


class PredictionSink(Protocol):
    """Where the writer thread puts each file; called from that thread only."""

    def write(self, model: str, version: int, hour_ms: int, parquet: bytes) -> object:
        """Keep one Parquet file; raise anything when it could not be kept."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Offered:
    """One sampled request, as the request's path left it: nothing converted yet."""

    model: str
    version: int
    columns: dict[str, Any] | None
    tensor: np.ndarray[Any, Any] | None
    rows: int
    request_id: str | None
    outputs: Any
    latency_ms: float
    time_ms: int
    size: int


@dataclass(slots=True)
class _Group:
    """The records of one (model, version, hour) waiting for their file."""

    records: list[_Offered] = field(default_factory=list)
    rows: int = 0
    size: int = 0

    def add(self, record: _Offered) -> None:
        self.records.append(record)
        self.rows += record.rows
        self.size += record.size


_STOP = object()


class PredictionLogger:
    """Implements ``cairn.serving.app.PredictionLog``: samples requests on the request's path
    and writes them to ``sink`` from a thread of its own (module docstring).

    Memory stays bounded: at most ``max_queue`` requests, and about ``max_queued_bytes`` of
    their inputs and outputs, are held between ``offer`` and the sink, whatever the sink does."""

    def __init__(
        self,
        sink: PredictionSink,
        *,
        sample_rate: float,
        max_queue: int = 10_000,
        max_queued_bytes: int = 256 * 1024 * 1024,
        flush_rows: int = 10_000,
        flush_bytes: int = 16 * 1024 * 1024,
        flush_seconds: float = 60.0,
        close_seconds: float = 10.0,
    ) -> None:
        if not 0 <= sample_rate <= 1:
            raise InvalidValue(f"the share of requests logged is from 0 to 1, got {sample_rate}")
        if min(max_queue, max_queued_bytes, flush_rows, flush_bytes) < 1 or flush_seconds <= 0:
            raise InvalidValue("the prediction log's queue and flush sizes are positive")
        require_pyarrow()
        self.sample_rate = sample_rate
        self.max_queued_bytes = max_queued_bytes
        self.flush_rows = flush_rows
        self.flush_bytes = flush_bytes
        self.flush_seconds = flush_seconds
        self.close_seconds = close_seconds
        self._sink = sink
        self._queue: queue.Queue[Any] = queue.Queue(max_queue)
        self._lock = threading.Lock()
        self._counts = {LOGGED: 0, SAMPLED_OUT: 0, DROPPED_FULL: 0, DROPPED_ERROR: 0}
        #: Bytes of the records offered and not yet written or dropped.
        self._held_bytes = 0
        self._closed = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cairn-prediction-log", daemon=True)
        self._thread.start()

    # -- the request's path ------------------------------------------------------------------

    def offer(self, served: ServedModel, request: payloads.ParsedRequest, outputs: Any, latency_ms: float) -> None:
        """Enqueue one answered request if it is sampled and there is room; never raises,
        never waits."""
        try:
            if self._closed:
                return
            if not (random.random() < self.sample_rate):
                self._count(SAMPLED_OUT)
                return
            location = served.location
            if location.name is None or location.version is None:  # no version to log it to
                self._count(DROPPED_ERROR)
                return
            size = _reckoned_bytes(request, outputs)
            record = _Offered(
                location.name,
                location.version,
                request.columns,
                request.tensor,
                request.rows,
                request.request_id,
                outputs,
                latency_ms,
                now_ms(),
                size,
            )
            with self._lock:
                if self._held_bytes + size > self.max_queued_bytes:
                    self._counts[DROPPED_FULL] += 1
                    return
                self._held_bytes += size
            try:
                self._queue.put_nowait(record)
            except queue.Full:
                self._release(size, DROPPED_FULL, 1)
        except Exception:  # the log must never fail a prediction
            self._count(DROPPED_ERROR)

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def close(self) -> None:
        """Write what is queued (waiting up to ``close_seconds``) and stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        try:
            self._queue.put_nowait(_STOP)  # wakes a writer waiting on an empty queue
        except queue.Full:
            pass  # a full queue wakes it anyway
        self._thread.join(self.close_seconds)
        if self._thread.is_alive():
            log.warning(
                "the prediction log did not finish writing within %s s; what it held is lost", self.close_seconds
            )
            return
        self._sink.close()

    def _count(self, outcome: str, requests: int = 1) -> None:
        with self._lock:
            self._counts[outcome] += requests

    def _release(self, size: int, outcome: str, requests: int) -> None:
        with self._lock:
            self._held_bytes -= size
            self._counts[outcome] += requests

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._drain()
        except Exception:  # a bug here must not pass unseen: the log would stop silently
            log.exception("the prediction log's writer stopped")

    def _drain(self) -> None:
        groups: dict[tuple[str, int, int], _Group] = {}
        deadline = time.monotonic() + self.flush_seconds
        while not self._stopping.is_set():
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = None
            if isinstance(item, _Offered):
                self._gather(groups, item)
            if time.monotonic() >= deadline:
                for key in list(groups):
                    self._write(key, groups.pop(key).records)
                deadline = time.monotonic() + self.flush_seconds
        while True:  # closing: what is queued still goes
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Offered):
                self._gather(groups, item)
        for key in list(groups):
            self._write(key, groups.pop(key).records)

    def _gather(self, groups: dict[tuple[str, int, int], _Group], item: _Offered) -> None:
        """Add ``item`` to its group; write the group once it is a file's worth."""
        key = (item.model, item.version, hour_of(item.time_ms))
        group = groups.setdefault(key, _Group())
        group.add(item)
        if group.rows >= self.flush_rows or group.size >= self.flush_bytes:
            self._write(key, groups.pop(key).records)

    def _write(self, key: tuple[str, int, int], records: list[_Offered]) -> None:
        model, version, hour_ms = key
        size = sum(r.size for r in records)
        try:
            data, written = parquet_file(model, records)
            if written:
                self._sink.write(model, version, hour_ms, data)
        except Exception as exc:
            log.warning(
                "the predictions of %d requests to %s version %s were not logged: %s",
                len(records),
                model,
                version,
                _reason(exc),
            )
            self._release(size, DROPPED_ERROR, len(records))
            return
        with self._lock:
            self._held_bytes -= size
            self._counts[LOGGED] += written
            self._counts[DROPPED_ERROR] += len(records) - written


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _reckoned_bytes(request: payloads.ParsedRequest, outputs: Any) -> int:
    """About how many bytes a record holds, without looking at its values: an array's
    ``nbytes``, a list's length times a guess. O(columns), not O(rows)."""
    if request.tensor is not None:
        size = int(request.tensor.nbytes)
    else:
        size = sum(_nbytes(values) for values in (request.columns or {}).values())
    outputs_size = _nbytes(outputs) if isinstance(outputs, np.ndarray | list) else request.rows * 8
    return max(1, size + outputs_size)


def _nbytes(values: Any) -> int:
    if isinstance(values, np.ndarray):
        return int(values.nbytes)
    try:
        return len(values) * _GUESSED_VALUE_BYTES
    except TypeError:
        return _GUESSED_VALUE_BYTES


# -- records to a Parquet file ------------------------------------------------------------------

#: Kinds of numpy arrays pyarrow takes whole (numbers, booleans, times, fixed-width text).
_ARROW_KINDS = frozenset("biufmMU")
_NUMBER_KINDS = frozenset("biuf")
#: What pyarrow raises for values a column's type cannot hold.
_CONVERSION_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError, OverflowError)


@dataclass(frozen=True, slots=True)
class _Columns:
    """One record as columns, each ``rows`` long: its inputs, predictions and the four the
    file format requires."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    values: dict[str, Any]


def parquet_file(model: str, records: Sequence[_Offered]) -> tuple[bytes, int]:
    """One Parquet file of ``records`` (one model version's, of one hour) by prediction time,
    and how many records it holds. A record left out (its predictions are not one per input row,
    or a value fits no column type the other records' do) is the caller's to count as dropped."""
    import pyarrow as pa

    converted = [c for c in map(_columns, records) if c is not None]
    tables: list[tuple[Any, int]] = []  # (table, records in it)
    groups: dict[tuple[str, ...], list[_Columns]] = {}
    for columns in converted:
        groups.setdefault(tuple(columns.values), []).append(columns)
    for group in groups.values():
        try:
            tables.append((_table(group), len(group)))
        except (*_CONVERSION_ERRORS, pa.ArrowException):
            for one in group:  # one record's odd value: keep the others
                try:
                    tables.append((_table([one]), 1))
                except (*_CONVERSION_ERRORS, pa.ArrowException):
                    continue
    if not tables:
        return b"", 0
    table, written = _concatenated(tables)
    inputs = [name for c in converted for name in c.inputs]
    outputs = [name for c in converted for name in c.outputs]
    return encode_prediction_log(table, model, inputs, outputs), written


def _concatenated(tables: list[tuple[Any, int]]) -> tuple[Any, int]:
    """One table of ``tables`` (a column's types promoted, ints to floats and the like) and the
    records in it: all of them, as a rule; else those that fit with the first ones."""
    import pyarrow as pa

    try:
        return pa.concat_tables([t for t, _ in tables], promote_options="permissive"), sum(n for _, n in tables)
    except pa.ArrowException:
        pass
    kept, written = tables[0][0], tables[0][1]
    for table, count in tables[1:]:
        try:
            kept = pa.concat_tables([kept, table], promote_options="permissive")
        except pa.ArrowException:
            continue
        written += count
    return kept, written


def _columns(record: _Offered) -> _Columns | None:
    rows = record.rows
    try:
        named = payloads.named_outputs(record.outputs)
        outputs = {
            (PREDICTION if len(named) == 1 else f"{PREDICTION}.{name}"): _rows_of(values, rows)
            for name, values in named
        }
    except _CONVERSION_ERRORS:
        return None
    given = record.columns if record.columns is not None else {TENSOR_INPUT: record.tensor}
    # An input named like a column the format gives another meaning keeps its values under input.NAME.
    taken = set(REQUIRED_COLUMNS) | set(outputs)
    inputs = {(f"input.{name}" if name in taken else name): values for name, values in given.items()}
    values = {
        **inputs,
        **outputs,
        REQUEST_ID: [record.request_id or uuid.uuid4().hex] * rows,
        TIMESTAMP_MS: np.full(rows, record.time_ms, dtype=np.int64),
        LATENCY_MS: np.full(rows, record.latency_ms, dtype=np.float64),
        MODEL_VERSION: np.full(rows, record.version, dtype=np.int64),
    }
    return _Columns(tuple(inputs), tuple(outputs), values)


def _rows_of(values: Any, rows: int) -> Any:
    """A prediction's values as an array or list of ``rows`` items; ValueError otherwise."""
    if hasattr(values, "to_numpy"):  # a pandas series or frame
        values = values.to_numpy()
    if not isinstance(values, np.ndarray | list):
        values = np.asarray(values)
    if (isinstance(values, np.ndarray) and values.ndim == 0) or len(values) != rows:
        raise ValueError(f"the model answered {np.shape(values)} for {rows} rows")
    return values


def _table(group: Sequence[_Columns]) -> Any:
    """One table of records with the same columns: each column converted once."""
    import pyarrow as pa

    names = list(group[0].values)
    return pa.table({name: _arrow([c.values[name] for c in group]) for name in names})


def _arrow(parts: list[Any]) -> Any:
    import pyarrow as pa

    kinds = {p.dtype.kind if isinstance(p, np.ndarray) and p.ndim == 1 else "" for p in parts}
    # Whole arrays of one kind (or of numbers) go at once; text and numbers mixed would be
    # made all text by numpy, so they go value by value and pyarrow refuses the mixture.
    if kinds <= _ARROW_KINDS and (len(kinds) == 1 or kinds <= _NUMBER_KINDS):
        return pa.array(parts[0] if len(parts) == 1 else np.concatenate(parts))
    values: list[Any] = []
    for part in parts:  # a tensor's rows become lists; objects go as they are
        values.extend(part.tolist() if isinstance(part, np.ndarray) else part)
    return pa.array(values)
