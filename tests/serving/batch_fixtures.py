"""A real scikit-learn model in the embedded store, and inputs to score with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import cairn


@dataclass(frozen=True)
class Scoring:
    """A registered model (``models:/iris@champion``, version 1) and what it was trained on."""

    uri: str
    model: Any  # the scikit-learn estimator itself, to check every prediction against
    features: Any  # iris's feature columns, a DataFrame


def log_iris_model() -> Scoring:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True, as_frame=True)
    features.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    model = LogisticRegression(max_iter=500).fit(features, labels)
    with cairn.init("iris", flush_interval=0.05, capture=False) as run:
        info = run.log_model(model, "classifier", input_example=features[:5])
    cairn.register_model(info.uri, "iris")
    from cairn.client.connect import connect

    tracking = connect()
    try:
        tracking.set_model_alias("iris", "champion", 1)
    finally:
        tracking.close()
    return Scoring("models:/iris@champion", model, features)


def rows_to_score(scoring: Scoring, rows: int, seed: int = 0) -> Any:
    """``rows`` rows of iris-like features (jittered), with an ``id`` column first."""
    generator = np.random.default_rng(seed)
    picked = scoring.features.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    picked = picked + generator.normal(0, 0.1, size=picked.shape)
    picked.insert(0, "id", np.arange(rows, dtype=np.int64))
    return picked
