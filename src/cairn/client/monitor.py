"""``cairn.monitor``: log what a model in production was asked and answered, from any process,
as prediction log files (docs/prediction-logs.md, docs/monitoring.md).

``PredictionMonitor.log`` checks its arguments, turns them into one Arrow table (a snapshot:
the caller may change its frame afterwards) and puts it on a bounded queue; it never waits for
the disk or the network. A full queue (``max_queued_rows`` rows, 1,000,000 by default) drops
the batch and counts its rows in ``rows_dropped``.

One thread per monitor drains the queue, splits rows by UTC hour (out-of-order times are fine),
and encodes a file per hour every ``batch_rows`` rows or ``flush_interval`` seconds, whichever
comes first, with the encoding ``cairn serve`` uses; two more threads send the files through
the same sink, so encoding the next file overlaps sending this one. A file the store cannot
take now (the server is away) goes to the spool under ``CAIRN_HOME/spool``; the thread sends
the spool again at its next flush, and ``cairn sync`` sends what a process left behind. A file
the store refuses (not retryable) is dropped with a warning and counted.
"""

from __future__ import annotations

import atexit
import functools
import os
import queue
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from cairn.client.prediction_files import (
    StorePredictionSink,
    encode_prediction_log,
    require_pyarrow,
    send_spooled,
    spool_file,
)
from cairn.client.spool import Spool, SpooledWrite
from cairn.client.writer import warn
from cairn.core.clock import now_ms
from cairn.core.errors import CairnError, InvalidPredictionTime, InvalidValue
from cairn.core.prediction_logs import (
    FUTURE_SKEW_MS,
    HOUR_MS,
    LATENCY_MS,
    MODEL_VERSION,
    PREDICTION,
    REQUEST_ID,
    REQUIRED_COLUMNS,
    TIMESTAMP_MS,
    ColumnMismatch,
    PredictionLogFile,
)
from cairn.service.interface import Tracking

if TYPE_CHECKING:
    from cairn.core.prediction_labels import PredictionLabelFile

#: Rows a file holds at most; also when an hour's rows are written without waiting.
DEFAULT_BATCH_ROWS = 100_000
#: Rows waiting between ``log`` and the writer thread at most; more are dropped and counted.
DEFAULT_MAX_QUEUED_ROWS = 1_000_000
#: Bytes of Arrow data a file is cut at besides its rows: the request body limit is 64 MiB and
#: Parquet seldom grows data, so half of it leaves room.
_MAX_FILE_BYTES = 32 * 1024 * 1024
_STOP = object()
#: Threads sending files: two, so that a server's two workers (``--workers 2``) both take files.
_UPLOADERS = 2


@dataclass(frozen=True, slots=True)
class _Checkpoint:
    barrier: threading.Barrier
    waiting: list[threading.Event]


@dataclass(slots=True)
class _Hour:
    tables: list[Any] = field(default_factory=list)
    rows: int = 0
    nbytes: int = 0


