"""The performance measures (core/performance.py) are scikit-learn's, on the same arrays:
random labels and predictions of binary, multiclass, text and regression models, with ties
in the scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from cairn.core.monitors import Performance
from cairn.core.performance import ModelKind, measure, model_kind, prediction_columns

SEEDS = range(8)


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_classifiers_measure_as_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(5, 400))
    labels = rng.integers(0, 2, rows)
    labels[:2] = [0, 1]  # both classes labelled
    scores = np.round(rng.random(rows) * 0.6 + labels * 0.3, 1)  # rounded: ties, as real scores have
    predicted = (scores > 0.5).astype(np.int64)
    found = measure(ModelKind.CLASSIFIER, labels, predicted, scores)
    assert set(found) == {p.value for p in (Performance.ACCURACY, Performance.F1, Performance.ROC_AUC)}
    assert found["accuracy"] == pytest.approx(metrics.accuracy_score(labels, predicted))
    assert found["f1"] == pytest.approx(metrics.f1_score(labels, predicted, zero_division=0.0))
    assert found["roc_auc"] == pytest.approx(metrics.roc_auc_score(labels, scores))


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_and_text_classifiers_measure_as_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(5, 400))
    classes = np.array(["cat", "dog", "eel", "fox"])
    labels = classes[rng.integers(0, 4, rows)]
    predicted = np.where(rng.random(rows) < 0.6, labels, classes[rng.integers(0, 3, rows)])
    found = measure(ModelKind.CLASSIFIER, labels.astype(object), predicted.astype(object))
    assert found["accuracy"] == pytest.approx(metrics.accuracy_score(labels, predicted))
    assert found["f1"] == pytest.approx(metrics.f1_score(labels, predicted, average="macro", zero_division=0.0))
    assert "roc_auc" not in found  # no probability of each class


def test_numbers_compare_as_numbers_and_text_as_text() -> None:
    # An integer label and a float prediction of the same class agree; "1" and 1 agree as text.
    assert measure(ModelKind.CLASSIFIER, np.array([1, 0, 1]), np.array([1.0, 0.0, 0.0]))["accuracy"] == 2 / 3
    assert measure(ModelKind.CLASSIFIER, np.array(["1", "0"], dtype=object), np.array([1, 0]))["accuracy"] == 1.0
    # The positive class of two is 1 (True) when present, else the greater.
    labels, predicted = np.array(["no", "yes", "yes"]), np.array(["no", "no", "yes"])
    assert measure(ModelKind.CLASSIFIER, labels, predicted)["f1"] == pytest.approx(
        metrics.f1_score(labels, predicted, pos_label="yes")
    )
    # Scores with one class labelled: no ROC AUC (it is undefined), the rest as usual.
    assert "roc_auc" not in measure(ModelKind.CLASSIFIER, np.array([1, 1]), np.array([1, 0]), np.array([0.9, 0.2]))
    assert measure(ModelKind.CLASSIFIER, np.array([]), np.array([])) == {}


@pytest.mark.parametrize("seed", SEEDS)
def test_regressors_measure_as_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 400))
    labels = rng.normal(10.0, 3.0, rows)
    predicted = labels + rng.normal(0.0, 1.5, rows)
    found = measure(ModelKind.REGRESSOR, labels, predicted)
    assert set(found) == {"rmse", "mae"}
    assert found["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(labels, predicted)))
    assert found["mae"] == pytest.approx(metrics.mean_absolute_error(labels, predicted))
    # Text labels of a regressor measure nothing; an infinite prediction is left out.
    assert measure(ModelKind.REGRESSOR, np.array(["a"], dtype=object), np.array([1.0])) == {}
    with_inf = measure(ModelKind.REGRESSOR, np.array([1.0, 2.0]), np.array([1.5, np.inf]))
    assert with_inf == {"rmse": 0.5, "mae": 0.5}


def test_the_kind_comes_from_the_signature_then_the_logged_dtype() -> None:
    double = {"outputs": [{"name": "y", "type": "double"}]}
    integer = {"outputs": [{"name": "y", "type": "integer"}]}
    several = {"outputs": [{"name": "label", "type": "string"}, {"name": "value", "type": "double"}]}
    assert model_kind(double, "prediction") is ModelKind.REGRESSOR
    assert model_kind(integer, "prediction") is ModelKind.CLASSIFIER
    assert model_kind(several, "prediction.value") is ModelKind.REGRESSOR
    assert model_kind(several, "prediction.label") is ModelKind.CLASSIFIER
    assert model_kind({"outputs": {"type": "tensor", "dtype": "float32", "shape": [-1]}}, "prediction") is (
        ModelKind.REGRESSOR
    )
    assert model_kind({"outputs": {"type": "tensor", "dtype": "int64", "shape": [-1]}}, "prediction") is (
        ModelKind.CLASSIFIER
    )
    assert model_kind(None, "prediction", np.array([0.5])) is ModelKind.REGRESSOR
    assert model_kind(None, "prediction", np.array([1, 0])) is ModelKind.CLASSIFIER
    assert model_kind(None, "prediction", np.array(["a"], dtype=object)) is ModelKind.CLASSIFIER


def test_prediction_and_score_columns() -> None:
    assert prediction_columns(["prediction", "probability"]) == ("prediction", "probability")
    assert prediction_columns(["prediction.label", "prediction.probability"]) == (
        "prediction.label",
        "prediction.probability",
    )
    assert prediction_columns(["probability"]) == (None, None)
    assert prediction_columns([]) == (None, None)
