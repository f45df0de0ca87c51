"""The integrations' promise, end to end: one added line turns a training script into a
complete run (params, curves, model, dataset) whose model is registered and served with no
extra code.

Each example of ``examples/integrations/`` runs as a user runs it, ``python SCRIPT`` in a
process of its own, with an embedded store of its own under ``CAIRN_HOME``. The run is then
read back through ``cairn.Api()``, its model registered with ``cairn.register_model`` and
served by a real ``cairn serve models:/NAME/1`` process, which must answer a few rows of the
script's kind of input as ``cairn.load_model`` predicts them in this process.

``CAIRN_CAPTURE=0``: the code and environment snapshots are not what these tests are about,
and capturing the environment doubles a short script's time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tests.serving.conftest import start_serve

import cairn
from cairn.core.entities import Run as RunRecord
from cairn.core.entities import RunStatus

pytestmark = [
    pytest.mark.slow,
    # Keras 3.15's predict on torch hands numpy an object whose __array__ lacks ``copy``; not ours.
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "integrations"
_SCRIPT_TIMEOUT_S = 300


@dataclass(frozen=True)
class Example:
    """What one example script logs, and how to ask its model something."""

    framework: str
    #: The modules the script imports: the test is skipped when one is missing.
    modules: tuple[str, ...]
    #: The project its runs go to (the script may name one itself, else CAIRN_PROJECT).
    project: str
    #: A metric that must be a curve (more than one point), or None for a single fit.
    curve: str | None
    #: Whether the integration's docs promise the training data as a run input ("train",
    #: with evaluation data as "eval…" beside it).
    dataset: bool
    #: A few rows of the script's kind of input, and the ``/invocations`` body that carries them.
    rows: Callable[[], tuple[Any, dict[str, Any]]]
    env: dict[str, str] = field(default_factory=dict)


def _frame_rows(load: Callable[..., Any]) -> tuple[Any, dict[str, Any]]:
    features, _ = load(return_X_y=True, as_frame=True)
    rows = features.iloc[::37]
    return rows, {"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}}


def _wine() -> tuple[Any, dict[str, Any]]:
    from sklearn.datasets import load_wine

    return _frame_rows(load_wine)


def _breast_cancer() -> tuple[Any, dict[str, Any]]:
    from sklearn.datasets import load_breast_cancer

    return _frame_rows(load_breast_cancer)


def _diabetes() -> tuple[Any, dict[str, Any]]:
    from sklearn.datasets import load_diabetes

    return _frame_rows(load_diabetes)


def _iris_standardized() -> tuple[Any, dict[str, Any]]:
    from sklearn.datasets import load_iris

    features, _ = load_iris(return_X_y=True)
    rows = ((features - features.mean(axis=0)) / features.std(axis=0)).astype(np.float32)[::23]
    return rows, {"inputs": rows.tolist()}


def _digit_images() -> tuple[Any, dict[str, Any]]:
    from sklearn.datasets import load_digits

    rows = (load_digits().images / 16.0).astype(np.float32)[::211, ..., None]
    return rows, {"inputs": rows.tolist()}


def _reviews() -> tuple[Any, dict[str, Any]]:
    rows = ["the plot was very clever and funny", "the cast was very dull and weak", "a fine film"]
    return rows, {"inputs": rows}


EXAMPLE_LIST = [
    Example("sklearn", ("sklearn",), "wine", None, True, _wine),
    Example("xgboost", ("xgboost", "sklearn"), "e2e-xgboost", "valid-logloss", True, _breast_cancer),
    Example("lightgbm", ("lightgbm", "sklearn"), "e2e-lightgbm", "valid-l2", True, _diabetes),
    Example("lightning", ("lightning", "torch", "sklearn"), "e2e-lightning", "train_loss", True, _iris_standardized),
    Example(
        "keras",
        ("torch", "keras", "sklearn"),
        "e2e-keras",
        "val_loss",
        True,
        _digit_images,
        env={"KERAS_BACKEND": "torch"},
    ),
    Example("transformers", ("transformers", "torch"), "e2e-transformers", "loss", True, _reviews),
]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An embedded store of the test's own, for the script, this process and ``cairn serve``."""
    env = {"CAIRN_HOME": str(tmp_path / "home"), "CAIRN_CAPTURE": "0"}
    monkeypatch.delenv("CAIRN_URI", raising=False)
    monkeypatch.delenv("CAIRN_PROJECT", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _run_example(example: Example, store: dict[str, str], workdir: Path) -> str:
    """``python SCRIPT`` in ``workdir`` (where the script's own files go); its output."""
    env = {**os.environ, **store, **example.env, "CAIRN_PROJECT": example.project}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{example.framework}_train.py")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=_SCRIPT_TIMEOUT_S,
    )
    assert done.returncode == 0, f"{example.framework}_train.py failed:\n{done.stdout}\n{done.stderr}"
    assert "logging failed" not in done.stderr, done.stderr
    return done.stdout


