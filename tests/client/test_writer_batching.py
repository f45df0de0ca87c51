"""The training loop only enqueues: points leave in large batches, and a slow store never
slows ``run.log``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from store_doubles import FlakyTracking, start_run


def test_many_points_leave_in_few_batches(flaky: FlakyTracking, spool_root: Path) -> None:
    points, per_batch = 100_000, 10_000
    # A long interval: the batches are cut by size, not by the clock.
    run = start_run(flaky, spool_root, flush_interval=2.0, max_batch_points=per_batch)
    for step in range(points // 2):
        run.log({"loss": step * 0.5, "acc": 1.0})
    run.finish()

    assert flaky.metric_attempts <= points // per_batch + 2
    assert all(ingest.points <= per_batch for ingest in flaky.ingests)
    assert sum(ingest.points for ingest in flaky.ingests) == points
    assert not any(ingest.duplicate for ingest in flaky.ingests)
    assert len({ingest.seq for ingest in flaky.ingests}) == len(flaky.ingests)
    history = flaky.inner.get_metric_history(run.id, "loss")
    np.testing.assert_array_equal(history.steps, np.arange(points // 2))
    np.testing.assert_array_equal(history.values, np.arange(points // 2) * 0.5)


def test_log_does_not_wait_for_a_slow_store(tmp_path: Path, spool_root: Path) -> None:
    # No clock: the store's first call lasts far longer than any loop could, and the loop must
    # end while that call is still running (no batch has come back yet).
    slow = FlakyTracking(tmp_path / "slow.db", log_delay=5.0)
    try:
        run = start_run(slow, spool_root, flush_interval=0.05)
        run.log({"loss": 0.0})
        assert slow.sending.wait(5)  # the writer is now inside a 5 s store call
        for step in range(1, 10_001):
            run.log({"loss": step / 10_000})
        assert slow.ingests == [], "run.log waited for the store: a batch came back before the loop ended"
        run.finish()
        assert slow.inner.get_metric_history(run.id, "loss").total == 10_001
    finally:
        slow.really_close()


def test_flush_waits_for_the_store(flaky: FlakyTracking, spool_root: Path) -> None:
    run = start_run(flaky, spool_root, flush_interval=60.0)  # only flush can move the points
    run.log({"loss": 1.0})
    run.log_params({"lr": 0.1})
    run.log({"loss": 2.0})
    assert run.flush(timeout=5)
    assert flaky.inner.get_metric_history(run.id, "loss").values.tolist() == [1.0, 2.0]
    assert flaky.inner.get_run(run.id).params == {"lr": 0.1}
    run.finish()
