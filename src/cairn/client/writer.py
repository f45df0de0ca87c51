"""The background writer: the training loop only enqueues, this thread does the I/O.

``put_points`` is the hot path: one ``deque.append`` of the caller's (step, timestamp, values),
nothing else. The writer thread wakes every ``flush_interval`` seconds (or when asked), turns
the queued points into columns, and sends them in batches of at most ``max_batch_points``.
Params, tags and run updates go through the same queue, so they keep their order relative to
the points (a run's "finished" never overtakes its last metrics).

When the store cannot be reached (a retryable :class:`Unavailable`), every write from then on
goes to the spool on disk, in order, and the writer retries the oldest with exponential back-off
until the store answers, then drains the spool. Each metric batch carries (client_id, seq), so a
batch that reached the store but whose answer was lost is not stored twice when resent.

Whatever happens, the writer never raises into the training loop; problems become warnings on
stderr. A write the store refuses (not retryable: the run was deleted, a param conflicts with
one another process logged) is lost, and every such loss says what was lost: which params,
tags or metrics, how many points. Repeats of one cause are counted after the first few and
summed up when the writer closes, so a deleted run does not print a line per batch.
``on_refused`` lets the run forget params it claimed (``run.config``) that were not stored.
"""

from __future__ import annotations

import math
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson

from cairn.client.spool import Spool
from cairn.core.entities import Run as RunRecord
from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.errors import CairnError, RunNotFound, Unavailable
from cairn.core.limits import MAX_ITEMS_PER_REQUEST
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.core.wire import batch_from_wire, batch_to_wire, dataset_spec_from_wire, params_from_wire, params_to_wire
from cairn.service.interface import Tracking

_BACKOFF_FIRST_S = 0.25
_BACKOFF_MAX_S = 4.0
_CLOSING_RETRY_MAX_S = 1.0
#: Points kept in memory when even the spool folder cannot be written.
_MEMORY_BACKLOG_POINTS = 5_000_000
#: Refused writes of one kind and cause that each get their own warning; later ones are counted
#: and reported together when the writer closes.
_LOSSES_TOLD_PER_CAUSE = 3
V = TypeVar("V")


def warn(message: str) -> None:
    print(f"cairn: warning: {message}", file=sys.stderr, flush=True)


def in_request_chunks(items: Mapping[str, V]) -> list[dict[str, V]]:
    """``items`` split into requests the store accepts (at most ``MAX_ITEMS_PER_REQUEST`` each),
    in their order; [] for none. The SDK sends params and tags this way, so a call of any size
    never meets the request limit."""
    pairs = list(items.items())
    return [dict(pairs[i : i + MAX_ITEMS_PER_REQUEST]) for i in range(0, len(pairs), MAX_ITEMS_PER_REQUEST)]


@dataclass
class _Op:
    """A queued write other than metric points; ``done`` marks a flush barrier."""

    kind: str  # params | tags | update | artifacts | dataset | snapshot | child_run | barrier
    payload: Any = None
    done: threading.Event | None = None


class _Columns:
    """Queued points regrouped by key into columns, ready to become one batch."""

    def __init__(self) -> None:
        self.by_key: dict[str, tuple[list[int], list[int], list[float]]] = {}
        self.points = 0

    def add(self, step: int, timestamp: int, values: Mapping[str, float]) -> None:
        by_key = self.by_key
        for key, value in values.items():
            column = by_key.get(key)
            if column is None:
                column = by_key[key] = ([], [], [])
            column[0].append(step)
            column[1].append(timestamp)
            column[2].append(value)
        self.points += len(values)

    def to_batch(self, client_id: str, seq: int) -> MetricBatch:
        return MetricBatch(
            client_id=client_id,
            seq=seq,
            columns=[
                MetricColumns(
                    key,
                    np.array(steps, dtype=np.int64),
                    np.array(timestamps, dtype=np.int64),
                    np.array(values, dtype=np.float64),
                )
                for key, (steps, timestamps, values) in self.by_key.items()
            ],
        )