class PredictionMonitor:
    """What :func:`cairn.monitor` returns: ``log`` batches of predictions of one model version;
    ``flush`` waits for them to be sent; ``close`` (or leaving a ``with`` block, or the end of
    the interpreter) sends what is left. See the module docstring."""

    def __init__(
        self,
        tracking: Tracking,
        model: str,
        version: int,
        *,
        uri: str,
        spool_root: Path,
        flush_interval: float = 5.0,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        max_queued_rows: int = DEFAULT_MAX_QUEUED_ROWS,
    ) -> None:
        if flush_interval <= 0 or batch_rows < 1 or max_queued_rows < 1:
            raise InvalidValue("flush_interval, batch_rows and max_queued_rows are positive")
        require_pyarrow()
        self.model = model
        self.version = version
        self.flush_interval = flush_interval
        self.batch_rows = batch_rows
        self.max_queued_rows = max_queued_rows
        self._first: Tracking | None = tracking
        self._sinks = [StorePredictionSink(self._connection) for _ in range(_UPLOADERS)]
        self._replaying = threading.Lock()
        self._connect_uri = uri
        self.spool = Spool.for_writer(spool_root, f"monitor-{uuid.uuid4().hex}", uri)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._queued_rows = 0
        self._seq = 0
        self._rows_sent = 0
        self._rows_dropped = 0
        self._rows_mismatched = 0
        self._mismatches: dict[tuple[str, str], ColumnMismatch] = {}
        self._inputs: dict[str, None] = {}
        self._outputs: dict[str, None] = {}
        self._files: list[PredictionLogFile] = []
        self._closed = False
        self._offline = False
        #: Encoded files on their way to the uploaders: a few at most, so encoding the next file
        #: overlaps sending this one (and the store's work on it) without piling files up.
        self._uploads: queue.Queue[Any] = queue.Queue(2 * _UPLOADERS)
        self._thread = threading.Thread(target=self._run, name="cairn-monitor", daemon=True)
        self._uploaders = [
            threading.Thread(target=self._upload_loop, args=(sink,), name="cairn-monitor-upload", daemon=True)
            for sink in self._sinks
        ]
        self._thread.start()
        for uploader in self._uploaders:
            uploader.start()
        _OPEN.add(self)

    # -- the caller's side -------------------------------------------------------------------

    def log(
        self,
        inputs: Any,
        outputs: Any,
        timestamps: Any = None,
        ids: Sequence[str] | None = None,
    ) -> Sequence[str]:
        """Log one batch: ``inputs`` (a pandas DataFrame, a dict of columns or a pyarrow Table),
        ``outputs`` (one value per row: an array, a list, a Series; or several named outputs: a
        DataFrame, a dict of columns, a Table), ``timestamps`` (ms since the epoch, or datetimes;
        now when None) and ``ids`` (the requests' ids; new ids in uuid4's hex form when None).
        Returns the rows' request ids, a sequence of ``str``. Raises InvalidValue for inputs
        and outputs of different lengths, InvalidPredictionTime for times that are not times;
        never waits for the store."""
        if self._closed:
            raise InvalidValue("this monitor is closed")
        batch = prediction_batch(inputs, outputs, timestamps, ids, self.version)
        rows = batch.table.num_rows
        with self._lock:
            if self._queued_rows + rows > self.max_queued_rows:
                self._rows_dropped += rows
                return batch.ids
            self._queued_rows += rows
            self._inputs.update(dict.fromkeys(batch.inputs))
            self._outputs.update(dict.fromkeys(batch.outputs))
        self._queue.put((batch.table, batch.times))
        return batch.ids

    def flush(self, timeout: float | None = None) -> bool:
        """Write and send everything logged so far; True once it is in the store, False when
        some of it waits in the spool (the store is away) or ``timeout`` seconds passed."""
        if self._closed and not any(u.is_alive() for u in self._uploaders):
            return self.backlog == 0
        done = threading.Event()
        self._queue.put(done)
        if not done.wait(timeout):
            return False
        return self.backlog == 0

    def close(self, timeout: float | None = 30.0) -> bool:
        """Send what is left (waiting up to ``timeout`` seconds) and stop. What the store could
        not take stays in the spool for ``cairn sync``. True when nothing is left behind."""
        if self._closed:
            return self.backlog == 0
        self._closed = True
        _OPEN.discard(self)
        self._queue.put(_STOP)
        deadline = None if timeout is None else time.monotonic() + timeout
        self._thread.join(timeout)
        for uploader in self._uploaders:
            uploader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive() or any(u.is_alive() for u in self._uploaders):
            warn(f"the monitor of {self.model} version {self.version} did not finish sending within {timeout} s")
            return False
        for sink in self._sinks:
            sink.close()
        unused, self._first = self._first, None
        if unused is not None:  # nothing was ever sent: no sink took the first connection
            unused.close()
        left = self.backlog
        if left:
            self.spool.release()  # cairn sync may send it while this process still runs
            warn(
                f"{left} prediction log file(s) of {self.model} version {self.version} wait in {self.spool.folder}; "
                "`cairn sync` sends them once the store answers"
            )
        return left == 0

    def log_labels(
        self, ids: Sequence[str], y_true: Sequence[Any], timestamps: Sequence[int] | None = None
    ) -> PredictionLabelFile:
        """Label predictions this monitor (or anything else) logged, by request id, once the
        ground truth is known: performance per window follows (docs/monitoring.md, "Labels").
        Flushes first, so that ids logged a moment ago are in the store; waits for the store.
        Raises InvalidPredictionLabels, UnknownPredictionIds (nothing is kept then)."""
        from cairn.client.labels import log_prediction_labels

        self.flush()
        return log_prediction_labels(self.model, self.version, ids, y_true, timestamps, uri=self._connect_uri)

    def __enter__(self) -> PredictionMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def rows_sent(self) -> int:
        """Rows the store has accepted (spooled files count once they are sent)."""
        with self._lock:
            return self._rows_sent

    @property
    def rows_dropped(self) -> int:
        """Rows lost: the queue was full, or the store refused their file."""
        with self._lock:
            return self._rows_dropped

    @property
    def rows_mismatched(self) -> int:
        """Rows the store accepted whose input columns do not match the version's signature."""
        with self._lock:
            return self._rows_mismatched

    @property
    def mismatches(self) -> list[ColumnMismatch]:
        """Each way the inputs differed from the signature, once, as the store reported it."""
        with self._lock:
            return list(self._mismatches.values())

    @property
    def files(self) -> list[PredictionLogFile]:
        """The files the store has accepted, in the order they were sent."""
        with self._lock:
            return list(self._files)

    @property
    def backlog(self) -> int:
        """Files waiting in the spool for the store to answer."""
        return len(self.spool)

    # -- the writer thread -------------------------------------------------------------------

    def _connection(self) -> Tracking:
        first, self._first = self._first, None
        if first is not None:
            return first
        from cairn.client.connect import connect

        return connect(self._connect_uri)

    def _run(self) -> None:
        hours: dict[int, _Hour] = {}
        deadline = time.monotonic() + self.flush_interval
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = None
            waiting: list[threading.Event] = []
            while item is not None:  # take what is queued at once: fewer, bigger files
                if item is _STOP:
                    stopping = True
                elif isinstance(item, threading.Event):
                    waiting.append(item)
                else:
                    self._gather(hours, *item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            if waiting or stopping or time.monotonic() >= deadline:
                self._guarded(self._write_all, hours)
                deadline = time.monotonic() + self.flush_interval
                # Every uploader takes a copy: once all have, every file before it is sent;
                # then the spool, if any, goes again and flush() returns.
                checkpoint = _Checkpoint(threading.Barrier(_UPLOADERS), waiting)
                for _ in range(_UPLOADERS):
                    self._uploads.put(checkpoint)
        for _ in range(_UPLOADERS):
            self._uploads.put(_STOP)

    def _upload_loop(self, sink: StorePredictionSink) -> None:
        while True:
            item = self._uploads.get()
            if item is _STOP:
                return
            if isinstance(item, _Checkpoint):
                if item.barrier.wait() == 0:  # one of the uploaders, once all are here
                    if self.backlog:
                        self._guarded(self._send_spooled, sink)
                    for done in item.waiting:
                        done.set()
            else:
                self._guarded(self._upload, sink, *item)

    def _guarded(self, call: Any, *args: Any) -> None:
        try:
            call(*args)
        except Exception as exc:  # a bug here must not stop the thread: log() would fill the queue
            warn(f"the prediction monitor failed to write: {type(exc).__name__}: {exc}"[:300])

    def _gather(self, hours: dict[int, _Hour], table: Any, times: np.ndarray[Any, Any]) -> None:
        with self._lock:
            self._queued_rows -= table.num_rows
        for hour, part in split_hours(table, times):
            held = hours.setdefault(hour, _Hour())
            held.tables.append(part)
            held.rows += part.num_rows
            held.nbytes += part.nbytes
            if held.rows >= self.batch_rows or held.nbytes >= _MAX_FILE_BYTES:
                self._guarded(self._write, hour, hours.pop(hour))

    def _write_all(self, hours: dict[int, _Hour]) -> None:
        for hour in sorted(hours):
            self._write(hour, hours.pop(hour))

    def _write(self, hour: int, held: _Hour) -> None:
        import pyarrow as pa

        try:
            table = pa.concat_tables(held.tables, promote_options="permissive")
            parts = [table]
        except pa.ArrowException:  # batches of columns that do not go together: a file each
            parts = held.tables
        with self._lock:
            inputs, outputs = list(self._inputs), list(self._outputs)
        for part in parts:
            for piece in file_slices(part, self.batch_rows):
                self._encode(hour, piece, inputs, outputs)

    def _encode(self, hour: int, table: Any, inputs: list[str], outputs: list[str]) -> None:
        rows = table.num_rows
        try:
            data = encode_prediction_log(table, self.model, inputs, outputs)
        except Exception as exc:
            self._drop(rows, f"could not be written as Parquet: {type(exc).__name__}: {exc}")
            return
        self._uploads.put((hour, rows, data))

    def _upload(self, sink: StorePredictionSink, hour: int, rows: int, data: bytes) -> None:
        """On an uploader thread: one file to the store, else to the spool."""
        if not self._offline:
            try:
                self._accepted(sink.write(self.model, self.version, hour, data))
                return
            except CairnError as exc:
                if not exc.retryable:
                    self._drop(rows, f"were refused: {exc}")
                    return
                self._offline = True
                warn(f"the store cannot be reached ({exc}); prediction logs wait in {self.spool.folder}")
        with self._lock:
            self._seq += 1
            seq = self._seq
        try:
            spool_file(self.spool, seq, self.model, self.version, hour, rows, data)
        except OSError as exc:
            self._drop(rows, f"could not be spooled: {exc}")

    def _send_spooled(self, sink: StorePredictionSink) -> None:
        """Send the spool, oldest first, until the store does not answer."""
        with self._replaying:
            self._send_spool(sink)

    def _send_spool(self, sink: StorePredictionSink) -> None:
        for write in self.spool.pending():
            try:
                self._accepted(sink.call(functools.partial(_send_spooled_to, write=write)))
            except CairnError as exc:
                if exc.retryable:
                    self._offline = True
                    return
                self._drop(int(write.payload.get("rows", 0)), f"were refused: {exc}")
            self.spool.remove(write)
        self._offline = False
        self.spool.remove_if_empty()

    def _accepted(self, file: PredictionLogFile) -> None:
        with self._lock:
            self._rows_sent += file.rows
            self._rows_mismatched += file.mismatched_rows
            self._files.append(file)
            for mismatch in file.mismatches:
                self._mismatches.setdefault((mismatch.column, mismatch.problem), mismatch)

    def _drop(self, rows: int, why: str) -> None:
        with self._lock:
            self._rows_dropped += rows
        warn(f"{rows} predictions of {self.model} version {self.version} {why}"[:500])


# -- arguments to Arrow -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PredictionBatch:
    """Rows of predictions as a file holds them: inputs (``input.NAME`` for a name the format
    takes), predictions and the required columns; ``times`` is ``timestamp_ms`` in numpy."""

    table: Any
    times: np.ndarray[Any, Any]
    inputs: list[str]
    outputs: list[str]
    ids: Sequence[str]


def prediction_batch(
    inputs: Any, outputs: Any, timestamps: Any, ids: Sequence[str] | None, version: int
) -> PredictionBatch:
    """:meth:`PredictionMonitor.log`'s arguments, checked, as one table (see there)."""
    import pyarrow as pa

    table = _as_table(inputs, "inputs")
    rows = table.num_rows
    predictions = _outputs(outputs, rows)
    times = _timestamps(timestamps, rows)
    request_ids: Any = _new_ids(rows) if ids is None else _given_ids(ids, rows)
    taken = set(REQUIRED_COLUMNS) | set(predictions)
    columns: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        columns[f"input.{name}" if name in taken else name] = column
    input_names = list(columns)
    columns.update(predictions)
    columns[REQUEST_ID] = _ids_column(request_ids)
    columns[TIMESTAMP_MS] = pa.array(times, pa.int64())
    columns[LATENCY_MS] = pa.nulls(rows, pa.float64())
    columns[MODEL_VERSION] = pa.array(np.full(rows, version, dtype=np.int64))
    return PredictionBatch(pa.table(columns), times, input_names, list(predictions), request_ids)


def file_slices(table: Any, batch_rows: int) -> list[Any]:
    """``table`` in slices of at most ``batch_rows`` rows and about _MAX_FILE_BYTES of Arrow
    data, so that each file fits a request body."""
    rows = table.num_rows
    per_file = batch_rows
    if table.nbytes > _MAX_FILE_BYTES:
        per_file = min(batch_rows, max(1, rows * _MAX_FILE_BYTES // table.nbytes))
    return [table.slice(start, per_file) for start in range(0, rows, per_file)]


def upload_batch(
    tracking: Tracking, model: str, batch: PredictionBatch, version: int, *, batch_rows: int = DEFAULT_BATCH_ROWS
) -> list[PredictionLogFile]:
    """Send ``batch`` now, a file per UTC hour (and per ``batch_rows`` rows), and return the
    files the store kept: what ``cairn monitor upload`` does. Files are encoded and sent on two
    threads, as a monitor's are. Raises the first error the store raises; the files it kept
    stay."""
    from concurrent.futures import ThreadPoolExecutor

    def send(hour: int, piece: Any) -> PredictionLogFile:
        return tracking.log_predictions(
            model, version, hour, encode_prediction_log(piece, model, batch.inputs, batch.outputs)
        )

    pieces = [
        (hour, piece) for hour, part in split_hours(batch.table, batch.times) for piece in file_slices(part, batch_rows)
    ]
    with ThreadPoolExecutor(_UPLOADERS, thread_name_prefix="cairn-upload") as senders:
        return list(senders.map(send, *zip(*pieces, strict=True))) if pieces else []


def split_hours(table: Any, times: np.ndarray[Any, Any]) -> list[tuple[int, Any]]:
    """``table``'s rows by the UTC hour of ``times`` (its ``timestamp_ms``), hours in order,
    each part in time order: rows out of order are put in order once (one copy), then every
    hour is a slice of it, which copies nothing."""
    if not len(times):
        return []
    if len(times) > 1 and not (times[1:] >= times[:-1]).all():
        order = np.argsort(times, kind="stable")
        table, times = table.take(order), times[order]
    starts = times - times % HOUR_MS
    hours = np.unique(starts)
    edges = np.searchsorted(starts, hours, side="left").tolist() + [len(times)]
    return [(int(hour), table.slice(edges[i], edges[i + 1] - edges[i])) for i, hour in enumerate(hours)]


def _as_table(data: Any, what: str) -> Any:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "columns") and hasattr(data, "dtypes"):  # a pandas DataFrame
        try:
            if data.columns.is_unique and all(isinstance(c, str) for c in data.columns):
                # A column at a time: from_pandas copies a frame's 2-D block column by column
                # through a slower path (10,000 rows × 20 floats: 9 ms against 0.7 ms).
                return pa.table({name: _column(data[name]) for name in data.columns})
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            raise InvalidValue(f"{what} cannot be converted to Arrow: {exc}"[:300]) from None
    if isinstance(data, Mapping):
        try:
            return pa.table({str(k): _column(v) for k, v in data.items()})
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            raise InvalidValue(f"{what} cannot be converted to Arrow: {exc}"[:300]) from None
    raise InvalidValue(f"{what} is a pandas DataFrame, a dict of columns or a pyarrow Table, got {type(data).__name__}")


def _column(values: Any) -> Any:
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):  # a pandas Series
        dtype = getattr(values, "dtype", None)
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            return pa.array(values.to_numpy())
        return pa.Array.from_pandas(values)
    if isinstance(values, np.ndarray) and values.ndim == 2:  # several values per row
        flat = pa.array(np.ascontiguousarray(values).reshape(-1))
        return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
    return pa.array(values)


def _outputs(outputs: Any, rows: int) -> dict[str, Any]:
    """Prediction columns: ``prediction`` for one output, ``prediction.NAME`` for several."""
    import pyarrow as pa

    if isinstance(outputs, pa.Table | pa.RecordBatch | Mapping) or (
        hasattr(outputs, "columns") and hasattr(outputs, "dtypes")
    ):
        table = _as_table(outputs, "outputs")
        named = dict(zip(table.column_names, table.columns, strict=True))
    else:
        try:
            named = {PREDICTION: _column(outputs)}
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            raise InvalidValue(f"outputs cannot be converted to Arrow: {exc}"[:300]) from None
    if not named:
        raise InvalidValue("outputs has no columns")
    if len(named) == 1:
        columns = {PREDICTION: next(iter(named.values()))}
    else:
        columns = {f"{PREDICTION}.{name}": values for name, values in named.items()}
    for values in columns.values():
        if len(values) != rows:
            raise InvalidValue(f"outputs has {len(values)} rows for {rows} rows of inputs")
    return columns


def _timestamps(timestamps: Any, rows: int) -> np.ndarray[Any, Any]:
    """Milliseconds since the epoch, one per row, checked (InvalidPredictionTime)."""
    now = now_ms()
    if timestamps is None:
        return np.full(rows, now, dtype=np.int64)
    values = _time_values(timestamps)
    if values.ndim != 1 or len(values) != rows:
        raise InvalidValue(f"timestamps has {values.shape} values for {rows} rows of inputs")
    details = {"column": TIMESTAMP_MS}
    if values.dtype.kind == "M":
        if np.isnat(values).any():
            raise InvalidPredictionTime("timestamps has missing values", details=details)
        values = values.astype("datetime64[ms]").astype(np.int64)
    elif values.dtype.kind == "f":
        if not np.isfinite(values).all():
            raise InvalidPredictionTime("timestamps has NaN or infinite values", details=details)
        values = values.astype(np.int64)
    elif values.dtype.kind in "iu":
        if values.dtype.kind == "u" and values.size and int(values.max()) > np.iinfo(np.int64).max:
            raise InvalidPredictionTime("timestamps beyond int64", details=details)
        values = values.astype(np.int64)
    else:
        raise InvalidPredictionTime(
            f"timestamps are milliseconds since the epoch (numbers) or datetimes, got values of {values.dtype}",
            details=details,
        )
    if values.size and int(values.min()) < 0:
        raise InvalidPredictionTime("timestamps are milliseconds since the epoch, not negative", details=details)
    if values.size and int(values.max()) > now + FUTURE_SKEW_MS:
        raise InvalidPredictionTime(
            f"timestamp {int(values.max())} is later than now by more than {FUTURE_SKEW_MS // 1000} s "
            "(timestamps are milliseconds since the epoch)",
            details=details,
        )
    return values


def _time_values(timestamps: Any) -> np.ndarray[Any, Any]:
    """``timestamps`` as a numpy array; datetimes with a zone (pandas gives those as objects)
    as UTC datetime64."""
    import pyarrow as pa

    if isinstance(timestamps, pa.Array | pa.ChunkedArray):
        if pa.types.is_timestamp(timestamps.type):
            return np.asarray(timestamps.cast(pa.timestamp("ms")).cast(pa.int64()).to_numpy(zero_copy_only=False))
        return np.asarray(timestamps.to_numpy(zero_copy_only=False))
    if hasattr(timestamps, "dt") and getattr(timestamps.dt, "tz", None) is not None:  # a zoned pandas Series
        timestamps = timestamps.dt.tz_convert("UTC").dt.tz_localize(None)
    if hasattr(timestamps, "to_numpy"):
        timestamps = timestamps.to_numpy()
    try:
        return np.asarray(timestamps)
    except (ValueError, TypeError):
        return np.asarray(timestamps, dtype=object)


class RequestIds(Sequence[str]):
    """Request ids made for a batch: 32 hex characters each (uuid4's form), kept as one text
    and cut into ``str`` only when read, so that ``log`` does not pay for a Python string per
    row it may never look at."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __len__(self) -> int:
        return len(self._text) // 32

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        count = len(self)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("request id index out of range")
        return self._text[32 * index : 32 * index + 32]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RequestIds):
            return self._text == other._text
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._text)

    def __repr__(self) -> str:
        shown = ", ".join(repr(i) for i in self[:3])
        return f"RequestIds([{shown}{', ...' if len(self) > 3 else ''}], {len(self)} ids)"

    def to_arrow(self) -> Any:
        import pyarrow as pa

        offsets = np.arange(0, len(self._text) + 1, 32, dtype=np.int32)
        return pa.StringArray.from_buffers(len(self), pa.py_buffer(offsets), pa.py_buffer(self._text.encode()))


class _IdSource:
    """Random bytes for request ids: numpy's PCG64 seeded from the operating system, 10 times
    cheaper than os.urandom per id; seeded again in a forked child, so no two processes repeat
    each other's ids."""

    def __init__(self) -> None:
        self._pid = -1
        self._generator = np.random.default_rng()
        self._lock = threading.Lock()

    def bytes(self, count: int) -> bytes:
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._generator = np.random.default_rng(np.frombuffer(os.urandom(32), dtype=np.uint64))
            return self._generator.bytes(count)


_IDS = _IdSource()


def _new_ids(rows: int) -> RequestIds:
    """``rows`` random ids in uuid4's form (32 hex characters, version 4, RFC 4122 variant)."""
    raw = np.frombuffer(_IDS.bytes(16 * rows), dtype=np.uint8).reshape(rows, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # the RFC 4122 variant
    return RequestIds(raw.tobytes().hex())


def _send_spooled_to(tracking: Tracking, *, write: SpooledWrite) -> PredictionLogFile:
    return send_spooled(tracking, write)


def _ids_column(ids: Any) -> Any:
    import pyarrow as pa

    if isinstance(ids, RequestIds):
        return ids.to_arrow()
    if isinstance(ids, pa.Array | pa.ChunkedArray):
        return ids
    return pa.array(ids, pa.string())


def _given_ids(ids: Any, rows: int) -> Any:
    """The caller's ids, checked: one text per row. A pyarrow array stays one (``cairn monitor
    upload`` reads a million from a file), cast to text."""
    import pyarrow as pa

    if isinstance(ids, pa.Array | pa.ChunkedArray):
        if len(ids) != rows:
            raise InvalidValue(f"ids has {len(ids)} values for {rows} rows of inputs")
        if ids.null_count:
            raise InvalidValue("ids has missing values")
        try:
            return ids.cast(pa.string())
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise InvalidValue(f"ids cannot be read as text: {exc}"[:300]) from None
    found = list(ids)
    if len(found) != rows:
        raise InvalidValue(f"ids has {len(found)} values for {rows} rows of inputs")
    if not all(isinstance(i, str) for i in found):
        raise InvalidValue("ids are strings")
    return found


#: Monitors not closed yet: the interpreter's exit closes them, so nothing logged is lost.
_OPEN: weakref.WeakSet[PredictionMonitor] = weakref.WeakSet()


@atexit.register
def _close_open_monitors() -> None:
    for monitor in list(_OPEN):
        monitor.close()
