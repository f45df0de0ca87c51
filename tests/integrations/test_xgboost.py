"""XGBoost autologging and CairnCallback: real boosters on the datasets scikit-learn ships, read
back from the embedded store."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("xgboost", reason="xgboost is not installed (pip install 'cairn[xgboost]')")
pytest.importorskip("sklearn", reason="scikit-learn is not installed")

import xgboost
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tests.integrations.logged import datasets, only_run, runs, steps

import cairn
import cairn.sklearn
import cairn.xgboost
from cairn.core.models.signature import TensorSchema
from cairn.integrations._base import Guard
from cairn.settings import cairn_home

PROJECT = "xgb"
ROUNDS = 20
PARAMS = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1}


@pytest.fixture(autouse=True)
def autologged() -> Iterator[None]:
    Guard._guards.pop("xgboost", None)  # each test sees its own first warning
    cairn.xgboost.autolog(project=PROJECT)
    try:
        yield
    finally:
        cairn.xgboost.autolog(disable=True)
        cairn.sklearn.autolog(disable=True)


@pytest.fixture
def cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return X[:400], y[:400], X[400:], y[400:]


def train(cancer: tuple, **options: object) -> object:
    X, y, X_valid, y_valid = cancer
    dtrain = xgboost.DMatrix(X, label=y)
    dvalid = xgboost.DMatrix(X_valid, label=y_valid)
    return xgboost.train(
        PARAMS, dtrain, ROUNDS, evals=[(dtrain, "train"), (dvalid, "valid")], verbose_eval=False, **options
    )


def test_a_training_is_one_run_with_params_curves_importances_model_and_data(cancer: tuple) -> None:
    booster = train(cancer)
    run = only_run(PROJECT)
    assert run.status.value == "finished" and run.tags["cairn.autolog"] == "xgboost"
    assert dict(run.params) == {**PARAMS, "num_boost_round": ROUNDS}
    assert set(run.metrics) == {"train-logloss", "valid-logloss"}  # no early stopping: no best_*
    for key in run.metrics:
        assert steps(run.id, key) == list(range(ROUNDS))
    assert run.metrics["train-logloss"].last < run.metrics["train-logloss"].max

    with cairn.Api() as api:
        paths = {artifact.path for artifact in api.artifacts(run.id)}
        inputs = api.inputs(run.id)
    assert "feature_importance_gain.png" in paths and "feature_importance_weight.png" not in paths  # one chart
    for kind in ("weight", "gain"):
        assert f"feature_importance_{kind}.parquet" in paths or f"feature_importance_{kind}.csv" in paths
    assert [(i.dataset.name, i.dataset.rows, i.dataset.columns) for i in inputs] == [("train", 400, 31)]

    loaded = cairn.load_model(f"runs:/{run.id}/model")
    assert loaded.flavor == "xgboost"
    assert loaded.signature is not None and loaded.signature.inputs == TensorSchema("float64", (-1, 30))
    X_valid = cancer[2]
    expected = booster.predict(xgboost.DMatrix(X_valid))
    assert np.allclose(np.asarray(loaded.predict(X_valid)), expected)


def test_log_datasets_false_leaves_the_training_data_out(cancer: tuple) -> None:
    cairn.xgboost.autolog(project=PROJECT, log_datasets=False)
    train(cancer)
    run = only_run(PROJECT)
    assert datasets(run.id) == set() and set(run.metrics) == {"train-logloss", "valid-logloss"}


def test_the_importance_table_ranks_the_booster_scores(cancer: tuple) -> None:
    import io

    import pandas as pd

    booster = train(cancer)
    run = only_run(PROJECT)
    with cairn.Api() as api:
        paths = {artifact.path for artifact in api.artifacts(run.id)}
        name = next(path for path in paths if path.startswith("feature_importance_gain.") and not path.endswith(".png"))
        data = api.read_artifact(run.id, name)
    table = pd.read_parquet(io.BytesIO(data)) if name.endswith(".parquet") else pd.read_csv(io.BytesIO(data))
    scores = booster.get_score(importance_type="gain")
    assert list(table.columns) == ["feature", "importance"]
    assert dict(zip(table["feature"], table["importance"], strict=True)) == pytest.approx(scores)
    assert list(table["importance"]) == sorted(table["importance"], reverse=True)


def test_early_stopping_logs_the_best_iteration(cancer: tuple) -> None:
    X, y, X_valid, y_valid = cancer
    dtrain = xgboost.DMatrix(X, label=y)
    dvalid = xgboost.DMatrix(X_valid, label=y_valid)
    params = {**PARAMS, "eta": 1.0, "max_depth": 6}  # overfits fast: stops early
    booster = xgboost.train(
        params, dtrain, 200, evals=[(dtrain, "train"), (dvalid, "valid")], early_stopping_rounds=3, verbose_eval=False
    )
    run = only_run(PROJECT)
    stopped = booster.num_boosted_rounds() - 1
    assert stopped < 199
    assert run.params["early_stopping_rounds"] == 3 and run.params["num_boost_round"] == 200
    assert run.metrics["best_iteration"].last == booster.best_iteration
    assert run.metrics["stopped_iteration"].last == stopped
    assert steps(run.id, "valid-logloss") == list(range(stopped + 1))
    with cairn.Api() as api:
        history = api.history(run.id, "valid-logloss")
    best_value = float(history.values[list(history.steps).index(booster.best_iteration)])
    assert run.metrics["best/valid-logloss"].last == pytest.approx(best_value)
    assert best_value == pytest.approx(booster.best_score)


def test_the_sklearn_wrapper_names_its_eval_sets_as_mlflow_does() -> None:
    X, y = load_diabetes(return_X_y=True)
    model = xgboost.XGBRegressor(n_estimators=ROUNDS, max_depth=3, n_jobs=1)
    model.fit(X[:300], y[:300], eval_set=[(X[:300], y[:300]), (X[300:], y[300:])], verbose=False)
    run = only_run(PROJECT)
    assert set(run.metrics) == {"validation_0-rmse", "validation_1-rmse"}
    assert steps(run.id, "validation_1-rmse") == list(range(ROUNDS))
    assert run.params["max_depth"] == 3 and run.params["num_boost_round"] == ROUNDS
    loaded = cairn.load_model(f"runs:/{run.id}/model")
    assert np.allclose(np.asarray(loaded.predict(X[300:])), model.predict(X[300:]), rtol=1e-5)


def test_disable_restores_xgboost_train(cancer: tuple) -> None:
    assert hasattr(xgboost.train, "cairn_autolog")
    cairn.xgboost.autolog(disable=True)
    assert not hasattr(xgboost.train, "cairn_autolog")
    assert not hasattr(xgboost.training.train, "cairn_autolog")
    assert not hasattr(xgboost.sklearn.train, "cairn_autolog")
    train(cancer)
    assert runs(PROJECT) == []
    cairn.xgboost.autolog(project=PROJECT)
    train(cancer)
    assert len(runs(PROJECT)) == 1


def test_the_callback_given_by_hand_logs_into_the_open_run(cancer: tuple) -> None:
    cairn.xgboost.autolog(disable=True)
    X, y, X_valid, y_valid = cancer
    dtrain = xgboost.DMatrix(X, label=y)
    dvalid = xgboost.DMatrix(X_valid, label=y_valid)
    with cairn.init("mine", config={"dataset": "breast_cancer"}) as run:
        callback = cairn.xgboost.CairnCallback(params=PARAMS)
        booster = xgboost.train(
            PARAMS,
            dtrain,
            ROUNDS,
            evals=[(dtrain, "train"), (dvalid, "valid")],
            callbacks=[callback],
            verbose_eval=False,
        )
        assert not run.finished
    mine = only_run("mine")
    assert mine.id == run.id and runs(PROJECT) == []
    assert dict(mine.params) == {**PARAMS, "dataset": "breast_cancer"}
    assert set(mine.metrics) == {"train-logloss", "valid-logloss"}
    assert steps(mine.id, "valid-logloss") == list(range(ROUNDS))
    loaded = cairn.load_model(f"runs:/{run.id}/model")
    assert np.allclose(np.asarray(loaded.predict(X_valid)), booster.predict(dvalid))


def test_when_logging_fails_training_finishes_and_warns_once(cancer: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    staging = cairn_home() / "staging"
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.write_text("not a folder: every model packaging fails")
    first = train(cancer)
    second = train(cancer)
    assert first.num_boosted_rounds() == ROUNDS and second.num_boosted_rounds() == ROUNDS
    warnings = [line for line in capsys.readouterr().err.splitlines() if "xgboost logging failed" in line]
    assert len(warnings) == 1
    found = runs(PROJECT)
    assert len(found) == 2 and all(run.status.value == "finished" for run in found)
    assert all(set(run.metrics) == {"train-logloss", "valid-logloss"} for run in found)  # the rest still logged


def test_with_sklearn_autolog_too_a_fit_is_one_run_with_both(cancer: tuple) -> None:
    cairn.sklearn.autolog(project=PROJECT)
    X, y, X_valid, y_valid = cancer
    model = xgboost.XGBClassifier(n_estimators=ROUNDS, max_depth=3, n_jobs=1)
    model.fit(X, y, eval_set=[(X, y), (X_valid, y_valid)], verbose=False)
    pipeline = Pipeline([("scale", StandardScaler()), ("xgb", xgboost.XGBClassifier(n_estimators=5, n_jobs=1))])
    pipeline.fit(X, y)

    found = sorted(runs(PROJECT), key=lambda run: run.start_time)
    assert len(found) == 2  # one per fit, not one more per xgboost.train
    fitted, piped = found
    assert fitted.tags["estimator_name"] == "XGBClassifier" and fitted.tags["cairn.autolog"] == "sklearn"
    assert fitted.params["n_estimators"] == ROUNDS and fitted.params["max_depth"] == 3  # scikit-learn's params
    assert {"training_accuracy_score", "validation_0-logloss", "validation_1-logloss"} <= set(fitted.metrics)
    assert steps(fitted.id, "validation_1-logloss") == list(range(ROUNDS))
    loaded = cairn.load_model(f"runs:/{fitted.id}/model")  # the classifier, as scikit-learn logged it
    assert np.array_equal(np.asarray(loaded.predict(X_valid)), model.predict(X_valid))
    assert piped.tags["estimator_name"] == "Pipeline" and piped.params["xgb__n_estimators"] == 5


def test_with_no_store_to_reach_training_goes_on(
    cancer: tuple, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{port}")  # nothing listens there
    assert train(cancer).num_boosted_rounds() == ROUNDS
    assert "starts offline" in capsys.readouterr().err  # what it logged waits in the spool


def test_sklearn_autolog_alone_logs_the_wrapper_fit_without_curves(cancer: tuple) -> None:
    cairn.xgboost.autolog(disable=True)
    cairn.sklearn.autolog(project=PROJECT)
    X, y, X_valid, y_valid = cancer
    xgboost.XGBClassifier(n_estimators=5, n_jobs=1).fit(X, y, eval_set=[(X_valid, y_valid)], verbose=False)
    run = only_run(PROJECT)
    assert run.tags["estimator_name"] == "XGBClassifier" and run.params["n_estimators"] == 5
    assert not any("logloss" in key for key in run.metrics)  # the curves are the xgboost integration's
