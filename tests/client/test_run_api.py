"""The Run a training script holds: its checks raise in the caller, its setters reach the store,
and it ends the way the ``with`` block ended."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import cairn
from cairn.client import lifecycle
from cairn.core.entities import Run as RunRecord
from cairn.core.entities import RunStatus
from cairn.core.errors import InvalidKey, InvalidValue, ParamConflict, RunNotActive, RunNotFound


@pytest.fixture
def run() -> Iterator[cairn.Run]:
    run = cairn.init("checks", config={"lr": 0.1, "opt": {"name": "adam"}}, flush_interval=0.05)
    try:
        yield run
    finally:
        run.finish()


def read_back(run_id: str) -> RunRecord:
    with cairn.Api() as api:
        return api.run(run_id)


def history(run_id: str, key: str) -> tuple[list[int], list[float]]:
    with cairn.Api() as api:
        found = api.history(run_id, key)
    return found.steps.tolist(), found.values.tolist()


# -- run.log input ------------------------------------------------------------------------


class Temperature:
    """A user's own number type: anything float() accepts is a metric value."""

    def __float__(self) -> float:
        return 21.5


@pytest.mark.parametrize(
    "value",
    ["0.5", b"1", True, False, np.True_, None, [1.0], {"v": 1.0}, object(), 1 + 2j, 10**400],
    ids=[
        "str",
        "bytes",
        "True",
        "False",
        "np.bool",
        "None",
        "list",
        "dict",
        "object",
        "complex",
        "huge-int",
    ],
)
def test_a_value_that_is_not_a_number_raises_in_the_caller(run: cairn.Run, value: object) -> None:
    with pytest.raises(InvalidValue, match="'loss'"):
        run.log({"loss": value})


@pytest.mark.parametrize("key", ["", "a\nb", "tab\there", "x" * 251, 3, None], ids=repr)
def test_a_bad_key_raises_in_the_caller(run: cairn.Run, key: Any) -> None:
    with pytest.raises(InvalidKey):
        run.log({key: 1.0})


@pytest.mark.parametrize("step", [1.0, 1.5, "3", True, np.float64(2.0), 2**63, -(2**63) - 1])
def test_a_step_that_is_not_a_64_bit_integer_raises(run: cairn.Run, step: Any) -> None:
    with pytest.raises(InvalidValue):
        run.log({"loss": 1.0}, step=step)


@pytest.mark.parametrize("timestamp", [1.5, -1, "now", True, 2**63, np.float64(1e12)])
def test_a_timestamp_that_is_not_epoch_milliseconds_raises(run: cairn.Run, timestamp: Any) -> None:
    with pytest.raises(InvalidValue):
        run.log({"loss": 1.0}, timestamp=timestamp)


