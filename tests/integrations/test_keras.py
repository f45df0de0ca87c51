"""Keras 3 autologging and ``CairnCallback``: a small network on iris, trained for a few epochs
on the torch backend on the CPU, read back from the embedded store.

Keras picks its backend when first imported: ``KERAS_BACKEND=torch`` is set before that
(TensorFlow is not installed here)."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import socket
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'cairn[pytorch]')")
keras = pytest.importorskip("keras", reason="keras is not installed (pip install 'cairn[keras]')")
pytest.importorskip("sklearn", reason="scikit-learn is not installed: its iris is the data")

from sklearn.datasets import load_iris  # noqa: E402
from tests.integrations.logged import datasets, history, only_run, runs  # noqa: E402

import cairn  # noqa: E402
import cairn.keras  # noqa: E402
from cairn.core.models.signature import TensorSchema  # noqa: E402
from cairn.integrations._base import Guard  # noqa: E402
from cairn.integrations._params import loggable  # noqa: E402
from cairn.settings import cairn_home  # noqa: E402

PROJECT = "iris-keras"
#: Keras 3.15's predict on torch hands numpy an object whose __array__ lacks ``copy``; not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.fixture(autouse=True)
def autologged() -> Iterator[None]:
    torch.set_num_threads(1)
    Guard._guards.pop("keras", None)  # each test sees its own first warning
    cairn.keras.autolog(project=PROJECT)
    try:
        yield
    finally:
        cairn.keras.autolog(disable=True)


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))  # validation_split takes the last rows
    return (X / X.max(axis=0)).astype("float32")[order], y[order]


def network() -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def test_a_fit_is_one_run_with_its_params_and_epoch_metrics(iris: tuple) -> None:
    X, y = iris
    model = network()
    trained = model.fit(X, y, epochs=3, batch_size=30, validation_split=0.2, verbose=0)

    run = only_run(PROJECT)
    assert run.status.value == "finished"
    assert run.tags["cairn.autolog"] == "keras"
    optimizer = {f"optimizer_{key}": loggable(value) for key, value in model.optimizer.get_config().items()}
    assert dict(run.params) == {
        "epochs": 3,
        "steps_per_epoch": 4,  # 120 training rows in batches of 30
        "batch_size": 30,
        "num_params": 4 * 8 + 8 + 8 * 3 + 3,
        "validation_split": 0.2,
        **optimizer,
    }
    assert run.params["optimizer_name"] == "adam"
    assert run.params["optimizer_learning_rate"] == pytest.approx(0.05)
    assert set(run.metrics) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        steps, values = history(run.id, key)
        assert steps == [0, 1, 2]
        assert values == pytest.approx(trained.history[key])
    assert history(run.id, "learning_rate") == ([0, 1, 2], pytest.approx([0.05] * 3))
    # The data as fit was given it: the 30 rows Keras held out for validation are in it.
    assert datasets(run.id) == {("train", "train", "array", 150)}


def test_the_logged_model_loads_and_predicts_what_the_trained_one_does(iris: tuple) -> None:
    X, y = iris
    model = network()
    model.fit(X, y, epochs=2, verbose=0)
    run = only_run(PROJECT)
    assert run.params["batch_size"] == 32  # Keras's default for arrays

    loaded = cairn.load_model(f"runs:/{run.id}/model")
    assert loaded.flavor == "keras"
    assert loaded.signature is not None
    assert loaded.signature.inputs == TensorSchema("float32", (-1, 4))  # from the first training rows
    assert loaded.signature.outputs == TensorSchema("float32", (-1, 3))
    assert np.asarray(loaded.input_example).shape == (5, 4)
    pinned = {requirement.partition("==")[0].lower() for requirement in loaded.manifest.requirements}
    assert {"keras", "torch"} <= pinned
    np.testing.assert_allclose(loaded.predict(X), model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)


def test_arrays_and_validation_data_are_the_train_and_eval_datasets(
    iris: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    X, y = iris
    network().fit(X[:120], y[:120], validation_data=(X[120:], y[120:]), epochs=1, verbose=0)
    run = only_run(PROJECT)
    assert datasets(run.id) == {("train", "train", "array", 120), ("eval", "eval", "array", 30)}
    with cairn.Api() as api:
        (train,) = [i.dataset for i in api.inputs(run.id) if i.dataset.name == "train"]
    assert [(array["name"], array["type"], array["shape"]) for array in train.schema] == [
        ("x", "float32", [4]),
        ("y", "int64", []),
    ]
    assert train.columns == 5
    again = np.array(X[:120])  # the same values in other memory: the same version
    cairn.keras.autolog(project="again")
    network().fit(torch.from_numpy(again), torch.from_numpy(y[:120]), epochs=1, verbose=0)
    with cairn.Api() as api:
        (input_,) = api.inputs(only_run("again").id)
    assert (input_.dataset.name, input_.dataset.rows) == ("train", 120)  # torch tensors, as arrays
    assert input_.dataset.digest == train.digest
    assert "logging failed" not in capsys.readouterr().err


def test_several_inputs_given_as_a_dict_are_one_dataset(iris: tuple) -> None:
    X, y = iris
    keras.utils.set_random_seed(0)
    inputs = {"petal": keras.Input((2,), name="petal"), "sepal": keras.Input((2,), name="sepal")}
    joined = keras.layers.Concatenate()([inputs["sepal"], inputs["petal"]])
    model = keras.Model(inputs, keras.layers.Dense(3)(joined))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit({"sepal": X[:, :2], "petal": X[:, 2:]}, y, epochs=1, verbose=0)
    run = only_run(PROJECT)
    assert datasets(run.id) == {("train", "train", "array", 150)}
    with cairn.Api() as api:
        (input_,) = api.inputs(run.id)
    assert [array["name"] for array in input_.dataset.schema] == ["x.sepal", "x.petal", "y"]


class IrisBatches(keras.utils.PyDataset):  # type: ignore[misc]
    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        super().__init__()
        self.X, self.y = X, y

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = slice(index * 50, (index + 1) * 50)
        return self.X[rows], self.y[rows]


def test_a_generator_or_a_py_dataset_is_trained_on_and_not_logged(
    iris: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    X, y = iris

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        while True:
            for start in range(0, 150, 50):
                yield X[start : start + 50], y[start : start + 50]

    network().fit(IrisBatches(X, y), validation_data=IrisBatches(X, y), epochs=2, verbose=0)
    network().fit(batches(), steps_per_epoch=3, epochs=2, shuffle=False, verbose=0)
    found = runs(PROJECT)
    assert len(found) == 2
    for run in found:
        assert run.status.value == "finished" and history(run.id, "loss")[0] == [0, 1]
        assert datasets(run.id) == set()
    assert "logging failed" not in capsys.readouterr().err


def test_log_datasets_false_leaves_the_data_out(iris: tuple) -> None:
    X, y = iris
    cairn.keras.autolog(project=PROJECT, log_datasets=False)
    network().fit(X, y, validation_data=(X, y), epochs=1, verbose=0)
    run = only_run(PROJECT)
    assert datasets(run.id) == set()
    with cairn.Api() as api:
        assert any(artifact.path.startswith("model/") for artifact in api.artifacts(run.id))


def test_without_batch_logging_the_callback_has_no_batch_hook() -> None:
    # Keras then keeps dispatching the batch hooks of other callbacks asynchronously.
    from keras.src.utils.python_utils import is_default

    assert is_default(cairn.keras.CairnCallback().on_train_batch_end)
    assert not is_default(cairn.keras.CairnCallback(log_every_n_batches=10).on_train_batch_end)


def test_batch_metrics_every_n_batches_count_batches_across_epochs(iris: tuple) -> None:
    X, y = iris
    cairn.keras.autolog(project=PROJECT, log_every_n_batches=3, log_models=False)
    model = network()
    model.fit(X, y, epochs=2, batch_size=50, verbose=0)  # 3 batches an epoch: 6 in all

    run = only_run(PROJECT)
    assert set(run.metrics) == {"loss", "accuracy", "learning_rate", "batch/loss", "batch/accuracy"}
    steps, values = history(run.id, "batch/loss")
    assert steps == [3, 6]
    assert values[-1] == pytest.approx(history(run.id, "loss")[1][-1])  # the epoch's running mean
    with cairn.Api() as api:
        assert api.artifacts(run.id) == []  # log_models=False


def test_the_callback_alone_starts_and_finishes_a_run_or_uses_the_open_one(iris: tuple) -> None:
    X, y = iris
    cairn.keras.autolog(disable=True)
    model = network()
    callback = cairn.keras.CairnCallback(input_example=X[:5], batch_size=25)
    model.fit(X, y, epochs=2, batch_size=25, callbacks=[callback], verbose=0)
    run = only_run(PROJECT)  # the project autolog(project=) named last
    assert run.status.value == "finished" and run.tags["cairn.autolog"] == "keras"
    assert run.params["batch_size"] == 25 and run.params["steps_per_epoch"] == 6
    assert history(run.id, "loss")[0] == [0, 1]
    assert cairn.load_model(f"runs:/{run.id}/model").predict(X[:3]).shape == (3, 3)
    assert datasets(run.id) == set()  # a Keras callback is not shown the data

    with cairn.init("mine") as mine:
        model.fit(X, y, epochs=1, callbacks=[cairn.keras.CairnCallback(log_models=False)], verbose=0)
        assert not mine.finished
    record = only_run("mine")
    assert record.id == mine.id and record.params["epochs"] == 1 and "batch_size" not in record.params


def test_an_open_run_is_used_as_it_is_and_a_second_fit_adds_to_it(iris: tuple) -> None:
    X, y = iris
    model = network()
    with cairn.init("mine", config={"dataset": "iris"}) as run:
        model.fit(X, y, epochs=2, verbose=0)
        model.fit(X, y, epochs=3, verbose=0)  # params are immutable: epochs stays 2
        assert not run.finished
    assert runs(PROJECT) == []
    mine = only_run("mine")
    assert mine.params["dataset"] == "iris" and mine.params["epochs"] == 2
    # Each fit's epochs count from 0, as Keras numbers them (unless fit is given initial_epoch).
    assert history(mine.id, "loss")[0] == [0, 0, 1, 1, 2]


def test_disable_restores_keras_own_fit(iris: tuple) -> None:
    X, y = iris
    assert hasattr(keras.Model.fit, "cairn_autolog")
    cairn.keras.autolog(disable=True)
    assert not hasattr(keras.Model.fit, "cairn_autolog")
    assert "fit" not in vars(keras.Model)  # inherited from the backend's trainer again
    network().fit(X, y, epochs=1, verbose=0)
    assert runs(PROJECT) == []
    cairn.keras.autolog(project=PROJECT)
    network().fit(X, y, epochs=1, verbose=0)
    assert len(runs(PROJECT)) == 1


class Explodes(keras.callbacks.Callback):
    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch == 1:
            raise RuntimeError("out of memory, say")


def test_a_fit_that_raises_leaves_its_run_failed_with_what_it_logged(iris: tuple) -> None:
    X, y = iris
    with pytest.raises(RuntimeError, match="out of memory, say"):
        network().fit(X, y, epochs=3, callbacks=[Explodes()], verbose=0)
    run = only_run(PROJECT)
    assert run.status.value == "failed"
    assert run.params["epochs"] == 3
    assert history(run.id, "loss")[0] == [0]  # epoch 1 raised in a callback before Cairn's
    with cairn.Api() as api:
        assert api.artifacts(run.id) == []  # no model of a fit that failed
    assert datasets(run.id) == set()  # nor its data


def test_when_logging_fails_training_finishes_and_warns_once(iris: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    X, y = iris
    staging = cairn_home() / "staging"
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.write_text("not a folder: every model packaging fails")
    first, second = network(), network()
    trained = first.fit(X, y, epochs=2, verbose=0)
    second.fit(X, y, epochs=2, verbose=0)
    assert len(trained.history["loss"]) == 2

    warnings = [line for line in capsys.readouterr().err.splitlines() if "keras logging failed" in line]
    assert len(warnings) == 1
    found = runs(PROJECT)
    assert len(found) == 2 and all(run.status.value == "finished" for run in found)
    assert all({"loss", "accuracy"} <= set(run.metrics) for run in found)  # the rest was still logged


def test_with_no_store_to_reach_training_goes_on(
    iris: tuple, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{port}")  # nothing listens there
    X, y = iris
    trained = network().fit(X, y, epochs=2, verbose=0)
    assert len(trained.history["loss"]) == 2
    # The run starts offline: what it logged waits in the spool for `cairn sync`.
    assert "starts offline" in capsys.readouterr().err


def test_a_run_the_callback_started_for_a_fit_that_raised_is_failed_by_its_next_fit(iris: tuple) -> None:
    X, y = iris
    cairn.keras.autolog(disable=True)
    model = network()
    callback = cairn.keras.CairnCallback(log_models=False)
    with pytest.raises(RuntimeError, match="out of memory, say"):
        model.fit(X, y, epochs=3, callbacks=[callback, Explodes()], verbose=0)
    assert [run.status.value for run in runs(PROJECT)] == ["running"]  # Keras told no one it raised
    model.fit(X, y, epochs=1, callbacks=[callback], verbose=0)
    statuses = sorted((run.params["epochs"], run.status.value) for run in runs(PROJECT))
    assert statuses == [(1, "finished"), (3, "failed")]