@dataclass
class _MemoryBacklog:
    """Where writes wait when the spool folder cannot be written either (disk full, read-only)."""

    items: list[tuple[int, str, Any, int]] = field(default_factory=list)  # seq, kind, payload, points
    points: int = 0

    def add(self, seq: int, kind: str, payload: Any, points: int) -> None:
        self.items.append((seq, kind, payload, points))
        self.points += points

    def remove(self, item: tuple[int, str, Any, int]) -> None:
        self.items.remove(item)
        self.points -= item[3]


@dataclass
class BacklogSummary:
    metric_batches: int = 0
    points: int = 0
    other_writes: int = 0
    #: Of all these, the writes held in memory (the spool could not be written): they are lost
    #: when the process exits.
    in_memory: int = 0

    @property
    def writes(self) -> int:
        return self.metric_batches + self.other_writes


class BackgroundWriter:
    def __init__(
        self,
        tracking: Tracking,
        run_id: str,
        *,
        spool_root: Path,
        uri: str,
        flush_interval: float = 0.5,
        max_batch_points: int = 100_000,
    ) -> None:
        self.tracking = tracking
        self.run_id = run_id
        self.client_id = uuid.uuid4().hex
        self.flush_interval = flush_interval
        self.max_batch_points = max_batch_points
        self.spool = Spool.for_writer(spool_root, self.client_id, uri)
        self.points_sent = 0
        self._queue: deque[tuple[int, int, Mapping[str, float]] | _Op] = deque()
        self._wake = threading.Event()
        self._closing = False
        self._seq = 0
        self._offline = False
        self._backoff = _BACKOFF_FIRST_S
        self._retry_at = 0.0
        self._memory = _MemoryBacklog()
        self._warned: set[str] = set()
        self._losses = _Losses()
        #: Called on the writer thread with (kind, payload) of each write the store refused.
        self.on_refused: Callable[[str, Any], None] | None = None
        self._uploading = False
        self._thread = threading.Thread(target=self._run, name=f"cairn-writer-{run_id[:8]}", daemon=True)
        self._thread.start()

    # -- called from the training loop ------------------------------------------------------

    def put_points(self, step: int, timestamp: int, values: Mapping[str, float]) -> None:
        self._queue.append((step, timestamp, values))

    def put(self, kind: str, payload: Any) -> None:
        self._queue.append(_Op(kind, payload))
        self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far has been handled; True if it reached the store
        (False when it is spooled, or the wait timed out).

        An artifact upload in progress extends the wait: a large file takes as long as it
        takes, and a stalled connection ends it through the HTTP client's timeouts."""
        done = threading.Event()
        self._queue.append(_Op("barrier", done=done))
        self._wake.set()
        finished = done.wait(timeout)
        while not finished and self._uploading:
            finished = done.wait(1.0)
        return finished and not self.backlog

    def close(self, timeout: float | None = None) -> bool:
        """Flush and stop the thread; True if everything reached the store.

        While the store is away the backlog is retried with back-off until ``timeout`` runs out
        (no limit with None): a server restarted within it receives everything. What is still
        waiting then stays in the spool, which :meth:`release` hands over to ``cairn sync``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delivered = self.flush(timeout)
        while not delivered and self.backlog:
            left = math.inf if deadline is None else deadline - time.monotonic()
            if left <= 0:
                break
            # The caller is waiting on us, so retry at least every second rather than every 4 s.
            time.sleep(min(self._backoff, _CLOSING_RETRY_MAX_S, left))
            delivered = self.flush(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._closing = True
        self._wake.set()
        self._thread.join(None if deadline is None else max(1.0, deadline - time.monotonic()))
        self.report_untold_losses()
        return delivered

    def release(self) -> bool:
        """Hand the spool over to ``cairn sync`` once the thread has stopped (after
        :meth:`close`): it may then send it while this process still runs. False if the thread
        is still busy, when the spool stays this process's until it exits."""
        if self._thread.is_alive():
            return False
        self.spool.release()
        return True

    def backlog_summary(self) -> BacklogSummary:
        """What waits for the store: metric batches and their points, other writes."""
        summary = BacklogSummary()
        for _seq, kind, payload, _remove in self._backlog():
            if kind == "metrics":
                summary.metric_batches += 1
                summary.points += sum(len(metric["steps"]) for metric in payload["metrics"])
            else:
                summary.other_writes += 1
        summary.in_memory = len(self._memory.items)
        return summary

    @property
    def offline(self) -> bool:
        return self._offline

    @property
    def backlog(self) -> int:
        """Writes waiting on disk or in memory for the store to come back."""
        return len(self.spool) + len(self._memory.items)

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self._drain()
                if self._offline and time.monotonic() >= self._retry_at:
                    self._replay_backlog()
            except Exception as exc:  # never let the thread die: the next round may work
                self._warn_once("writer", f"the background writer hit an unexpected error: {exc!r}")
            if self._closing and not self._queue:
                return

    def _drain(self) -> None:
        columns = _Columns()
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, tuple):
                columns.add(*item)
                if columns.points >= self.max_batch_points:
                    self._send_points(columns)
                    columns = _Columns()
                continue
            if columns.points:
                self._send_points(columns)
                columns = _Columns()
            if item.kind == "barrier":
                if self._offline:
                    self._replay_backlog()
                assert item.done is not None
                item.done.set()
            else:
                self._send(item.kind, item.payload)
        if columns.points:
            self._send_points(columns)

    def _send_points(self, columns: _Columns) -> None:
        seq = self._next_seq()
        batch = columns.to_batch(self.client_id, seq)
        if self._offline:
            self._keep(seq, "metrics", batch_to_wire(batch), batch.points)
            return
        try:
            self.tracking.log_metrics(self.run_id, batch)
            self.points_sent += batch.points
        except Exception as raised:
            exc = _classify(raised)
            if not exc.retryable:
                self._refused("metrics", batch_to_wire(batch), exc)
                return
            self._go_offline(exc)
            self._keep(seq, "metrics", batch_to_wire(batch), batch.points)

    def _send(self, kind: str, payload: Any) -> None:
        seq = self._next_seq()
        if self._offline:
            self._keep(seq, kind, payload, 0)
            return
        try:
            self._apply(kind, payload)
        except Exception as raised:
            exc = _classify(raised)
            if not worth_retrying(kind, exc):
                self._refused(kind, payload, exc)
                return
            self._go_offline(exc)
            self._keep(seq, kind, payload, 0)

    def _apply(self, kind: str, payload: Any) -> None:
        self._uploading = kind in ("artifacts", "dataset", "snapshot")
        try:
            self.points_sent += apply_write(self.tracking, self.run_id, kind, payload)
        finally:
            self._uploading = False

    # -- outage handling --------------------------------------------------------------------

    def begin_offline(self) -> None:
        """Keep every write from the first one: the store could not be reached when the run
        started (``cairn.init`` has said so), so there is no point in trying before the backoff."""
        self._offline = True
        self._retry_at = time.monotonic() + self._backoff

    def _go_offline(self, exc: CairnError) -> None:
        if not self._offline:
            where = f"{self.spool.folder} (or in memory if that cannot be written)"
            warn(f"{exc.message}; writes wait in {where} and are sent when it is back")
        self._offline = True
        self._retry_at = time.monotonic() + self._backoff

    def _keep(self, seq: int, kind: str, payload: Any, points: int) -> None:
        try:
            self.spool.put(seq, self.run_id, kind, payload)
        except OSError as exc:
            if self._memory.points + points > _MEMORY_BACKLOG_POINTS:
                self._warn_once("dropped", "the spool cannot be written and memory is full: dropping writes")
                return
            self._warn_once("spool", f"cannot write the spool ({exc}); keeping writes in memory")
            # The same JSON shape as a spooled file: replay reads both alike (numpy arrays are
            # not the lists batch_from_wire accepts).
            payload = orjson.loads(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY))
            self._memory.add(seq, kind, payload, points)

    def _replay_backlog(self) -> None:
        for _seq, kind, payload, remove in self._backlog():
            try:
                self._apply(kind, payload)
            except Exception as raised:
                exc = _classify(raised)
                if worth_retrying(kind, exc):
                    self._backoff = min(self._backoff * 2, _BACKOFF_MAX_S)
                    self._retry_at = time.monotonic() + self._backoff
                    return
                self._refused(kind, payload, exc)
            remove()
        self._offline = False
        self._backoff = _BACKOFF_FIRST_S
        self.spool.remove_if_empty()

    def _backlog(self) -> Iterator[tuple[int, str, Any, Callable[[], None]]]:
        """Spooled and in-memory writes together, in the order they were made."""
        spooled = [(w.seq, w.kind, w.payload, (lambda w=w: self.spool.remove(w))) for w in self.spool.pending()]
        in_memory = [
            (item[0], item[1], item[2], (lambda item=item: self._memory.remove(item))) for item in self._memory.items
        ]
        yield from sorted(spooled + in_memory, key=lambda entry: entry[0])

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warn(message)

    def _refused(self, kind: str, payload: Any, exc: CairnError) -> None:
        """A write the store will never take: say what was lost, and let the run forget it."""
        lost = describe_write(kind, payload)
        points = sum(len(metric["steps"]) for metric in payload["metrics"]) if kind == "metrics" else 0
        told = self._losses.add(kind, exc.code, points)
        if told <= _LOSSES_TOLD_PER_CAUSE:
            more = ""
            if told == _LOSSES_TOLD_PER_CAUSE:
                more = "; further writes refused for this reason are counted and reported when the run ends"
            warn(f"run {self.run_id}: the store refused {lost}, which is not stored: {exc.message}{more}")
        if self.on_refused is not None:
            try:
                self.on_refused(kind, payload)
            except Exception as error:  # the listener must not stop the writer
                self._warn_once("on_refused", f"could not note a refused write: {error!r}")

    def report_untold_losses(self) -> None:
        """One warning summing up the refused writes that were not each told (see _refused)."""
        untold = self._losses.untold()
        if untold:
            warn(f"run {self.run_id}: the store also refused {untold}, which are not stored")


