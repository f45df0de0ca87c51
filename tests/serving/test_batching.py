"""The micro-batcher on a real event loop and predictor thread, with a model that records the
batches it is called with."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from cairn.serving.batching import MicroBatcher


class RecordingModel:
    """Doubles each input; remembers every batch; can be held busy, or refuse one input."""

    def __init__(self, refuse: object = None) -> None:
        self.batches: list[list[Any]] = []
        self.release = threading.Event()
        self.release.set()
        self.refuse = refuse

    def __call__(self, key: object, items: Sequence[Any]) -> list[Any]:
        self.release.wait(10)
        self.batches.append(list(items))
        if self.refuse in items:
            raise ValueError(f"cannot predict {self.refuse!r}")
        return [item * 2 for item in items]


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_requests_that_arrive_while_the_model_is_busy_go_together() -> None:
    model = RecordingModel()
    batcher = MicroBatcher(model, max_size=32, max_wait_seconds=0)
    key = object()

    async def scenario() -> list[Any]:
        model.release.clear()
        first = asyncio.ensure_future(batcher.predict(key, 1, 1))
        await asyncio.sleep(0.05)  # the first is on the predictor thread, held there
        rest = [asyncio.ensure_future(batcher.predict(key, n, 1)) for n in range(2, 12)]
        await asyncio.sleep(0.05)
        model.release.set()
        return await asyncio.gather(first, *rest)

    try:
        assert _run(scenario()) == [n * 2 for n in range(1, 12)]
    finally:
        batcher.close()
    assert model.batches == [[1], list(range(2, 12))]


def test_the_wait_gathers_requests_and_max_size_caps_a_batch() -> None:
    model = RecordingModel()
    batcher = MicroBatcher(model, max_size=4, max_wait_seconds=0.2)
    key = object()

    async def scenario() -> list[Any]:
        return await asyncio.gather(*(batcher.predict(key, n, 1) for n in range(10)))

    try:
        assert _run(scenario()) == [n * 2 for n in range(10)]
    finally:
        batcher.close()
    assert [len(b) for b in model.batches] == [4, 4, 2]
    assert sum(model.batches, []) == list(range(10))


def test_batching_off_predicts_each_request_alone() -> None:
    model = RecordingModel()
    batcher = MicroBatcher(model, max_size=1, max_wait_seconds=0.5)
    key = object()

    async def scenario() -> list[Any]:
        return await asyncio.gather(*(batcher.predict(key, n, 1) for n in range(5)))

    try:
        assert _run(scenario()) == [0, 2, 4, 6, 8]
    finally:
        batcher.close()
    assert model.batches == [[n] for n in range(5)]


def test_requests_for_another_model_never_share_a_batch() -> None:
    model = RecordingModel()
    batcher = MicroBatcher(model, max_size=32, max_wait_seconds=0.1)
    old, new = object(), object()

    async def scenario() -> list[Any]:
        keys = [old, new, old, new, old]
        return await asyncio.gather(*(batcher.predict(k, n, 1) for n, k in enumerate(keys)))

    try:
        assert _run(scenario()) == [0, 2, 4, 6, 8]
    finally:
        batcher.close()
    assert model.batches == [[0, 2, 4], [1, 3]]


def test_one_request_the_model_refuses_fails_alone() -> None:
    model = RecordingModel(refuse=3)
    batcher = MicroBatcher(model, max_size=32, max_wait_seconds=0.1)
    key = object()

    async def scenario() -> list[Any]:
        return await asyncio.gather(*(batcher.predict(key, n, 1) for n in range(5)), return_exceptions=True)

    try:
        results = _run(scenario())
    finally:
        batcher.close()
    assert results[:3] == [0, 2, 4] and results[4] == 8
    assert isinstance(results[3], ValueError)
    assert model.batches[0] == [0, 1, 2, 3, 4]  # tried together first, then one by one


def test_a_batch_is_counted_in_rows() -> None:
    seen: list[int] = []
    batcher = MicroBatcher(RecordingModel(), max_size=5, max_wait_seconds=0.1, on_batch=seen.append)
    key = object()

    async def scenario() -> list[Any]:
        return await asyncio.gather(*(batcher.predict(key, n, 3) for n in range(3)))

    try:
        _run(scenario())
    finally:
        batcher.close()
    # 3 + 3 rows would pass 5: each request of three rows goes in a batch of its own.
    assert seen == [3, 3, 3]


def test_max_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MicroBatcher(RecordingModel(), max_size=0, max_wait_seconds=0)
