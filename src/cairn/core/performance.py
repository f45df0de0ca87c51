"""Performance of a model version on its labelled predictions (docs/monitoring.md,
"Performance").

What is measured depends on what the model is:

- a **classifier** (its signature's prediction is ``string``, ``boolean`` or ``integer``, a
  tensor of an integer, boolean or text dtype; without a signature, a logged prediction that
  is not floating point): ``accuracy``; ``f1``, binary with two classes or fewer (the positive
  class is ``1`` (``True``) when it is one of them, else the greater in sort order) and
  macro-averaged over the classes of labels and predictions with more; ``roc_auc`` for two
  classes when the log has a score column (:data:`SCORE_COLUMNS`: the positive class's
  probability) and both classes are labelled;
- a **regressor** (a ``float``/``double`` prediction, or a floating-point tensor): ``rmse`` and
  ``mae``.

The measures are those of scikit-learn (``accuracy_score``, ``f1_score``, ``roc_auc_score``,
``mean_squared_error`` rooted, ``mean_absolute_error``), which a test holds them to; they are
computed with numpy and scipy here because scikit-learn is no dependency of Cairn's. Rows whose
prediction or label is missing are left out.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cairn.core.monitors import Performance
from cairn.core.prediction_logs import PREDICTION

#: Output columns taken for the positive class's probability (or any score ranking it).
SCORE_COLUMNS = ("probability", "score", "prediction.probability", "prediction.score", "prediction.proba")
_FLOAT_TYPES = frozenset({"float", "double"})


class ModelKind(enum.StrEnum):
    CLASSIFIER = "classifier"
    REGRESSOR = "regressor"


def prediction_columns(outputs: Sequence[str]) -> tuple[str | None, str | None]:
    """(the prediction column, the score column) among a log's output columns: ``prediction``
    when logged, else the first output that is no score; a score column only besides it."""
    scores = [o for o in outputs if o in SCORE_COLUMNS]
    others = [o for o in outputs if o not in SCORE_COLUMNS]
    predicted = PREDICTION if PREDICTION in others else (others[0] if others else None)
    return predicted, (scores[0] if scores and predicted is not None else None)


def model_kind(signature: Any, column: str | None, logged: np.ndarray[Any, Any] | None = None) -> ModelKind:
    """Classifier or regressor, from the signature's type of the prediction ``column`` (the
    output of the same name, ``prediction.NAME``'s NAME, else the only or first output), else
    from the logged predictions' dtype."""
    outputs = signature.get("outputs") if isinstance(signature, Mapping) else None
    if isinstance(outputs, Mapping) and outputs.get("type") == "tensor":
        dtype = str(outputs.get("dtype", ""))
        return ModelKind.REGRESSOR if dtype.startswith("float") else ModelKind.CLASSIFIER
    if isinstance(outputs, list) and outputs:
        named = {o.get("name"): o.get("type") for o in outputs if isinstance(o, Mapping)}
        bare = column.removeprefix(f"{PREDICTION}.") if column else None
        kind = named.get(column) or named.get(bare)
        if kind is None and isinstance(outputs[0], Mapping):
            kind = outputs[0].get("type")
        if isinstance(kind, str):
            return ModelKind.REGRESSOR if kind in _FLOAT_TYPES else ModelKind.CLASSIFIER
    if logged is not None and logged.dtype.kind == "f":
        return ModelKind.REGRESSOR
    return ModelKind.CLASSIFIER


def measure(
    kind: ModelKind,
    labels: np.ndarray[Any, Any],
    predicted: np.ndarray[Any, Any],
    scores: np.ndarray[Any, Any] | None = None,
) -> dict[str, float]:
    """The measures of ``kind`` on labels and predictions of equal length (rows with a missing
    value already left out); none when there are no rows, or when a regressor's labels are no
    numbers."""
    if len(labels) == 0:
        return {}
    if kind is ModelKind.REGRESSOR:
        if labels.dtype.kind not in "biuf" or predicted.dtype.kind not in "biuf":
            return {}
        errors = labels.astype(np.float64) - predicted.astype(np.float64)
        errors = errors[np.isfinite(errors)]  # an infinite prediction measures nothing
        if len(errors) == 0:
            return {}
        return {
            Performance.RMSE.value: float(np.sqrt(np.mean(errors**2))),
            Performance.MAE.value: float(np.mean(np.abs(errors))),
        }
    truth, guess = _comparable(labels, predicted)
    found: dict[str, float] = {Performance.ACCURACY.value: float(np.mean(truth == guess))}
    classes = np.unique(np.concatenate([truth, guess]))
    if len(classes) <= 2:
        positive = _positive(classes)
        found[Performance.F1.value] = _f1(truth == positive, guess == positive)
        if scores is not None and scores.dtype.kind in "biuf":
            auc = _roc_auc(truth == positive, scores.astype(np.float64))
            if auc is not None:
                found[Performance.ROC_AUC.value] = auc
    else:
        found[Performance.F1.value] = float(np.mean([_f1(truth == c, guess == c) for c in classes]))
    return found


def _comparable(labels: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], ...]:
    """Labels and predictions of one kind: numbers compared as numbers (1 == 1.0 == True),
    anything else as text."""
    if labels.dtype.kind in "biuf" and predicted.dtype.kind in "biuf":
        return labels.astype(np.float64), predicted.astype(np.float64)
    return labels.astype(str), predicted.astype(str)


def _positive(classes: np.ndarray[Any, Any]) -> Any:
    for candidate in (1.0, "1", "True", "true"):
        if candidate in classes.tolist():
            return candidate
    return classes[-1]


def _f1(truth: np.ndarray[Any, Any], guess: np.ndarray[Any, Any]) -> float:
    true_positive = int(np.sum(truth & guess))
    wrong = int(np.sum(truth != guess))
    denominator = 2 * true_positive + wrong
    return 0.0 if denominator == 0 else 2 * true_positive / denominator


def _roc_auc(positive: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> float | None:
    """The area under the ROC curve: the Mann-Whitney U of the positives' scores over the
    negatives', divided by the pairs (ties count half, as in scikit-learn)."""
    from scipy.stats import mannwhitneyu

    keep = np.isfinite(scores)
    positive, scores = positive[keep], scores[keep]
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return None
    statistic = mannwhitneyu(pos, neg, alternative="two-sided", method="asymptotic").statistic
    return float(statistic / (len(pos) * len(neg)))
