"""scikit-learn autologging: real fits on the datasets scikit-learn ships, read back from the
embedded store."""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install 'cairn[sklearn]')")

from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from tests.integrations.logged import datasets, only_run, runs

import cairn
import cairn.sklearn
from cairn.core.models.signature import TensorSchema
from cairn.integrations._base import Guard
from cairn.integrations._params import loggable
from cairn.settings import cairn_home

PROJECT = "sk"
CLASSIFIER_METRICS = {
    "training_score",
    "training_accuracy_score",
    "training_precision_score",
    "training_recall_score",
    "training_f1_score",
}
REGRESSOR_METRICS = {
    "training_score",
    "training_mean_squared_error",
    "training_root_mean_squared_error",
    "training_mean_absolute_error",
    "training_r2_score",
}


@pytest.fixture(autouse=True)
def autologged() -> Iterator[None]:
    Guard._guards.pop("sklearn", None)  # each test sees its own first warning
    cairn.sklearn.autolog(project=PROJECT)
    try:
        yield
    finally:
        cairn.sklearn.autolog(disable=True)


@pytest.fixture
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, y


def test_a_classifier_fit_is_one_run_with_its_params_metrics_and_confusion_matrix(iris: tuple) -> None:
    X, y = iris
    model = LogisticRegression(C=0.5, max_iter=300)
    assert model.fit(X, y) is model

    run = only_run(PROJECT)
    assert run.status.value == "finished"
    assert run.tags["estimator_name"] == "LogisticRegression"
    assert run.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.tags["cairn.autolog"] == "sklearn"
    expected = {key: loggable(value) for key, value in model.get_params(deep=True).items()}
    assert dict(run.params) == expected
    assert run.params["C"] == 0.5 and run.params["max_iter"] == 300
    assert set(run.metrics) == CLASSIFIER_METRICS
    accuracy = float(np.mean(model.predict(X) == y))
    assert run.metrics["training_accuracy_score"].last == pytest.approx(accuracy)
    assert run.metrics["training_score"].last == pytest.approx(accuracy)

    with cairn.Api() as api:
        paths = {artifact.path for artifact in api.artifacts(run.id)}
        matrix = json.loads(api.read_artifact(run.id, "training_confusion_matrix.json"))
    assert "training_confusion_matrix.json" in paths
    assert matrix["labels"] == [0, 1, 2] and matrix["total"] == 150
    assert np.trace(np.array(matrix["matrix"])) == round(accuracy * 150)


def test_the_logged_model_loads_predicts_and_has_a_signature_from_the_training_data(iris: tuple) -> None:
    X, y = iris
    model = LogisticRegression(max_iter=300).fit(X, y)
    run = only_run(PROJECT)

    loaded = cairn.load_model(f"runs:/{run.id}/model")
    assert loaded.flavor == "sklearn"
    assert loaded.signature is not None
    assert np.array_equal(np.asarray(loaded.predict(X[:10])), model.predict(X[:10]))
    assert loaded.signature.inputs == TensorSchema("float64", (-1, 4))  # from the first rows
    assert loaded.signature.outputs == TensorSchema("int64", (-1,))


def test_the_training_data_is_an_input_by_digest_and_shape(iris: tuple) -> None:
    X, y = iris
    LogisticRegression(max_iter=300).fit(X, y)
    run = only_run(PROJECT)
    with cairn.Api() as api:
        inputs = api.inputs(run.id)
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert (inputs[0].context, dataset.name) == ("train", "train")
    assert (dataset.rows, dataset.columns) == (150, 5)  # four features and the target
    assert [column["name"] for column in dataset.schema][-1] == "target"
    assert len(dataset.digest) == 64 and dataset.stored is False


def test_log_datasets_false_leaves_the_training_data_out(iris: tuple) -> None:
    X, y = iris
    cairn.sklearn.autolog(project=PROJECT, log_datasets=False)
    LogisticRegression(max_iter=300).fit(X, y)
    run = only_run(PROJECT)
    assert datasets(run.id) == set()
    with cairn.Api() as api:
        assert any(artifact.path.startswith("model/") for artifact in api.artifacts(run.id))