class _Losses:
    """Refused writes, counted by kind and cause (error code), for the warnings about them."""

    def __init__(self) -> None:
        self._by_cause: dict[tuple[str, str], int] = {}
        self._untold_writes: dict[str, int] = {}
        self._untold_points = 0

    def add(self, kind: str, code: str, points: int) -> int:
        """Count one loss; returns how many of its kind and cause there have been."""
        count = self._by_cause.get((kind, code), 0) + 1
        self._by_cause[(kind, code)] = count
        if count > _LOSSES_TOLD_PER_CAUSE:
            self._untold_writes[kind] = self._untold_writes.get(kind, 0) + 1
            self._untold_points += points
        return count

    def untold(self) -> str:
        """The losses past the ones told one by one, as a phrase ("" if none)."""
        parts = [f"{count:,} more {kind} writes" for kind, count in sorted(self._untold_writes.items())]
        if self._untold_points:
            parts.append(f"{self._untold_points:,} metric points in all")
        return ", ".join(parts)


def describe_write(kind: str, payload: Any) -> str:
    """What a queued or spooled write holds, as a person reads it in a warning."""
    if kind == "metrics":
        metrics = payload["metrics"]
        points = sum(len(metric["steps"]) for metric in metrics)
        return f"{points:,} metric points of {_some([metric['key'] for metric in metrics])}"
    if kind in ("params", "tags"):
        return f"{len(payload):,} {kind[:-1] if len(payload) == 1 else kind} ({_some(list(payload))})"
    if kind == "create":
        return f"the creation of run {payload['name']!r} in project {payload['project']!r}"
    if kind == "update":
        changed = [name for name, value in payload.items() if value is not None and name != "end_time"]
        return f"a change of the run's {', '.join(changed) or 'end time'}"
    if kind == "artifacts":
        return f"{len(payload['files']):,} artifacts ({_some([file['path'] for file in payload['files']])})"
    if kind == "dataset":
        return f"dataset {payload['spec']['name']!r}"
    if kind == "snapshot":
        return f"the {payload['kind']} snapshot"
    if kind == "child_run":
        return f"child run {payload['create']['name']!r}"
    return f"a {kind} write"


