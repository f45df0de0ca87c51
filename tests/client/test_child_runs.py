"""``run.log_child_runs``: finished children created by the parent's writer, through an outage
too, with NaN metrics and hostile text intact."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from store_doubles import FlakyTracking, start_run

from cairn.client.child_runs import ChildRun
from cairn.core.errors import InvalidKey, InvalidValue


def children_of(flaky: FlakyTracking, parent_id: str) -> list:
    parent = flaky.inner.get_run(parent_id)
    found = flaky.inner.list_runs(parent.project)
    return sorted((run for run in found.items if run.parent_id == parent_id), key=lambda run: run.name)


def test_children_arrive_finished_with_params_metrics_and_tags(flaky: FlakyTracking, spool_root: Path) -> None:
    run = start_run(flaky, spool_root)
    run.log_child_runs(
        [
            ChildRun("c-0", params={"C": 1, "kernel": "<b>rbf</b>"}, metrics={"mean_test_score": 0.9}, tags={"k": "v"}),
            ChildRun("c-1", params={"C": 10}, metrics={"mean_test_score": float("nan"), "rank": 1}),
        ]
    )
    assert run.flush(timeout=10)
    first, second = children_of(flaky, run.id)
    assert first.status.value == "finished" and second.status.value == "finished"
    assert dict(first.params) == {"C": 1, "kernel": "<b>rbf</b>"} and first.tags["k"] == "v"
    assert first.metrics["mean_test_score"].last == 0.9
    assert math.isnan(second.metrics["mean_test_score"].last) and second.metrics["rank"].last == 1.0
    run.finish()


def test_children_logged_while_the_store_is_away_arrive_from_the_spool(flaky: FlakyTracking, spool_root: Path) -> None:
    run = start_run(flaky, spool_root)
    flaky.down.set()
    # A NaN param must keep its type through the spool's JSON (orjson would write null).
    children = [ChildRun(f"c-{i}", params={"i": i, "alpha": math.nan}, metrics={"score": math.inf}) for i in range(3)]
    run.log_child_runs(children)
    assert not run.flush(timeout=1)  # spooled, not lost
    flaky.down.clear()
    assert run.flush(timeout=15)
    children = children_of(flaky, run.id)
    assert [child.name for child in children] == ["c-0", "c-1", "c-2"]
    assert all(child.metrics["score"].last == math.inf for child in children)
    assert all(isinstance(child.params["alpha"], float) and math.isnan(child.params["alpha"]) for child in children)
    run.finish()


def test_a_bad_child_raises_at_the_call_and_queues_none(flaky: FlakyTracking, spool_root: Path) -> None:
    run = start_run(flaky, spool_root)
    with pytest.raises(InvalidKey):
        run.log_child_runs([ChildRun("fine"), ChildRun("bad", metrics={"bad\nkey": 1.0})])
    with pytest.raises(InvalidValue):
        run.log_child_runs([ChildRun("nul\x00name")])
    assert run.flush(timeout=10)
    assert children_of(flaky, run.id) == []
    run.finish()