def test_a_pipeline_is_one_run_not_one_per_step(iris: tuple) -> None:
    X, y = iris
    pipeline = Pipeline([("scale", StandardScaler()), ("svc", SVC(C=2.0))]).fit(X, y)

    run = only_run(PROJECT)
    assert run.tags["estimator_name"] == "Pipeline"
    assert run.params["steps"] == "[('scale', StandardScaler), ('svc', SVC)]"
    assert run.params["scale"] == "StandardScaler" and run.params["svc"] == "SVC"
    assert run.params["svc__C"] == 2.0 and run.params["scale__with_mean"] is True
    assert set(run.metrics) == CLASSIFIER_METRICS
    loaded = cairn.load_model(f"runs:/{run.id}/model")
    assert np.array_equal(np.asarray(loaded.predict(X[:5])), pipeline.predict(X[:5]))


def test_a_regressor_logs_the_regression_metrics() -> None:
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X, y)

    run = only_run(PROJECT)
    assert set(run.metrics) == REGRESSOR_METRICS
    mse = float(np.mean((model.predict(X) - y) ** 2))
    assert run.metrics["training_mean_squared_error"].last == pytest.approx(mse)
    assert run.metrics["training_root_mean_squared_error"].last == pytest.approx(math.sqrt(mse))
    assert run.metrics["training_r2_score"].last == pytest.approx(model.score(X, y))
    with cairn.Api() as api:
        paths = {artifact.path for artifact in api.artifacts(run.id)}
    assert not any("confusion" in path for path in paths)
    assert cairn.load_model(f"runs:/{run.id}/model").predict(X[:3]).shape == (3,)


def test_a_grid_search_logs_each_candidate_as_a_child_and_marks_the_best(iris: tuple) -> None:
    X, y = iris
    grid = {"C": [1, 10], "kernel": ["linear", "rbf"]}
    search = GridSearchCV(SVC(), grid, cv=3).fit(X, y)

    everything = runs(PROJECT)
    parents = [run for run in everything if run.parent_id is None]
    assert len(parents) == 1 and len(everything) == 5  # the 12 inner fits and the refit are no runs
    parent = parents[0]
    children = sorted((run for run in everything if run.parent_id == parent.id), key=lambda r: r.name)
    assert [child.name for child in children] == [f"{parent.name}-{i}" for i in range(4)]
    for index, child in enumerate(children):
        assert child.status.value == "finished"
        assert dict(child.params) == search.cv_results_["params"][index]
        assert {"mean_test_score", "std_test_score", "rank_test_score", "mean_fit_time"} <= set(child.metrics)
        assert child.metrics["mean_test_score"].last == pytest.approx(search.cv_results_["mean_test_score"][index])
        assert child.tags["cairn.candidate"] == str(index)
    best = [child for child in children if child.tags.get("cairn.best") == "true"]
    assert [child.tags["cairn.candidate"] for child in best] == [str(search.best_index_)]

    assert parent.tags["estimator_name"] == "GridSearchCV"
    assert {f"best_{key}": value for key, value in search.best_params_.items()}.items() <= dict(parent.params).items()
    assert parent.params["param_grid"] == "{'C': [1, 10], 'kernel': ['linear', 'rbf']}"
    assert parent.params["estimator"] == "SVC"
    assert parent.metrics["best_cv_score"].last == pytest.approx(search.best_score_)
    assert CLASSIFIER_METRICS <= set(parent.metrics)
    loaded = cairn.load_model(f"runs:/{parent.id}/model")
    assert np.array_equal(np.asarray(loaded.predict(X[:8])), search.best_estimator_.predict(X[:8]))


def test_an_open_run_is_used_as_it_is_and_left_open(iris: tuple) -> None:
    X, y = iris
    with cairn.init("mine", config={"dataset": "iris"}) as run:
        LogisticRegression(max_iter=300).fit(X, y)
        StandardScaler(with_std=False).fit(X)  # a second fit adds what it can to the same run
        assert not run.finished
    assert runs(PROJECT) == []
    mine = only_run("mine")
    assert mine.id == run.id and mine.params["dataset"] == "iris"
    assert mine.params["max_iter"] == 300 and mine.params["with_std"] is False
    assert mine.tags["estimator_name"] == "StandardScaler"  # the latest fit's
    assert CLASSIFIER_METRICS <= set(mine.metrics)


def test_disable_restores_the_original_methods(iris: tuple) -> None:
    X, y = iris
    patched = LogisticRegression.fit
    cairn.sklearn.autolog(disable=True)
    assert LogisticRegression.fit is not patched
    assert not hasattr(LogisticRegression.fit, "cairn_autolog")
    assert hasattr(patched, "cairn_autolog")
    assert not hasattr(vars(Pipeline)["fit_transform"].fn, "cairn_autolog")
    LogisticRegression(max_iter=300).fit(X, y)
    assert runs(PROJECT) == []
    cairn.sklearn.autolog(project=PROJECT)
    LogisticRegression(max_iter=300).fit(X, y)
    assert len(runs(PROJECT)) == 1