def _some(names: list[str], shown: int = 5) -> str:
    listed = ", ".join(repr(name) for name in names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown:,} more"


def worth_retrying(kind: str, exc: CairnError) -> bool:
    """Whether a write that failed may succeed later: an outage, or the creation of a run
    started offline whose parent, also started offline, has not reached the store yet."""
    return exc.retryable or (kind == "create" and isinstance(exc, RunNotFound))


def _classify(exc: Exception) -> CairnError:
    """Unexpected failures (a bug, a library's own exception) are kept and retried like an
    outage: holding the user's data back is better than losing it."""
    if isinstance(exc, CairnError):
        return exc
    return Unavailable(f"unexpected error while writing: {exc!r}")


def apply_write(tracking: Tracking, run_id: str, kind: str, payload: Any) -> int:
    """Perform one spooled (JSON-shaped) write; returns the metric points it stored."""
    if kind == "metrics":
        batch = batch_from_wire(payload)
        tracking.log_metrics(run_id, batch)
        return batch.points
    if kind == "create":
        create_run_from(tracking, run_id, payload)
    elif kind == "params":
        tracking.log_params(run_id, payload)
    elif kind == "tags":
        tracking.set_tags(run_id, payload)
    elif kind == "update":
        tracking.update_run(run_id, update_from_payload(payload))
    elif kind == "artifacts":
        from cairn.client.artifacts import LocalArtifact, upload

        upload(tracking, run_id, [LocalArtifact.from_payload(item) for item in payload["files"]])
    elif kind == "dataset":
        from cairn.client.artifacts import LocalArtifact, discard_staged, upload_missing

        files = [LocalArtifact.from_payload(item) for item in payload["files"]]
        if files:  # stored: its bytes go up first (not registered as artifacts of the run)
            upload_missing(tracking, files)
        tracking.log_dataset(run_id, dataset_spec_from_wire(payload["spec"]), payload["context"])
        discard_staged(files)
    elif kind == "snapshot":
        from cairn.client.artifacts import LocalArtifact, discard_staged, upload_missing
        from cairn.core.artifacts import SnapshotFile

        files = [LocalArtifact.from_payload(item) for item in payload["files"]]
        upload_missing(tracking, files)
        tree = [SnapshotFile(f.path, f.digest, f.size) for f in files]
        tracking.save_snapshot(run_id, payload["kind"], tree, meta=payload.get("meta") or {})
        discard_staged(files)
    elif kind == "child_run":
        from cairn.client.child_runs import create_child_run

        create_child_run(tracking, payload)
    else:
        raise ValueError(f"unknown write kind {kind!r}")
    return 0


