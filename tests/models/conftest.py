"""Fixtures of the model tests: where runs go, and a real model trained on iris."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(params=["embedded", "http"])
def where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Where runs go: the embedded store under CAIRN_HOME, or a server over HTTP."""
    if request.param == "http":
        monkeypatch.setenv("CAIRN_URI", request.getfixturevalue("server").url)
    yield request.param


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    datasets = pytest.importorskip("sklearn.datasets")
    return datasets.load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def iris_model(iris: tuple[Any, Any]) -> Any:
    linear_model = pytest.importorskip("sklearn.linear_model")
    features, labels = iris
    return linear_model.LogisticRegression(max_iter=1000).fit(features, labels)
