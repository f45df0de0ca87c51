"""Metric history: full, paged, windowed and downsampled to an envelope."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cairn.core.errors import RunNotFound
from cairn.core.metrics import MetricColumns
from cairn.service.interface import Tracking

from .helpers import batch, columns, same_bits

N = 100_000
SPIKE_STEP, DIP_STEP, NAN_STEP = 31_337, 77_777, 50_505


def _log_long_series(tracking: Tracking, run_id: str) -> None:
    steps = np.arange(N, dtype=np.int64)
    values = np.sin(steps / 500.0)
    values[SPIKE_STEP] = 1e6
    values[DIP_STEP] = -1e6
    values[NAN_STEP] = math.nan
    long = MetricColumns(key="long", steps=steps, timestamps=steps + 1_000, values=values)
    tracking.log_metrics(run_id, batch(long))


def test_full_history_in_step_order(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    tracking.log_metrics(run.id, batch(columns("m", [3, 0, 2], [30.0, 0.0, 20.0])))
    tracking.log_metrics(run.id, batch(columns("m", [1, 2], [10.0, 21.0])))
    history = tracking.get_metric_history(run.id, "m")
    assert history.key == "m"
    assert history.steps.tolist() == [0, 1, 2, 2, 3]
    # Equal steps keep the order they were logged in.
    assert history.values.tolist() == [0.0, 10.0, 20.0, 21.0, 30.0]
    assert history.timestamps.tolist() == [1_000, 1_001, 1_002, 1_002, 1_003]
    assert (history.total, history.downsampled, history.next_offset) == (5, False, None)
    assert len(history) == 5


def test_unknown_key_is_empty_and_unknown_run_is_not_found(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    history = tracking.get_metric_history(run.id, "never")
    assert (len(history), history.total, history.next_offset) == (0, 0, None)
    with pytest.raises(RunNotFound):
        tracking.get_metric_history("0" * 32, "m")


def test_pages_reassemble_exactly(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    rng = np.random.default_rng(7)
    values = rng.normal(size=1_000)
    values[[10, 500]] = [math.nan, math.inf]
    steps = list(range(1_000))
    for start in range(0, 1_000, 250):  # several chunks
        part = MetricColumns.from_lists(
            "m",
            steps[start : start + 250],
            steps[start : start + 250],
            values[start : start + 250].tolist(),
        )
        tracking.log_metrics(run.id, batch(part))

    full = tracking.get_metric_history(run.id, "m")
    got_steps, got_values = [], []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = tracking.get_metric_history(run.id, "m", offset=offset, limit=128)
        assert page.total == 1_000
        assert len(page) <= 128
        got_steps.extend(page.steps.tolist())
        got_values.extend(page.values.tolist())
        offset = page.next_offset
        pages += 1
    assert pages == 8
    assert got_steps == full.steps.tolist() == steps
    assert same_bits(np.array(got_values), full.values)
    assert same_bits(full.values, values)

    past_the_end = tracking.get_metric_history(run.id, "m", offset=5_000, limit=10)
    assert (len(past_the_end), past_the_end.next_offset) == (0, None)


def test_step_window(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    tracking.log_metrics(run.id, batch(columns("m", list(range(0, 100, 2)), [float(s) for s in range(0, 100, 2)])))
    window = tracking.get_metric_history(run.id, "m", step_min=10, step_max=20)
    assert window.steps.tolist() == [10, 12, 14, 16, 18, 20]
    assert window.values.tolist() == [10.0, 12.0, 14.0, 16.0, 18.0, 20.0]
    assert window.total == 6
    assert tracking.get_metric_history(run.id, "m", step_min=95).steps.tolist() == [96, 98]
    assert tracking.get_metric_history(run.id, "m", step_max=3).steps.tolist() == [0, 2]
    assert tracking.get_metric_history(run.id, "m", step_min=11, step_max=11).total == 0
    paged = tracking.get_metric_history(run.id, "m", step_min=10, step_max=20, offset=2, limit=3)
    assert (paged.steps.tolist(), paged.total, paged.next_offset) == ([14, 16, 18], 6, 5)


def test_downsampling_keeps_spike_dip_and_nan(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    _log_long_series(tracking, run.id)

    for max_points in (1_000, 97):
        history = tracking.get_metric_history(run.id, "long", max_points=max_points)
        assert history.downsampled is True
        assert history.total == N
        assert 0 < len(history) <= max_points
        steps = history.steps.tolist()
        assert steps == sorted(steps)
        assert len(set(steps)) == len(steps)
        assert steps[0] == 0 and steps[-1] == N - 1
        assert SPIKE_STEP in steps and history.values[steps.index(SPIKE_STEP)] == 1e6
        assert DIP_STEP in steps and history.values[steps.index(DIP_STEP)] == -1e6
        assert NAN_STEP in steps and math.isnan(history.values[steps.index(NAN_STEP)])
        # Every kept point is a real point: its value and timestamp are the logged ones.
        expected = np.sin(history.steps / 500.0)
        ordinary = ~np.isin(history.steps, [SPIKE_STEP, DIP_STEP, NAN_STEP])
        assert np.array_equal(history.values[ordinary], expected[ordinary])
        assert np.array_equal(history.timestamps, history.steps + 1_000)


def test_a_window_smaller_than_max_points_is_not_downsampled(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    _log_long_series(tracking, run.id)
    history = tracking.get_metric_history(run.id, "long", step_min=31_300, step_max=31_399, max_points=1_000)
    assert history.downsampled is False
    assert history.total == 100
    assert history.steps.tolist() == list(range(31_300, 31_400))
    assert history.values[SPIKE_STEP - 31_300] == 1e6

    # Zoomed in on a window still larger than max_points: downsampled, extremes kept.
    zoomed = tracking.get_metric_history(run.id, "long", step_min=30_000, step_max=60_000, max_points=500)
    assert zoomed.downsampled is True
    assert zoomed.total == 30_001
    assert len(zoomed) <= 500
    assert zoomed.steps[0] == 30_000 and zoomed.steps[-1] == 60_000
    assert SPIKE_STEP in zoomed.steps.tolist() and NAN_STEP in zoomed.steps.tolist()

    exact = tracking.get_metric_history(run.id, "long", max_points=N)
    assert exact.downsampled is False
    assert len(exact) == N