def creation_payload(
    project: str,
    *,
    name: str,
    user: str,
    params: Mapping[str, Any],
    tags: Mapping[str, str],
    notes: str = "",
    parent_id: str | None = None,
    start_time: int,
) -> dict[str, Any]:
    """A run's creation as a JSON-shaped write: what a run started offline sends first, and
    what each child run of a search is created from. ``params`` are flat."""
    return {
        "project": project,
        "name": name,
        "user": user,
        "params": params_to_wire(params),
        "tags": dict(tags),
        "notes": notes,
        "parent_id": parent_id,
        "start_time": start_time,
    }


def create_run_from(tracking: Tracking, run_id: str, payload: Mapping[str, Any]) -> RunRecord:
    """Perform a :func:`creation_payload` write; safe to send again (the id is the client's)."""
    return tracking.create_run(
        payload["project"],
        run_id=run_id,
        name=payload["name"],
        user=payload["user"],
        config=params_from_wire(payload["params"]),
        tags=payload["tags"],
        notes=payload["notes"],
        parent_id=payload["parent_id"],
        start_time=payload["start_time"],
    )


def update_payload(update: RunUpdate) -> dict[str, Any]:
    return {
        "status": None if update.status is None else update.status.value,
        "name": update.name,
        "notes": update.notes,
        "end_time": update.end_time,
    }


def update_from_payload(payload: Mapping[str, Any]) -> RunUpdate:
    status = payload.get("status")
    return RunUpdate(
        status=None if status is None else RunStatus(status),
        name=payload.get("name"),
        notes=payload.get("notes"),
        end_time=payload.get("end_time"),
    )