def test_a_pipeline_without_a_last_fit_transform_still_hides_it(iris: tuple) -> None:
    pipeline = Pipeline([("scale", StandardScaler()), ("svc", SVC())])
    assert not hasattr(pipeline, "fit_transform")  # available_if still decides
    scaled = Pipeline([("scale", StandardScaler())]).fit_transform(iris[0])
    assert scaled.shape == (150, 4)
    assert only_run(PROJECT).tags["estimator_name"] == "Pipeline"


def test_when_logging_fails_the_fit_returns_the_fitted_estimator_and_warns_once(
    iris: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    X, y = iris
    staging = cairn_home() / "staging"
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.write_text("not a folder: every model packaging fails")
    first = LogisticRegression(max_iter=300)
    second = SVC()
    assert first.fit(X, y) is first and second.fit(X, y) is second
    assert first.predict(X[:2]).shape == (2,) and second.predict(X[:2]).shape == (2,)

    warnings = [line for line in capsys.readouterr().err.splitlines() if "sklearn logging failed" in line]
    assert len(warnings) == 1
    found = runs(PROJECT)
    assert len(found) == 2 and all(run.status.value == "finished" for run in found)
    assert all(CLASSIFIER_METRICS <= set(run.metrics) for run in found)  # the rest was still logged


def test_with_no_store_to_reach_training_goes_on(
    iris: tuple, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{port}")  # nothing listens there
    X, y = iris
    model = LogisticRegression(max_iter=300)
    assert model.fit(X, y) is model
    assert model.score(X, y) > 0.9
    # The run starts offline: what it logged waits in the spool for `cairn sync`.
    assert "starts offline" in capsys.readouterr().err


def test_log_fitted_logs_an_estimator_fitted_before(iris: tuple) -> None:
    X, y = iris
    cairn.sklearn.autolog(disable=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    cairn.sklearn.log_fitted(model, X, y)
    run = only_run(PROJECT)
    assert set(run.metrics) == CLASSIFIER_METRICS and run.params["max_iter"] == 300
    assert cairn.load_model(f"runs:/{run.id}/model").predict(X[:2]).shape == (2,)


def test_nothing_is_left_in_staging(iris: tuple) -> None:
    X, y = iris
    GridSearchCV(SVC(), {"C": [1, 10]}, cv=3).fit(X, y)
    staging = Path(cairn_home()) / "staging"
    assert not staging.exists() or not [p for p in staging.iterdir() if p.name.startswith(".model-")]


def _passthrough(X: np.ndarray, note: str = "", big: int = 0) -> np.ndarray:
    return X


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite:UserWarning")
def test_hostile_params_in_a_search_neither_crash_the_fit_nor_the_log(iris: tuple) -> None:
    from sklearn.preprocessing import FunctionTransformer

    X, y = iris
    hostile = {"note": "<script>alert(1)</script>\x00", "big": 2**70}
    pipeline = Pipeline([("ft", FunctionTransformer(_passthrough, kw_args=hostile)), ("lr", LogisticRegression())])
    search = GridSearchCV(pipeline, {"lr__C": [0.5, float("nan")], "lr__max_iter": [2**70 // 2**60]}, cv=3)
    assert search.fit(X, y) is search

    everything = runs(PROJECT)
    parent = next(run for run in everything if run.parent_id is None)
    assert parent.params["estimator__ft__func"] == "_passthrough"
    assert "<script>" in str(parent.params["estimator__ft__kw_args"])
    assert "\x00" not in str(parent.params["estimator__ft__kw_args"])
    assert "1180591620717411303424" in str(parent.params["estimator__ft__kw_args"])
    children = [run for run in everything if run.parent_id == parent.id]
    assert len(children) == 2
    assert any(math.isnan(child.metrics["mean_test_score"].last) for child in children)  # the NaN C failed


def test_a_search_on_the_threading_backend_is_still_one_run_and_its_candidates(iris: tuple) -> None:
    from joblib import parallel_config

    X, y = iris
    with parallel_config(backend="threading", n_jobs=2):
        GridSearchCV(SVC(), {"C": [1, 10], "kernel": ["linear", "rbf"]}, cv=3, n_jobs=2).fit(X, y)
    everything = runs(PROJECT)
    assert len(everything) == 5 and len([run for run in everything if run.parent_id is None]) == 1
