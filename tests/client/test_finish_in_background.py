"""``run.finish(wait=False)``: what integrations do so that training never waits on logging.
The call returns at once; the run's end is sent on a thread of its own, which ``cairn.flush()``
and a new ``cairn.Api()`` wait for (read your own writes)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from store_doubles import FlakyTracking, start_run

import cairn
from cairn.client import lifecycle
from cairn.core.errors import RunNotActive


def test_a_run_finished_without_waiting_is_sent_in_the_background(flaky: FlakyTracking, spool_root: Path) -> None:
    run = start_run(flaky, spool_root)
    run.log({"loss": 0.5}, step=0)
    assert run.flush(timeout=10)
    flaky.down.set()  # the store stops answering: a waiting finish would wait here
    run.finish(wait=False)
    assert run.finished
    with pytest.raises(RunNotActive):
        run.log({"loss": 0.1}, step=1)
    assert flaky.inner.get_run(run.id).status.value == "running"
    assert not lifecycle.wait_for_closing(timeout=0.2)  # still trying
    flaky.down.clear()
    assert cairn.flush(timeout=30)
    stored = flaky.inner.get_run(run.id)
    assert stored.status.value == "finished" and stored.end_time is not None


def test_the_end_time_is_when_finish_was_called_not_when_it_was_sent(flaky: FlakyTracking, spool_root: Path) -> None:
    run = start_run(flaky, spool_root)
    flaky.down.set()
    called_at_ms = time.time_ns() // 1_000_000
    run.finish("failed", wait=False)
    time.sleep(0.5)
    flaky.down.clear()
    assert cairn.flush(timeout=30)
    stored = flaky.inner.get_run(run.id)
    assert stored.status.value == "failed"
    assert stored.end_time is not None and called_at_ms <= stored.end_time < called_at_ms + 400
