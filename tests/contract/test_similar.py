"""Near misses: the earlier runs of a project nearest to a run by param distance."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cairn.core.entities import Run, RunStatus, RunUpdate
from cairn.core.errors import InvalidInput, RunNotFound
from cairn.service.interface import Tracking

T0 = 1_700_000_000_000
BASE = {"lr": 0.01, "depth": 4, "opt": "adam", "wd": 0.1}


def at(tracking: Tracking, minute: int, config: dict[str, Any], *, project: str = "p", name: str = "") -> Run:
    return tracking.create_run(project, name=name or f"m{minute}", config=config, start_time=T0 + minute * 60_000)


def nearest(tracking: Tracking, run: Run, limit: int = 20) -> list[tuple[str, int]]:
    return [(s.run.name, s.distance) for s in tracking.similar_runs(run.id, limit)]


def test_nearest_first_by_distance_then_closeness_then_recency(tracking: Tracking) -> None:
    at(tracking, 1, BASE, name="equal")
    at(tracking, 2, {**BASE, "lr": 0.02}, name="lr-near")  # relative difference 1/3
    at(tracking, 3, {**BASE, "lr": 0.1}, name="lr-far")  # 0.82
    at(tracking, 4, {**BASE, "opt": "sgd"}, name="text")  # a changed text counts 1
    at(tracking, 5, {**BASE, "lr": 0.02}, name="lr-near-newer")  # ties with lr-near: newer first
    at(tracking, 6, {**BASE, "extra": 1}, name="one-more")  # a param on one side only counts 1
    at(tracking, 7, {k: v for k, v in BASE.items() if k != "wd"}, name="one-less")
    at(tracking, 8, {**BASE, "lr": 0.02, "extra": 1}, name="two")
    at(tracking, 9, {}, name="empty")
    run = at(tracking, 10, BASE, name="run")

    assert nearest(tracking, run) == [
        ("equal", 0),
        ("lr-near-newer", 1),
        ("lr-near", 1),
        ("lr-far", 1),
        ("one-less", 1),  # ties with the three below at score 1: newest first
        ("one-more", 1),
        ("text", 1),
        ("two", 2),
        ("empty", 4),
    ]
    assert nearest(tracking, run, limit=2) == [("equal", 0), ("lr-near-newer", 1)]


def test_only_earlier_live_runs_of_the_same_project(tracking: Tracking) -> None:
    first = at(tracking, 1, BASE, name="first")
    failed = at(tracking, 2, BASE, name="failed")
    tracking.update_run(failed.id, RunUpdate(status=RunStatus.FAILED))
    gone = at(tracking, 3, BASE, name="gone")
    tracking.delete_run(gone.id)
    at(tracking, 4, BASE, name="other-project", project="q")
    run = at(tracking, 5, BASE, name="run")
    at(tracking, 6, BASE, name="later")

    found = tracking.similar_runs(run.id)
    assert [(s.run.name, s.distance) for s in found] == [("failed", 0), ("first", 0)]
    assert found[1].run.params == first.params and found[1].run.status is RunStatus.RUNNING
    assert tracking.similar_runs(first.id) == []


def test_values_compare_as_params_do(tracking: Tracking) -> None:
    typed = {"i": 1, "f": 1.0, "z": 0.0, "nan": math.nan, "none": None, "flag": True, "text": "1", "tenth": 0.1}
    at(tracking, 1, {**typed, "i": 1.0, "f": 1, "z": -0.0, "tenth": 0.10}, name="equal")
    at(tracking, 2, {**typed, "flag": 1}, name="bool-is-not-int")
    at(tracking, 3, {**typed, "text": 1}, name="text-is-not-int")
    at(tracking, 4, {**typed, "nan": None}, name="nan-is-not-none")
    at(tracking, 5, {**typed, "none": "None"}, name="none-is-not-text")
    run = at(tracking, 6, typed, name="run")
    assert nearest(tracking, run) == [
        ("equal", 0),
        ("none-is-not-text", 1),
        ("nan-is-not-none", 1),
        ("text-is-not-int", 1),
        ("bool-is-not-int", 1),
    ]


def test_infinities_and_zeros_do_not_upset_the_order(tracking: Tracking) -> None:
    at(tracking, 1, {"x": math.inf, "y": 0.0}, name="inf")
    at(tracking, 2, {"x": 5.0, "y": -1e308}, name="huge")
    at(tracking, 3, {"x": 1.0, "y": 0.0}, name="near")
    run = at(tracking, 4, {"x": 1.5, "y": 1e308}, name="run")
    # All two params apart; "near" has the smaller relative differences.
    assert nearest(tracking, run)[0] == ("near", 2)
    assert sorted(nearest(tracking, run)) == [("huge", 2), ("inf", 2), ("near", 2)]


def test_unknown_run_and_bad_limit(tracking: Tracking) -> None:
    with pytest.raises(RunNotFound):
        tracking.similar_runs("0" * 32)
    run = at(tracking, 1, BASE)
    with pytest.raises(InvalidInput):
        tracking.similar_runs(run.id, 0)