def test_refused_calls_log_nothing_and_do_not_use_up_a_step(run: cairn.Run) -> None:
    run.log({"loss": 1.0})  # step 0
    with pytest.raises(InvalidValue):
        run.log({"loss": 2.0, "acc": "high"})
    with pytest.raises(InvalidKey):
        run.log({"loss": 3.0, "": 1.0})
    with pytest.raises(InvalidValue):
        run.log({"loss": 4.0}, step=2.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        run.log({"loss": 5.0}, timestamp=-5)
    run.log({"loss": 6.0})  # step 1: the refused calls logged nothing
    run.finish()
    assert history(run.id, "loss") == ([0, 1], [1.0, 6.0])
    assert set(read_back(run.id).metrics) == {"loss"}


def test_numpy_scalars_and_number_like_objects_are_accepted(run: cairn.Run) -> None:
    run.log({"a": np.float32(0.5), "b": np.int64(3), "c": np.float64(math.nan), "d": np.array(2.5)})
    run.log({"a": Temperature(), "b": Decimal("1.25"), "c": Fraction(1, 4), "d": 7}, step=np.int64(5))
    run.log({"a": np.float16(-math.inf)}, step=np.int32(6), timestamp=np.int64(1_700_000_000_000))
    run.finish()
    assert history(run.id, "a") == ([0, 5, 6], [0.5, 21.5, -math.inf])
    assert history(run.id, "b") == ([0, 5], [3.0, 1.25])
    steps, values = history(run.id, "c")
    assert steps == [0, 5] and math.isnan(values[0]) and values[1] == 0.25
    assert history(run.id, "d") == ([0, 5], [2.5, 7.0])
    with cairn.Api() as api:
        assert api.history(run.id, "a").timestamps.tolist()[-1] == 1_700_000_000_000


def test_the_caller_may_reuse_its_dict(run: cairn.Run) -> None:
    values = {"loss": 1.0}
    run.log(values)
    values["loss"] = 2.0
    run.log(values)
    run.finish()
    assert history(run.id, "loss") == ([0, 1], [1.0, 2.0])


def test_metrics_and_params_are_refused_after_finish(run: cairn.Run) -> None:
    run.log({"loss": 1.0})
    run.finish()
    run.finish()  # a second finish is harmless
    with pytest.raises(RunNotActive):
        run.log({"loss": 2.0})
    with pytest.raises(RunNotActive):
        run.log_params({"late": 1})
    with pytest.raises(RunNotActive):
        run.config["late"] = 1
    record = read_back(run.id)
    assert record.metrics["loss"].count == 1 and "late" not in record.params


def test_tags_notes_and_name_may_change_after_finish(run: cairn.Run) -> None:
    run.finish()
    run.set_tags({"best": "yes"})
    run.notes += "converged"
    run.name = "the-one"
    record = read_back(run.id)
    assert record.tags == {"best": "yes"}
    assert record.notes == "converged" and record.name == "the-one"
    assert record.status is RunStatus.FINISHED


def test_finish_refuses_a_status_that_is_not_an_end(run: cairn.Run) -> None:
    with pytest.raises(ValueError):
        run.finish("paused")
    with pytest.raises(InvalidValue):
        run.finish("running")
    assert not run.finished
    run.log({"loss": 1.0})  # still open


# -- run.config and params ----------------------------------------------------------------


def test_config_is_the_params_as_a_mapping(run: cairn.Run) -> None:
    config = run.config
    assert dict(config) == {"lr": 0.1, "opt.name": "adam"}
    assert config["opt.name"] == "adam" and len(config) == 2 and "lr" in config
    config["batch_size"] = 32
    config["lr"] = 0.1  # the same value again is fine
    config["lr"] = 0.10000  # so is the same number written differently
    config.update({"dropout": 0.2}, warmup=np.int64(100))
    assert config["batch_size"] == 32 and config["warmup"] == 100
    with pytest.raises(ParamConflict):
        config["lr"] = 0.2
    with pytest.raises(ParamConflict):
        config["batch_size"] = "32"
    with pytest.raises(ParamConflict):
        del config["lr"]
    with pytest.raises(ParamConflict):
        config.pop("lr")
    assert config["lr"] == 0.1
    run.finish()
    assert read_back(run.id).params == {
        "lr": 0.1,
        "opt.name": "adam",
        "batch_size": 32,
        "dropout": 0.2,
        "warmup": 100,
    }


def test_log_params_flattens_and_refuses_a_change_as_a_whole(run: cairn.Run) -> None:
    run.log_params({"model": {"depth": 50, "act": "relu"}, "amp": False})
    with pytest.raises(ParamConflict) as refused:
        run.log_params({"new": 1, "model": {"depth": 101}})
    assert refused.value.details["keys"] == ["model.depth"]
    with pytest.raises(ParamConflict):
        run.log_params({"opt": {"name": "sgd"}})  # conflicts with the config given to init
    with pytest.raises(ParamConflict):
        run.log_params({"amp": 0})  # a bool is not the number 0
    with pytest.raises(InvalidKey):
        run.log_params({"": 1})
    with pytest.raises(InvalidValue):
        run.log_params({"blob": "x" * 6001})
    run.finish()
    params = read_back(run.id).params
    assert params == {
        "lr": 0.1,
        "opt.name": "adam",
        "model.depth": 50,
        "model.act": "relu",
        "amp": False,
    }
    assert "new" not in params


# -- tags, notes, name --------------------------------------------------------------------


def test_tags_notes_and_name_reach_the_store(run: cairn.Run) -> None:
    run.set_tags({"team": "cv", "stage": "draft"})
    run.set_tags({"stage": "final"})
    with pytest.raises(InvalidValue):
        run.set_tags({"n": 3})  # type: ignore[dict-item]
    with pytest.raises(InvalidKey):
        run.set_tags({"": "x"})
    run.notes = "## Findings\n\nlr too high"
    assert run.notes == "## Findings\n\nlr too high"
    with pytest.raises(InvalidValue):
        run.notes = 42  # type: ignore[assignment]
    run.name = "renamed"
    with pytest.raises(InvalidValue):
        run.name = "   "
    with pytest.raises(InvalidValue):
        run.name = "a\nb"
    assert run.name == "renamed"
    run.finish()
    record = read_back(run.id)
    assert record.tags == {"team": "cv", "stage": "final"}
    assert record.notes == "## Findings\n\nlr too high"
    assert record.name == "renamed"
    assert repr(run) == f"<cairn.Run checks/renamed id={run.id}>"


# -- ending as a context manager ----------------------------------------------------------


def test_a_with_block_that_ends_normally_finishes_the_run() -> None:
    with cairn.init("ctx", flush_interval=0.05) as run:
        run.log({"loss": 1.0})
    assert run.finished and run not in lifecycle.active_runs()
    record = read_back(run.id)
    assert record.status is RunStatus.FINISHED and record.metrics["loss"].count == 1


def test_an_exception_fails_the_run_and_goes_on() -> None:
    with pytest.raises(ZeroDivisionError):
        with cairn.init("ctx", flush_interval=0.05) as run:
            run.log({"loss": 1.0})
            _ = 1 / 0
    record = read_back(run.id)
    assert record.status is RunStatus.FAILED and record.end_time is not None
    assert record.metrics["loss"].count == 1


def test_ctrl_c_kills_the_run() -> None:
    with pytest.raises(KeyboardInterrupt):
        with cairn.init("ctx", flush_interval=0.05) as run:
            run.log({"loss": 1.0})
            raise KeyboardInterrupt
    record = read_back(run.id)
    assert record.status is RunStatus.KILLED and record.metrics["loss"].count == 1


# -- cairn.init ---------------------------------------------------------------------------


def test_init_refuses_bad_input_before_creating_anything() -> None:
    with pytest.raises(InvalidValue):
        cairn.init("", flush_interval=0.05)
    with pytest.raises(InvalidKey):
        cairn.init("fresh", config={"ok": 1, "": 2}, flush_interval=0.05)
    with pytest.raises(InvalidValue):
        cairn.init("fresh", tags={"n": 3}, flush_interval=0.05)  # type: ignore[dict-item]
    with pytest.raises(RunNotFound):
        cairn.init("fresh", parent="0" * 32, flush_interval=0.05)
    assert lifecycle.active_runs() == []
    with cairn.Api() as api:
        assert api.projects() == []


# -- artifacts encoded at the end ---------------------------------------------------------


@pytest.mark.parametrize("wait", [True, False], ids=["finish", "finish-in-background"])
def test_an_artifact_left_for_the_close_is_encoded_then_and_stored(wait: bool) -> None:
    from cairn.client.artifact_formats import encode_text

    encoded: list[str] = []

    def late() -> Any:
        encoded.append("notes.txt")
        return encode_text("drawn at the end")

    run = cairn.init("checks")
    run._log_encoded_at_close(late, "notes.txt")
    run._log_encoded_at_close(lambda: None, "nothing.txt")  # a guarded encoder that failed
    assert encoded == []  # not while the run is open
    run.finish(wait=wait)
    cairn.flush()
    assert encoded == ["notes.txt"]
    with cairn.Api() as api:
        assert {artifact.path for artifact in api.artifacts(run.id)} >= {"notes.txt"}
        assert "nothing.txt" not in {artifact.path for artifact in api.artifacts(run.id)}
    with pytest.raises(RunNotActive):
        run._log_encoded_at_close(late, "later.txt")
