"""``run.watch(model)``: gradient and parameter norms of a real torch model trained on iris,
read back from the embedded store."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("torch", reason="torch is not installed (pip install 'cairn[lightning]')")

import torch
from sklearn.datasets import load_iris

import cairn
import cairn.pytorch
from cairn.core.errors import InvalidValue, RunNotActive


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def iris_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    X, y = load_iris(return_X_y=True)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def train(model: torch.nn.Module, steps: int, log: cairn.Run | None = None) -> None:
    X, y = iris_tensors()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        if log is not None:
            log.log({"loss": loss.item()})  # the script's own steps: 0, 1, 2, …


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    with cairn.Api() as api:
        found = api.history(run_id, key)
    return [(int(step), float(value)) for step, value in zip(found.steps, found.values, strict=True)]


PARAMETERS = ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_gradient_norms_are_logged_every_n_backward_passes_beside_the_scripts_own_steps() -> None:
    model = make_model()
    X, y = iris_tensors()
    with cairn.init("watch") as run:
        run.watch(model, log_freq=3)
        train(model, 7, log=run)
    with cairn.Api() as api:
        record = api.run(run.id)
    assert set(record.metrics) == {"loss"} | {f"gradients/{name}" for name in PARAMETERS}
    assert [step for step, _ in history(run.id, "loss")] == list(range(7))  # untouched by watch
    for name in PARAMETERS:
        assert [step for step, _ in history(run.id, f"gradients/{name}")] == [0, 3, 6]

    # The norms are those of the pass's gradients: recompute the first pass's by hand.
    fresh = make_model()
    torch.nn.functional.cross_entropy(fresh(X), y).backward()
    expected = float(fresh[0].weight.grad.norm())
    assert history(run.id, "gradients/0.weight")[0][1] == pytest.approx(expected, rel=1e-5)


def test_all_logs_parameter_norms_too_and_unwatch_removes_the_hook() -> None:
    model = make_model()
    norm_before = float(model[2].weight.detach().norm())
    with cairn.init("watch") as run:
        run.watch(model, log="all", log_freq=2)
        train(model, 4)
        run.unwatch(model)
        train(model, 4)  # nothing more is logged
        assert run._watchers == {}
    with cairn.Api() as api:
        record = api.run(run.id)
    assert set(record.metrics) == {f"{kind}/{name}" for kind in ("gradients", "parameters") for name in PARAMETERS}
    assert [step for step, _ in history(run.id, "parameters/2.weight")] == [0, 2]
    assert history(run.id, "parameters/2.weight")[0][1] == pytest.approx(norm_before, rel=1e-5)


def test_parameters_alone_and_the_module_level_watch_on_the_open_run() -> None:
    model = make_model()
    with cairn.init("watch") as run:
        cairn.pytorch.watch(model, log="parameters", log_freq=5)
        train(model, 6)
        cairn.pytorch.unwatch(model)
    with cairn.Api() as api:
        record = api.run(run.id)
    assert set(record.metrics) == {f"parameters/{name}" for name in PARAMETERS}
    assert [step for step, _ in history(run.id, "parameters/0.bias")] == [0, 5]


def test_the_runs_end_takes_the_hook_off_and_training_goes_on() -> None:
    model = make_model()
    run = cairn.init("watch")
    run.watch(model, log_freq=1)
    train(model, 2)
    run.finish()
    train(model, 3)  # no hook left to log into a finished run
    assert [step for step, _ in history(run.id, "gradients/0.bias")] == [0, 1]


def test_mistakes_raise_where_they_are_made() -> None:
    with pytest.raises(RunNotActive):
        cairn.pytorch.watch(make_model())
    with cairn.init("watch") as run:
        with pytest.raises(InvalidValue):
            run.watch(make_model(), log="weights")
        with pytest.raises(InvalidValue):
            run.watch(make_model(), log_freq=0)
        with pytest.raises(InvalidValue):
            run.watch(np.zeros(3))
