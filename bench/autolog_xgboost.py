"""Autologging XGBoost (200 rounds, two eval sets, breast cancer): Cairn against MLflow.

``python bench/autolog_xgboost.py`` runs every mode through bench/_autolog.py and prints the
table; ``python bench/autolog_xgboost.py MODE`` is one workload process:

- ``off``: the training unlogged;
- ``cairn`` / ``cairn-away``: ``cairn.xgboost.autolog()`` (the server up / nothing listening);
- ``mlflow``: ``mlflow.xgboost.autolog()`` against MLflow's server.

Only the ``xgboost.train`` call is timed (``train_s``); ``autolog_s`` is the ``autolog()``
call itself. ``rounds_s`` is the time spent inside the logging callback's ``after_iteration``
over all rounds (what each round pays: Cairn's ``CairnCallback``, MLflow's
``AutologCallback``), so ``rounds_s / ROUNDS`` is the per-round cost apart from the run's
start and end (creating the run, the model, importances, waiting for the queue).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _autolog

MODES = ("off", "cairn", "cairn-away", "mlflow")
ROUNDS = 200


def workload(mode: str) -> dict[str, float]:
    import xgboost as xgb
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)
    dtrain = xgb.DMatrix(X_train, label=y_train)
    dvalid = xgb.DMatrix(X_valid, label=y_valid)
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "error"], "max_depth": 3, "nthread": 1}
    started = time.perf_counter()
    rounds_s = _switch_on(mode)
    autolog_s = time.perf_counter() - started
    started = time.perf_counter()
    xgb.train(params, dtrain, ROUNDS, evals=[(dtrain, "train"), (dvalid, "valid")], verbose_eval=False)
    train_s = time.perf_counter() - started
    result = {"train_s": round(train_s, 4), "autolog_s": round(autolog_s, 3)}
    if rounds_s is not None:
        result["rounds_s"] = round(sum(rounds_s), 5)
        result["per_round_us"] = round(sum(rounds_s) / ROUNDS * 1e6, 1)
    return result


def _switch_on(mode: str) -> list[float] | None:
    """Turn the mode's autologging on; a list the time of each round's callback lands in."""
    if mode == "off":
        return None
    if mode == "mlflow":
        import mlflow
        import mlflow.xgboost
        from mlflow.xgboost._autolog import AutologCallback

        mlflow.set_experiment("bench-autolog-xgboost")
        mlflow.xgboost.autolog()
        return _autolog.time_calls(AutologCallback, "after_iteration")
    import cairn.xgboost

    cairn.xgboost.autolog()
    return _autolog.time_calls(cairn.xgboost.CairnCallback, "after_iteration")


if __name__ == "__main__":
    _autolog.main(__file__, MODES, workload)