def _check_complete(api: cairn.Api, run: RunRecord, example: Example) -> None:
    """Finished, with params, the curve, the model and (where promised) the training data."""
    assert run.status is RunStatus.FINISHED, run.status
    assert run.params, f"run {run.id} has no params"
    assert run.metrics, f"run {run.id} has no metrics"
    if example.curve is not None:
        points = api.history(run.id, example.curve)
        assert len(points.values) > 1, f"{example.curve} has {len(points.values)} point(s), not a curve"
        assert np.all(np.isfinite(points.values))
    model_files = {artifact.path for artifact in api.artifacts(run, "model")}
    assert "model/cairn-model.json" in model_files, model_files
    inputs = list(api.inputs(run))
    if example.dataset:
        # The training data, and whatever evaluation data the framework was given beside it.
        found = sorted((i.dataset.name, i.context) for i in inputs)
        assert found.count(("train", "train")) == 1, found
        others = [pair for pair in found if pair != ("train", "train")]
        assert all(name.startswith("eval") and context == "eval" for name, context in others), found
        assert all(i.dataset.rows and i.dataset.rows > 0 for i in inputs)
    else:
        assert inputs == []  # the docs promise none: when one comes, they and ``dataset`` change together


def _served_run(api: cairn.Api, example: Example) -> RunRecord:
    """The top-level run whose model the script's docstring says is the one: for scikit-learn,
    the search (the run with children), every other top-level run complete too."""
    runs = api.runs(example.project)
    top = [run for run in runs if run.parent_id is None]
    if example.framework == "sklearn":
        assert len(top) == 2, [run.name for run in top]  # the search, then the baseline
        for run in top:
            _check_complete(api, run, example)
        children = [run for run in runs if run.parent_id is not None]
        assert len(children) == 6  # one per candidate of the 3 x 2 grid
        (search,) = {run.parent_id for run in children}
        return next(run for run in top if run.id == search)
    assert len(top) == 1, [run.name for run in top]
    _check_complete(api, top[0], example)
    return top[0]


def _same(answer: Any, expected: Any) -> None:
    """``answer`` (JSON) holds ``expected``'s values: an array, or a dict of arrays."""
    if isinstance(expected, dict):
        assert set(answer) == set(expected)
        for key, values in expected.items():
            _same(answer[key], values)
        return
    np.testing.assert_allclose(np.asarray(answer, dtype=float), np.asarray(expected, dtype=float), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("example", EXAMPLE_LIST, ids=[example.framework for example in EXAMPLE_LIST])
def test_one_added_line_gives_a_complete_run_whose_model_registers_and_serves(
    example: Example, store: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in example.env.items():
        monkeypatch.setenv(key, value)  # before this process imports the framework, as the script does
    for module in example.modules:
        pytest.importorskip(module, reason=f"{module} is not installed: {example.framework}_train.py needs it")
    workdir = tmp_path / "work"
    workdir.mkdir()
    _run_example(example, store, workdir)

    with cairn.Api() as api:
        run = _served_run(api, example)
    name = f"{example.framework}-example"
    version = cairn.register_model(f"runs:/{run.id}/model", name)
    assert version.version == 1
    rows, body = example.rows()
    expected = cairn.load_model(f"models:/{name}/1").predict(rows)

    # The server is started as a user would start it, without the script's in-process settings
    # (KERAS_BACKEND): what it needs to load the model must come from the model.
    for key in example.env:
        monkeypatch.delenv(key)
    served = start_serve(f"models:/{name}/1", env=store)
    try:
        answer = httpx.post(f"{served.url}/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        _same(answer.json()["predictions"], expected)
    finally:
        served.stop()
