"""Metric ingest: batches, idempotency, exact float64 values, summaries, inactive runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cairn.core.entities import MetricSummary, RunStatus, RunUpdate
from cairn.core.errors import RunNotActive, RunNotFound
from cairn.core.limits import MAX_INT64, MIN_INT64
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.service.interface import Tracking

from .helpers import batch, columns, same_bits

EXTREMES = [
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    0.1,
    1 / 3,
    math.nan,
    math.inf,
    -math.inf,
    123456789.123456789,
]


def _summary(tracking: Tracking, run_id: str, key: str) -> MetricSummary:
    return tracking.get_run(run_id).metrics[key]


def test_a_batch_of_several_keys(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    result = tracking.log_metrics(
        run.id,
        batch(columns("loss", [0, 1, 2], [0.9, 0.5, 0.3]), columns("acc", [0, 2], [0.1, 0.8])),
    )
    assert (result.points, result.duplicate) == (5, False)

    metrics = tracking.get_run(run.id).metrics
    assert set(metrics) == {"loss", "acc"}
    loss = metrics["loss"]
    assert (loss.last, loss.last_step, loss.min, loss.max, loss.count) == (0.3, 2, 0.3, 0.9, 3)
    assert loss.last_timestamp == 1_002
    history = tracking.get_metric_history(run.id, "acc")
    assert history.steps.tolist() == [0, 2]
    assert history.values.tolist() == [0.1, 0.8]
    assert history.timestamps.tolist() == [1_000, 1_002]

    empty = tracking.log_metrics(run.id, MetricBatch(client_id="c", seq=0, columns=[]))
    assert (empty.points, empty.duplicate) == (0, False)
    assert set(tracking.get_run(run.id).metrics) == {"loss", "acc"}


def test_the_same_batch_twice_is_stored_once(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    sent = batch(columns("loss", [0, 1, 2], [3.0, 2.0, 1.0]), client_id="writer-1", seq=7)
    first = tracking.log_metrics(run.id, sent)
    again = tracking.log_metrics(run.id, sent)
    assert (first.points, first.duplicate) == (3, False)
    assert again.duplicate is True

    assert tracking.get_metric_history(run.id, "loss").total == 3
    assert _summary(tracking, run.id, "loss").count == 3

    # The identity of a batch is its (client_id, seq) for this run, whatever the content.
    resent = batch(columns("loss", [3], [0.5]), client_id="writer-1", seq=7)
    assert tracking.log_metrics(run.id, resent).duplicate is True
    assert tracking.get_metric_history(run.id, "loss").total == 3

    for other in (
        batch(columns("loss", [3], [0.5]), client_id="writer-1", seq=8),
        batch(columns("loss", [4], [0.4]), client_id="writer-2", seq=7),
    ):
        assert tracking.log_metrics(run.id, other).duplicate is False
    assert tracking.get_metric_history(run.id, "loss").total == 5
    assert _summary(tracking, run.id, "loss").count == 5

    # Another run has its own sequence space.
    other_run = tracking.create_run("p")
    assert tracking.log_metrics(other_run.id, sent).duplicate is False
    assert tracking.get_metric_history(other_run.id, "loss").total == 3


def test_float64_values_round_trip_bit_for_bit(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    steps = list(range(len(EXTREMES)))
    tracking.log_metrics(run.id, batch(columns("x", steps, EXTREMES)))
    history = tracking.get_metric_history(run.id, "x")
    assert history.steps.tolist() == steps
    assert history.values.dtype == np.float64
    assert same_bits(history.values, np.array(EXTREMES))

    summary = _summary(tracking, run.id, "x")
    assert summary.last == EXTREMES[-1]  # the value at the highest step
    assert summary.min == -math.inf
    assert summary.max == math.inf
    assert summary.count == len(EXTREMES)

    # The wire spellings of the non-finite values are accepted where the SDK builds columns.
    tracking.log_metrics(run.id, batch(columns("w", [0, 1, 2], ["NaN", "Infinity", "-Infinity"])))
    values = tracking.get_metric_history(run.id, "w").values
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf


def test_extreme_steps_and_timestamps_round_trip(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    steps = np.array([MIN_INT64, -1, 0, 1, 2**53 + 1, MAX_INT64], dtype=np.int64)
    timestamps = np.array([0, 1, 2, 3, 2**62, MAX_INT64], dtype=np.int64)
    values = np.arange(6, dtype=np.float64)
    sent = MetricColumns.from_lists("s", steps.tolist(), timestamps.tolist(), values.tolist())
    tracking.log_metrics(run.id, batch(sent))
    history = tracking.get_metric_history(run.id, "s")
    assert history.steps.tolist() == steps.tolist()
    assert history.timestamps.tolist() == timestamps.tolist()
    summary = _summary(tracking, run.id, "s")
    assert (summary.last_step, summary.last, summary.last_timestamp) == (MAX_INT64, 5.0, MAX_INT64)


def test_summary_with_out_of_order_steps(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    tracking.log_metrics(run.id, batch(columns("m", [5, 1, 9, 3], [0.5, 0.1, 0.9, -2.0])))
    s = _summary(tracking, run.id, "m")
    assert (s.last, s.last_step, s.min, s.max, s.count) == (0.9, 9, -2.0, 0.9, 4)
    assert s.last_timestamp == 1_009

    # An earlier step logged later changes min, max and count, never "last".
    tracking.log_metrics(run.id, batch(columns("m", [2], [7.5])))
    s = _summary(tracking, run.id, "m")
    assert (s.last, s.last_step, s.min, s.max, s.count) == (0.9, 9, -2.0, 7.5, 5)

    # The same highest step again: the later logged value wins the tie.
    tracking.log_metrics(run.id, batch(columns("m", [9], [0.25])))
    s = _summary(tracking, run.id, "m")
    assert (s.last, s.last_step, s.count) == (0.25, 9, 6)

    # Within one batch too, the later of equal highest steps wins.
    tracking.log_metrics(run.id, batch(columns("m", [12, 10, 12], [1.0, 2.0, 3.0])))
    s = _summary(tracking, run.id, "m")
    assert (s.last, s.last_step, s.min, s.max, s.count) == (3.0, 12, -2.0, 7.5, 9)


def test_summary_with_nan(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    tracking.log_metrics(run.id, batch(columns("m", [0, 1, 2], [1.0, math.nan, 3.0])))
    s = _summary(tracking, run.id, "m")
    assert (s.last, s.min, s.max, s.count) == (3.0, 1.0, 3.0, 3)

    tracking.log_metrics(run.id, batch(columns("m", [3], [math.nan])))
    s = _summary(tracking, run.id, "m")
    assert math.isnan(s.last)
    assert (s.last_step, s.min, s.max, s.count) == (3, 1.0, 3.0, 4)

    tracking.log_metrics(run.id, batch(columns("all_nan", [0, 1], [math.nan, math.nan])))
    s = _summary(tracking, run.id, "all_nan")
    assert math.isnan(s.last)
    assert (s.min, s.max, s.count) == (None, None, 2)

    # A NaN-only batch does not disturb what the earlier numbers set.
    tracking.log_metrics(run.id, batch(columns("later", [0], [2.0])))
    tracking.log_metrics(run.id, batch(columns("later", [1], [math.nan])))
    s = _summary(tracking, run.id, "later")
    assert (s.min, s.max, s.count) == (2.0, 2.0, 2)
    assert math.isnan(s.last)


def test_the_same_key_twice_in_one_batch(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    tracking.log_metrics(run.id, batch(columns("m", [0, 1], [5.0, 6.0]), columns("m", [2, 1], [-1.0, 9.0])))
    s = _summary(tracking, run.id, "m")
    assert (s.last, s.last_step, s.min, s.max, s.count) == (-1.0, 2, -1.0, 9.0, 4)
    assert tracking.get_metric_history(run.id, "m").steps.tolist() == [0, 1, 1, 2]


def test_metrics_to_an_inactive_run_are_refused(tracking: Tracking) -> None:
    for end in ("finish", "delete"):
        run = tracking.create_run("p")
        tracking.log_metrics(run.id, batch(columns("m", [0], [1.0])))
        if end == "finish":
            tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))
        else:
            tracking.delete_run(run.id)
        with pytest.raises(RunNotActive):
            tracking.log_metrics(run.id, batch(columns("m", [1], [2.0]), columns("new", [0], [1.0])))
        if end == "delete":
            tracking.restore_run(run.id)
        stored = tracking.get_run(run.id)
        assert set(stored.metrics) == {"m"}
        assert stored.metrics["m"].count == 1
        assert tracking.get_metric_history(run.id, "m").values.tolist() == [1.0]
        assert tracking.get_metric_history(run.id, "new").total == 0

    with pytest.raises(RunNotFound):
        tracking.log_metrics("0" * 32, batch(columns("m", [0], [1.0])))
