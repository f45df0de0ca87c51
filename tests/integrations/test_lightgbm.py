"""LightGBM autologging and CairnCallback: real boosters on the datasets scikit-learn ships, read
back from the embedded store."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("lightgbm", reason="lightgbm is not installed (pip install 'cairn[lightgbm]')")
pytest.importorskip("sklearn", reason="scikit-learn is not installed")

import lightgbm
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes
from tests.integrations.logged import only_run, runs, steps

import cairn
import cairn.lightgbm
import cairn.sklearn
from cairn.core.models.signature import TensorSchema
from cairn.integrations._base import Guard
from cairn.settings import cairn_home

PROJECT = "lgb"
ROUNDS = 20
PARAMS = {"objective": "regression", "num_leaves": 7, "learning_rate": 0.2, "num_threads": 1, "verbose": -1}


@pytest.fixture(autouse=True)
def autologged() -> Iterator[None]:
    Guard._guards.pop("lightgbm", None)  # each test sees its own first warning
    cairn.lightgbm.autolog(project=PROJECT)
    try:
        yield
    finally:
        cairn.lightgbm.autolog(disable=True)
        cairn.sklearn.autolog(disable=True)


@pytest.fixture
def diabetes() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    return X[:300], y[:300], X[300:], y[300:]


def datasets(diabetes: tuple) -> tuple[lightgbm.Dataset, lightgbm.Dataset]:
    X, y, X_valid, y_valid = diabetes
    train_set = lightgbm.Dataset(X, y)
    return train_set, lightgbm.Dataset(X_valid, y_valid, reference=train_set)


def train(diabetes: tuple, **options: object) -> lightgbm.Booster:
    train_set, valid_set = datasets(diabetes)
    return lightgbm.train(
        PARAMS, train_set, ROUNDS, valid_sets=[train_set, valid_set], valid_names=["training", "valid"], **options
    )


def test_a_training_is_one_run_with_params_curves_importances_model_and_data(diabetes: tuple) -> None:
    booster = train(diabetes)
    run = only_run(PROJECT)
    assert run.status.value == "finished" and run.tags["cairn.autolog"] == "lightgbm"
    assert dict(run.params) == {**PARAMS, "num_boost_round": ROUNDS}
    assert set(run.metrics) == {"training-l2", "valid-l2"}  # no early stopping: no best_*
    for key in run.metrics:
        assert steps(run.id, key) == list(range(ROUNDS))
    assert run.metrics["training-l2"].last == run.metrics["training-l2"].min

    with cairn.Api() as api:
        paths = {artifact.path for artifact in api.artifacts(run.id)}
        inputs = api.inputs(run.id)
        gain = next(path for path in paths if path.startswith("feature_importance_gain.") and not path.endswith(".png"))
        data = api.read_artifact(run.id, gain)
    assert "feature_importance_gain.png" in paths and "feature_importance_split.png" not in paths  # one chart
    assert {"feature_importance_split.parquet", "feature_importance_split.csv"} & paths
    table = pd.read_parquet(io.BytesIO(data)) if gain.endswith(".parquet") else pd.read_csv(io.BytesIO(data))
    expected = dict(zip(booster.feature_name(), booster.feature_importance("gain"), strict=True))
    assert list(table.columns) == ["feature", "importance"]
    assert dict(zip(table["feature"], table["importance"], strict=True)) == pytest.approx(expected)
    assert [(i.dataset.name, i.dataset.rows, i.dataset.columns) for i in inputs] == [("train", 300, 11)]

    loaded = cairn.load_model(f"runs:/{run.id}/model")
    assert loaded.flavor == "lightgbm"
    assert loaded.signature is not None and loaded.signature.inputs == TensorSchema("float64", (-1, 10))
    X_valid = diabetes[2]
    assert np.allclose(np.asarray(loaded.predict(X_valid)), booster.predict(X_valid))


def test_log_datasets_false_leaves_the_training_data_out(diabetes: tuple) -> None:
    cairn.lightgbm.autolog(project=PROJECT, log_datasets=False)
    train(diabetes)
    run = only_run(PROJECT)
    with cairn.Api() as api:
        assert list(api.inputs(run.id)) == []
        assert any(artifact.path.startswith("model/") for artifact in api.artifacts(run.id))


def test_early_stopping_logs_the_best_iteration(diabetes: tuple) -> None:
    train_set, valid_set = datasets(diabetes)
    params = {**PARAMS, "learning_rate": 0.8, "num_leaves": 31, "min_data_in_leaf": 2}  # overfits fast
    booster = lightgbm.train(
        params,
        train_set,
        300,
        valid_sets=[train_set, valid_set],
        valid_names=["training", "valid"],
        callbacks=[lightgbm.early_stopping(3, first_metric_only=True, verbose=False)],
    )
    run = only_run(PROJECT)
    best = booster.best_iteration
    stopped = best - 1 + 3  # LightGBM's best_iteration counts from 1; three more rounds without gain
    assert 0 < best < 297
    assert run.metrics["best_iteration"].last == best
    assert run.metrics["stopped_iteration"].last == stopped
    assert steps(run.id, "valid-l2") == list(range(stopped + 1))
    assert run.metrics["best/valid-l2"].last == pytest.approx(booster.best_score["valid"]["l2"])
    loaded = cairn.load_model(f"runs:/{run.id}/model")
    X_valid = diabetes[2]
    assert np.allclose(np.asarray(loaded.predict(X_valid)), booster.predict(X_valid))


def test_the_sklearn_wrapper_names_its_eval_sets_as_mlflow_does() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    model = lightgbm.LGBMClassifier(n_estimators=ROUNDS, num_leaves=7, n_jobs=1, verbose=-1)
    model.fit(X[:400], y[:400], eval_X=(X[:400], X[400:]), eval_y=(y[:400], y[400:]))
    run = only_run(PROJECT)
    assert set(run.metrics) == {"valid_0-binary_logloss", "valid_1-binary_logloss"}
    assert steps(run.id, "valid_1-binary_logloss") == list(range(ROUNDS))
    assert run.params["num_leaves"] == 7 and run.params["num_boost_round"] == ROUNDS
    loaded = cairn.load_model(f"runs:/{run.id}/model")  # the booster: probabilities
    assert np.allclose(np.asarray(loaded.predict(X[400:])), model.predict_proba(X[400:])[:, 1])


def test_disable_restores_lightgbm_train(diabetes: tuple) -> None:
    assert hasattr(lightgbm.train, "cairn_autolog")
    cairn.lightgbm.autolog(disable=True)
    assert not hasattr(lightgbm.train, "cairn_autolog")
    assert not hasattr(lightgbm.engine.train, "cairn_autolog")
    assert not hasattr(lightgbm.sklearn.train, "cairn_autolog")
    train(diabetes)
    assert runs(PROJECT) == []
    cairn.lightgbm.autolog(project=PROJECT)
    train(diabetes)
    assert len(runs(PROJECT)) == 1


def test_the_callback_given_by_hand_logs_into_the_open_run(diabetes: tuple) -> None:
    cairn.lightgbm.autolog(disable=True)
    train_set, valid_set = datasets(diabetes)
    with cairn.init("mine", config={"dataset": "diabetes"}) as run:
        callback = cairn.lightgbm.CairnCallback()
        booster = lightgbm.train(PARAMS, train_set, ROUNDS, valid_sets=[valid_set], callbacks=[callback])
        assert not run.finished
    mine = only_run("mine")
    assert mine.id == run.id and runs(PROJECT) == []
    assert mine.params["dataset"] == "diabetes"
    assert mine.params["num_leaves"] == 7 and mine.params["learning_rate"] == 0.2  # as LightGBM hands them over
    assert set(mine.metrics) == {"valid_0-l2"}
    assert steps(mine.id, "valid_0-l2") == list(range(ROUNDS))
    loaded = cairn.load_model(f"runs:/{run.id}/model")  # logged after the last iteration
    X_valid = diabetes[2]
    assert np.allclose(np.asarray(loaded.predict(X_valid)), booster.predict(X_valid))


def test_when_logging_fails_training_finishes_and_warns_once(
    diabetes: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = cairn_home() / "staging"
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.write_text("not a folder: every model packaging fails")
    first = train(diabetes)
    second = train(diabetes)
    assert first.current_iteration() == ROUNDS and second.current_iteration() == ROUNDS
    warnings = [line for line in capsys.readouterr().err.splitlines() if "lightgbm logging failed" in line]
    assert len(warnings) == 1
    found = runs(PROJECT)
    assert len(found) == 2 and all(run.status.value == "finished" for run in found)
    assert all(set(run.metrics) == {"training-l2", "valid-l2"} for run in found)  # the rest still logged


def test_with_sklearn_autolog_too_a_fit_is_one_run_with_both() -> None:
    cairn.sklearn.autolog(project=PROJECT)
    X, y = load_breast_cancer(return_X_y=True)
    model = lightgbm.LGBMClassifier(n_estimators=ROUNDS, num_leaves=7, n_jobs=1, verbose=-1)
    model.fit(X[:400], y[:400], eval_X=(X[400:],), eval_y=(y[400:],))

    run = only_run(PROJECT)  # one run, not one more for the lightgbm.train inside
    assert run.tags["estimator_name"] == "LGBMClassifier" and run.tags["cairn.autolog"] == "sklearn"
    assert run.params["n_estimators"] == ROUNDS and run.params["num_leaves"] == 7  # scikit-learn's params
    assert {"training_accuracy_score", "valid_0-binary_logloss"} <= set(run.metrics)
    assert steps(run.id, "valid_0-binary_logloss") == list(range(ROUNDS))
    loaded = cairn.load_model(f"runs:/{run.id}/model")  # the classifier, as scikit-learn logged it
    assert np.array_equal(np.asarray(loaded.predict(X[400:])), model.predict(X[400:]))


def test_a_callback_outside_any_run_starts_one_and_finish_ends_it_after_early_stopping(diabetes: tuple) -> None:
    cairn.lightgbm.autolog(disable=True)
    train_set, valid_set = datasets(diabetes)
    callback = cairn.lightgbm.CairnCallback()
    params = {**PARAMS, "learning_rate": 0.8, "num_leaves": 31, "min_data_in_leaf": 2, "early_stopping_round": 3}
    booster = lightgbm.train(params, train_set, 300, valid_sets=[valid_set], callbacks=[callback])
    assert booster.best_iteration < 297
    assert runs(PROJECT)[0].status.value == "running"  # LightGBM does not tell a callback it stopped early
    callback.finish(booster)
    callback.finish(booster)  # once only
    run = only_run(PROJECT)
    assert run.status.value == "finished" and run.metrics["best_iteration"].last == booster.best_iteration
    assert cairn.load_model(f"runs:/{run.id}/model").predict(diabetes[2][:3]).shape == (3,)


def test_with_no_store_to_reach_training_goes_on(
    diabetes: tuple, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{port}")  # nothing listens there
    assert train(diabetes).current_iteration() == ROUNDS
    assert "starts offline" in capsys.readouterr().err  # what it logged waits in the spool
