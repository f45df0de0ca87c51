"""Micro-batching: concurrent requests predicted in one call of the model.

Most of a one-row prediction is fixed cost (the framework checks its input, builds a frame,
dispatches); sixteen rows cost little more than one. So requests that arrive together are
gathered and predicted at once, off the event loop on one predictor thread, while the loop
goes on reading and checking the next requests:

- a request is added to the pending list; the batch leaves when it holds ``max_size`` rows'
  worth of requests, or ``max_wait`` after its first request arrived, or, while the
  predictor is busy, as soon as it is free (whatever gathered meanwhile goes at once:
  under load batches form by themselves, and no request waits for a timer it need not);
- requests are batched only with requests for the same model object, so a request checked
  against one version's signature is predicted by that version, even across a swap;
- if a batch fails, each of its requests is predicted alone, so one request the model
  cannot answer fails alone.

``max_size`` 1 turns batching off: each request is predicted on its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Key = TypeVar("Key")


@dataclass(slots=True)
class Pending(Generic[Key]):
    key: Key  # what the request must be predicted by (its model)
    item: Any  # the request's checked input
    rows: int
    future: asyncio.Future[Any] = field(repr=False)


#: Predicts a batch: the model (key) and the requests' inputs → one result per input.
PredictBatch = Callable[[Any, Sequence[Any]], Sequence[Any]]


class MicroBatcher:
    """Gathers requests on one event loop and predicts them on one thread."""

    def __init__(
        self,
        predict_batch: PredictBatch,
        *,
        max_size: int,
        max_wait_seconds: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._predict_batch = predict_batch
        self.max_size = max_size
        self.max_wait_seconds = max_wait_seconds
        self._on_batch = on_batch
        self._pending: list[Pending[Any]] = []
        self._busy = False
        self._timer: asyncio.TimerHandle | None = None
        # One thread: the model is called by one caller at a time, in batches.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-predict")
        self._closed = threading.Event()

    async def predict(self, key: Any, item: Any, rows: int) -> Any:
        """The prediction for one request's input, predicted with others where it can be."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(Pending(key, item, rows, future))
        if self._busy:
            pass  # dispatched when the predictor is free
        elif self.max_size == 1 or self._pending_rows() >= self.max_size or self.max_wait_seconds <= 0:
            self._dispatch(loop)
        elif self._timer is None:
            self._timer = loop.call_later(self.max_wait_seconds, self._dispatch, loop)
        return await future

    def close(self) -> None:
        self._closed.set()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _pending_rows(self) -> int:
        return sum(p.rows for p in self._pending)

    def _take_batch(self) -> list[Pending[Any]]:
        """The first pending request and those after it for the same model, up to max_size rows
        (at least one request, however many rows it holds)."""
        first = self._pending[0]
        batch, rows, rest = [first], first.rows, []
        for pending in self._pending[1:]:
            if pending.key is first.key and rows + pending.rows <= self.max_size:
                batch.append(pending)
                rows += pending.rows
            else:
                rest.append(pending)
        self._pending = rest
        return batch

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # A request whose client went away is not predicted.
        self._pending = [p for p in self._pending if not p.future.done()]
        if self._busy or not self._pending:
            return
        batch = self._take_batch()
        self._busy = True
        if self._on_batch is not None:
            self._on_batch(sum(p.rows for p in batch))
        done = loop.run_in_executor(self._executor, self._run, batch)
        done.add_done_callback(lambda finished: self._finish(loop, batch, finished))

    def _run(self, batch: list[Pending[Any]]) -> list[tuple[bool, Any]]:
        """Each request's (succeeded, result or exception), on the predictor thread."""
        key = batch[0].key
        if len(batch) > 1:
            try:
                return [(True, r) for r in self._predict_batch(key, [p.item for p in batch])]
            except Exception:
                pass  # predicted one by one below, so only the request at fault fails
        outcomes: list[tuple[bool, Any]] = []
        for pending in batch:
            try:
                outcomes.append((True, self._predict_batch(key, [pending.item])[0]))
            except Exception as error:  # handed to that request's handler
                outcomes.append((False, error))
        return outcomes

    def _finish(self, loop: asyncio.AbstractEventLoop, batch: list[Pending[Any]], finished: Any) -> None:
        self._busy = False
        try:
            outcomes = finished.result()
        except BaseException as error:  # the executor shut down
            outcomes = [(False, error)] * len(batch)
        for pending, (succeeded, value) in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if succeeded:
                pending.future.set_result(value)
            else:
                pending.future.set_exception(value)
        if self._pending and not self._closed.is_set():
            # What gathered while the model was busy has waited long enough: it goes now.
            self._dispatch(loop)
