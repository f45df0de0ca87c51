"""The model the serving and batch-scoring benchmarks score with, and its data.

Imported from either venv: each side trains its own copy (a fitted model pickled in one
scikit-learn release is not meant to be read by another), from the same seeded data, so both
hold the same coefficients up to floating point and give the same predictions; the benchmarks
check that on the rows they send.
"""

from __future__ import annotations

from typing import Any

TRAIN_ROWS = 4000
SEED = 0


def columns(features: int) -> list[str]:
    return [f"f{i:02d}" for i in range(features)]


def training_data(features: int, rows: int = TRAIN_ROWS, seed: int = SEED) -> tuple[Any, Any]:
    """A DataFrame of `features` numeric columns (on different scales, so the scaler matters)
    and a binary label that depends on a few of them, with noise."""
    import numpy as np
    import pandas as pd

    generator = np.random.default_rng(seed)  # PCG64: the same stream in every numpy release
    scales = np.linspace(0.5, 50.0, features)
    values = generator.normal(size=(rows, features)) * scales
    weights = generator.normal(size=features) / scales
    logits = values @ weights + generator.normal(scale=0.5, size=rows)
    return pd.DataFrame(values, columns=columns(features)), (logits > 0).astype("int64")


def train(features: int) -> tuple[Any, Any]:
    """StandardScaler + LogisticRegression fitted on `training_data(features)`; and the data."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame, labels = training_data(features)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(frame, labels), frame


def describe(features: int) -> str:
    return f"StandardScaler + LogisticRegression, {features} float64 features, {TRAIN_ROWS} training rows"
