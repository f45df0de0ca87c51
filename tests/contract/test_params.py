"""Params: flattened config, exact typed round trips, immutability, atomic requests."""

from __future__ import annotations

import math

import pytest

from cairn.core.entities import ParamValue, RunStatus, RunUpdate
from cairn.core.errors import ParamConflict, RunNotActive, RunNotFound
from cairn.service.interface import Tracking

from .helpers import same_param

TYPED: dict[str, ParamValue] = {
    "int.zero": 0,
    "int.negative": -7,
    "int.max64": 2**63 - 1,
    "int.min64": -(2**63),
    "int.beyond_float": 2**53 + 1,
    "float.tenth": 0.1,
    "float.whole": 1.0,
    "float.negative_zero": -0.0,
    "float.tiny": 5e-324,
    "float.huge": 1.7976931348623157e308,
    "float.third": 1 / 3,
    "float.nan": math.nan,
    "float.inf": math.inf,
    "float.minus_inf": -math.inf,
    "bool.true": True,
    "bool.false": False,
    "str.empty": "",
    "str.text": "adam",
    "str.number_like": "1",
    "str.bool_like": "true",
    "str.none_like": "None",
    "str.nan_like": "NaN",
    "str.unicode": "café ☕ — ünïcödé",
    "str.multiline": "line one\nline two\ttabbed",
    "none": None,
}


def _assert_typed(got: dict[str, ParamValue], expected: dict[str, ParamValue]) -> None:
    assert set(got) == set(expected)
    wrong = {k: (got[k], expected[k]) for k in expected if not same_param(got[k], expected[k])}
    assert not wrong, wrong


def test_nested_config_is_flattened_with_dots(tracking: Tracking) -> None:
    config = {
        "optimizer": {"name": "adam", "lr": 0.001, "betas": {"b1": 0.9, "b2": 0.999}},
        "epochs": 10,
        "empty": {},
    }
    run = tracking.create_run("p", config=config)
    expected = {
        "optimizer.name": "adam",
        "optimizer.lr": 0.001,
        "optimizer.betas.b1": 0.9,
        "optimizer.betas.b2": 0.999,
        "epochs": 10,
        "empty": "{}",
    }
    assert run.params == expected
    tracking.log_params(run.id, {"data": {"path": "/tmp/x", "shuffle": True}})
    assert tracking.get_run(run.id).params == {
        **expected,
        "data.path": "/tmp/x",
        "data.shuffle": True,
    }


def test_lists_are_stored_as_json_text(tracking: Tracking) -> None:
    run = tracking.create_run("p", config={"layers": [64, 32], "pair": {"a": [1, "b"]}})
    assert run.params == {"layers": "[64,32]", "pair.a": '[1,"b"]'}


def test_typed_values_round_trip_exactly_at_creation(tracking: Tracking) -> None:
    run = tracking.create_run("p", config=TYPED)
    _assert_typed(dict(run.params), TYPED)
    _assert_typed(dict(tracking.get_run(run.id).params), TYPED)


def test_typed_values_round_trip_exactly_when_logged(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    tracking.log_params(run.id, TYPED)
    _assert_typed(dict(tracking.get_run(run.id).params), TYPED)
    listed = tracking.list_runs("p").items
    _assert_typed(dict(listed[0].params), TYPED)


def test_the_same_value_again_is_fine(tracking: Tracking) -> None:
    run = tracking.create_run("p", config={"lr": 0.1, "n": 1, "x": 2.0, "nan": math.nan, "on": True})
    tracking.log_params(run.id, {"lr": 0.10, "n": 1.0, "x": 2, "nan": math.nan, "on": True})
    tracking.log_params(run.id, {"lr": 0.1, "none": None})
    tracking.log_params(run.id, {"none": None})
    params = tracking.get_run(run.id).params
    # The first logged value, with its type, is what stays.
    assert set(params) == {"lr", "n", "x", "nan", "on", "none"}
    assert same_param(params["n"], 1)
    assert same_param(params["x"], 2.0)
    assert same_param(params["nan"], math.nan)
    assert params["none"] is None


CONFLICTS: list[tuple[ParamValue, ParamValue]] = [
    (0.1, 0.2),
    (1, 2),
    ("adam", "sgd"),
    (True, False),
    (True, 1),
    (1, "1"),
    (None, 0),
    (math.nan, 1.0),
    (math.inf, -math.inf),
]


def test_a_different_value_conflicts_and_stores_nothing(tracking: Tracking) -> None:
    for first, second in CONFLICTS:
        run = tracking.create_run("p", config={"key": first, "kept": 1})
        with pytest.raises(ParamConflict) as raised:
            # The new keys around the conflicting one are not stored either.
            tracking.log_params(run.id, {"new": "x", "key": second, "also_new": 3})
        assert "key" in str(raised.value)
        params = tracking.get_run(run.id).params
        assert set(params) == {"key", "kept"}, (first, second)
        assert same_param(params["key"], first), (first, second)


def test_conflict_names_every_conflicting_key(tracking: Tracking) -> None:
    run = tracking.create_run("p", config={"a": 1, "b": 2, "c": 3})
    with pytest.raises(ParamConflict) as raised:
        tracking.log_params(run.id, {"a": 10, "b": 2, "c": 30})
    assert set(raised.value.details["conflicts"]) == {"a", "c"}


def test_params_to_an_inactive_run_are_refused(tracking: Tracking) -> None:
    finished = tracking.create_run("p", config={"a": 1})
    tracking.update_run(finished.id, RunUpdate(status=RunStatus.FINISHED))
    deleted = tracking.create_run("p", config={"a": 1})
    tracking.delete_run(deleted.id)
    for run_id in (finished.id, deleted.id):
        with pytest.raises(RunNotActive):
            tracking.log_params(run_id, {"b": 2})
        with pytest.raises(RunNotActive):
            tracking.log_params(run_id, {"a": 1})
        assert tracking.get_run(run_id).params == {"a": 1}
    with pytest.raises(RunNotFound):
        tracking.log_params("0" * 32, {"a": 1})
