"""What changed: diff_runs against a named run, and against the nearest earlier one."""

from __future__ import annotations

import math

import pytest

from cairn.core.diff import Change
from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.errors import NotFound, RunNotFound
from cairn.service.interface import Tracking

from .helpers import batch, columns

T0 = 1_700_000_000_000


def test_against_a_named_run(tracking: Tracking) -> None:
    before = tracking.create_run(
        "p",
        name="before",
        config={"lr": 0.1, "depth": 2, "dropout": 0.5, "bad": math.nan},
        tags={"team": "cv", "stage": "1"},
        notes="first\nsecond",
        start_time=T0,
    )
    tracking.log_metrics(
        before.id, batch(columns("acc", [0, 1], [0.5, 0.8]), columns("val", [0], [math.nan]), columns("x", [0], [1]))
    )
    tracking.update_run(before.id, RunUpdate(status=RunStatus.FINISHED))
    after = tracking.create_run(
        "p",
        name="after",
        config={"lr": 0.01, "depth": 2.0, "width": 128, "bad": math.nan},
        tags={"team": "cv", "stage": "2"},
        notes="first\nthird",
        start_time=T0 + 1,
    )
    tracking.log_metrics(after.id, batch(columns("acc", [0, 1], [0.6, math.inf]), columns("x", [0], [1])))

    diff = tracking.diff_runs(after.id, before.id)
    assert (diff.run.id, diff.run.name, diff.baseline.id, diff.baseline.status) == (
        after.id,
        "after",
        before.id,
        RunStatus.FINISHED,
    )
    assert diff.params.changed == {"lr": Change(0.1, 0.01)}
    assert diff.params.added == {"width": 128} and diff.params.removed == {"dropout": 0.5}
    assert diff.params.unchanged == 2 and diff.distance == 3
    acc = diff.metrics.changed["acc"]
    assert acc.before.last == 0.8 and acc.after.last == math.inf and acc.last == math.inf
    assert acc.min is not None and math.isclose(acc.min, 0.1)
    assert math.isnan(diff.metrics.removed["val"].last)
    assert diff.metrics.added == {} and diff.metrics.unchanged == 1
    assert diff.tags.changed == {"stage": Change("1", "2")} and diff.tags.unchanged == 1
    assert diff.notes == Change("first\nsecond", "first\nthird")


def test_against_the_nearest_earlier_run_by_default(tracking: Tracking) -> None:
    far = tracking.create_run("p", config={"lr": 0.5, "depth": 8}, start_time=T0)
    near = tracking.create_run("p", config={"lr": 0.1, "depth": 8}, start_time=T0 + 1)
    tracking.create_run("p", config={"lr": 0.1, "depth": 4}, start_time=T0 + 3)  # later: never a baseline
    run = tracking.create_run("p", config={"lr": 0.1, "depth": 4}, start_time=T0 + 2)
    diff = tracking.diff_runs(run.id)
    assert diff.baseline.id == near.id
    assert diff.params.changed == {"depth": Change(8, 4)}
    assert tracking.diff_runs(run.id, far.id).distance == 2
    # The same run on both sides: nothing changed.
    assert tracking.diff_runs(run.id, run.id).empty


def test_without_an_earlier_run(tracking: Tracking) -> None:
    first = tracking.create_run("p", config={"lr": 0.1})
    with pytest.raises(NotFound) as raised:
        tracking.diff_runs(first.id)
    assert type(raised.value) is NotFound
    assert "earlier run" in raised.value.message
    with pytest.raises(RunNotFound):
        tracking.diff_runs("0" * 32)
    with pytest.raises(RunNotFound):
        tracking.diff_runs(first.id, "0" * 32)
