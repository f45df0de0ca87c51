"""Fingerprints and "already tried?": the store keeps runs.fingerprint, find_duplicates finds
the finished runs of a project with the same one."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cairn.core.entities import Run, RunStatus, RunUpdate
from cairn.core.errors import InvalidInput, ParamConflict
from cairn.core.fingerprint import fingerprint
from cairn.core.params import flatten_config
from cairn.service.interface import Tracking

CONFIG = {"lr": 0.1, "epochs": 10, "optimizer": {"name": "adam", "amsgrad": True}, "seed": None}


def finished(tracking: Tracking, project: str = "p", config: dict[str, Any] | None = None, **fields: Any) -> Run:
    run = tracking.create_run(project, config=CONFIG if config is None else config, **fields)
    return tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))


def test_the_store_fingerprints_the_params_at_creation(tracking: Tracking) -> None:
    run = tracking.create_run("p", config=CONFIG)
    assert run.fingerprint == fingerprint(flatten_config(CONFIG))
    assert tracking.get_run(run.id).fingerprint == run.fingerprint
    assert tracking.create_run("p").fingerprint == fingerprint({})


def test_logging_params_recomputes_it(tracking: Tracking) -> None:
    run = tracking.create_run("p", config={"lr": 0.1})
    tracking.log_params(run.id, {"net": {"depth": 4}, "bad": math.nan})
    expected = fingerprint({"lr": 0.1, "net.depth": 4, "bad": math.nan})
    assert tracking.get_run(run.id).fingerprint == expected
    tracking.log_params(run.id, {"lr": 0.1})  # the same again: nothing changes
    assert tracking.get_run(run.id).fingerprint == expected
    with pytest.raises(ParamConflict):
        tracking.log_params(run.id, {"lr": 0.2, "extra": 1})  # refused whole: fingerprint kept
    assert tracking.get_run(run.id).fingerprint == expected
    # Params logged one by one end where params given at once start.
    assert tracking.create_run("p", config={"lr": 0.1, "net.depth": 4, "bad": math.nan}).fingerprint == expected


def test_finished_runs_with_the_same_fingerprint_newest_first(tracking: Tracking) -> None:
    digest = fingerprint(flatten_config(CONFIG))
    older = finished(tracking, start_time=1_700_000_000_000)
    newer = finished(tracking, start_time=1_700_000_100_000)
    tracking.create_run("p", config=CONFIG)  # still running: not (yet) a result
    failed = tracking.create_run("p", config=CONFIG)
    tracking.update_run(failed.id, RunUpdate(status=RunStatus.FAILED))
    deleted = finished(tracking)
    tracking.delete_run(deleted.id)
    finished(tracking, config={**CONFIG, "lr": 0.2})  # another config
    finished(tracking, project="elsewhere")  # another project

    found = tracking.find_duplicates("p", digest)
    assert [r.id for r in found] == [newer.id, older.id]
    assert found[0].params == newer.params and found[0].metrics == {}
    assert found[0].fingerprint == digest
    assert [r.id for r in tracking.find_duplicates("p", digest, limit=1)] == [newer.id]
    assert tracking.find_duplicates("p", fingerprint({"lr": 0.3})) == []
    assert [r.id for r in tracking.find_duplicates("elsewhere", digest)] != []


def test_equal_configs_written_differently_match(tracking: Tracking) -> None:
    run = finished(tracking, config={"lr": 0.10, "epochs": 10.0, "zero": -0.0, "bad": math.nan, "b": {"c": 1}})
    same = {"b.c": 1.0, "bad": float("nan"), "zero": 0, "epochs": 10, "lr": 0.1}
    assert [r.id for r in tracking.find_duplicates("p", fingerprint(flatten_config(same)))] == [run.id]
    for other in ({**same, "epochs": True}, {**same, "lr": "0.1"}, {**same, "extra": None}):
        assert tracking.find_duplicates("p", fingerprint(flatten_config(other))) == []


def test_a_project_that_does_not_exist_has_no_duplicates(tracking: Tracking) -> None:
    assert tracking.find_duplicates("never-used", fingerprint({"lr": 0.1})) == []


def test_malformed_requests_are_refused(tracking: Tracking) -> None:
    finished(tracking)
    for bad in ("", "abc", "G" * 64, "A" * 64, "0" * 65):
        with pytest.raises(InvalidInput):
            tracking.find_duplicates("p", bad)
    with pytest.raises(InvalidInput):
        tracking.find_duplicates("p", fingerprint({}), limit=0)
