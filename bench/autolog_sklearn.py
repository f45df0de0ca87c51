"""Autologging a scikit-learn GridSearchCV (4 candidates, cv 3, iris): Cairn against MLflow.

``python bench/autolog_sklearn.py`` runs every mode through bench/_autolog.py and prints the
table; ``python bench/autolog_sklearn.py MODE`` is one workload process:

- ``off``: the search unlogged;
- ``cairn`` / ``cairn-away``: ``cairn.sklearn.autolog()`` (the server up / nothing listening);
- ``cairn-no-capture``: the same with ``CAIRN_CAPTURE=0``: without the code, environment and
  console capture that the first run of a process waits for at its end;
- ``mlflow``: ``mlflow.sklearn.autolog()`` against MLflow's server.

Only the ``fit`` is timed; ``autolog_s`` is the time the ``autolog()`` call itself took, and
``log_model_s`` the share of the fit Cairn spent packaging and storing the model.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _autolog

MODES = ("off", "cairn", "cairn-no-capture", "cairn-away", "mlflow")


def workload(mode: str) -> dict[str, float]:
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    X, y = load_iris(return_X_y=True)
    started = time.perf_counter()
    log_model_s = _switch_on(mode)
    autolog_s = time.perf_counter() - started
    search = GridSearchCV(SVC(), {"C": [1, 10], "kernel": ["linear", "rbf"]}, cv=3)
    started = time.perf_counter()
    search.fit(X, y)
    train_s = time.perf_counter() - started
    result = {"train_s": round(train_s, 4), "autolog_s": round(autolog_s, 3)}
    if log_model_s is not None:
        result["log_model_s"] = round(sum(log_model_s), 4)
    return result


def _switch_on(mode: str) -> list[float] | None:
    """Turn the mode's autologging on; for Cairn, a list the time of each logged model lands in."""
    if mode == "off":
        return None
    if mode == "mlflow":
        import mlflow

        mlflow.set_experiment("bench-autolog-sklearn")
        mlflow.sklearn.autolog()
        return None
    if mode == "cairn-no-capture":
        os.environ["CAIRN_CAPTURE"] = "0"
    import cairn.sklearn
    from cairn.client.run import Run

    cairn.sklearn.autolog()
    return _autolog.time_calls(Run, "log_model")


if __name__ == "__main__":
    _autolog.main(__file__, MODES, workload)
