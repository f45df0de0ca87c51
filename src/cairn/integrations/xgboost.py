"""XGBoost: ``cairn.xgboost.autolog()`` logs every ``xgboost.train``, ``CairnCallback`` one.

``xgboost.train`` is what the scikit-learn wrappers (``XGBClassifier().fit`` …) call too, so
patching it covers both. Each logged training records, in the run :func:`training_run` gives it
(see :mod:`cairn.integrations._boosting` for the shared parts):

- params: the ``params`` dict, and ``num_boost_round``, ``early_stopping_rounds``,
  ``maximize`` when given;
- metrics: every evaluation result of every iteration as ``<evalset>-<metric>``
  (``validation_0-logloss``, ``train-rmse``: the names XGBoost prints and MLflow logs) at
  step = iteration;
- with early stopping: ``best_iteration`` (0-based, XGBoost's), ``stopped_iteration`` and
  ``best/<evalset>-<metric>``;
- ``feature_importance_gain`` (a table and a PNG chart) and ``feature_importance_weight`` (a table);
- the booster at ``runs:/RUN/model`` (the xgboost flavor), its signature from the features
  the booster knows (names, or their number);
- the training data as dataset ``train`` (features and label, by digest and shape) when the
  ``DMatrix`` still gives its data back.

With scikit-learn autologging also on, an ``XGBClassifier().fit`` is one run: scikit-learn's
fit logs its params, metrics and model, and the ``xgboost.train`` inside adds the curves.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import xgboost
from xgboost.callback import TrainingCallback

from cairn.client.run import Run
from cairn.integrations._base import Guard, configure
from cairn.integrations._boosting import (
    MAX_DATASET_CELLS,
    BoostingLog,
    Ending,
    TrainPatch,
    logging_train,
    prepare,
    tensor_signature,
    training_data,
)

INTEGRATION = "xgboost"
#: MLflow logs ``weight`` only; ``gain`` is what people usually want to read, so it is first:
#: the one drawn as a chart.
IMPORTANCE_TYPES = ("gain", "weight")
#: The modules whose ``train`` is the one to patch (the sklearn wrappers import it by name).
_MODULES = ("xgboost", "xgboost.training", "xgboost.sklearn")
#: Arguments of ``xgboost.train`` logged as params beside the ``params`` dict, when given.
_TRAIN_ARGUMENTS = ("num_boost_round", "early_stopping_rounds", "maximize")

_train_patch = TrainPatch(_MODULES)


class CairnCallback(TrainingCallback):
    """An XGBoost callback that logs a training into Cairn.

    ``xgboost.train(params, dtrain, evals=[(dvalid, "valid")], callbacks=[CairnCallback()])``
    logs into ``run``, else the open run (``cairn.init``), else a run it starts and finishes
    with the training. Pass ``params=`` to log them: an XGBoost callback is not shown them.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        log_model: bool = True,
        importance_types: Sequence[str] = IMPORTANCE_TYPES,
        _curves_only: bool = False,
        _training_data: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__()
        self.log = BoostingLog(INTEGRATION, run, params=params, log_model=log_model, curves_only=_curves_only)
        self.importance_types = tuple(importance_types)
        self._training_data = _training_data

    def before_training(self, model: Any) -> Any:
        self.log.start()
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        values = {}
        for name, metrics in evals_log.items():
            for metric, history in metrics.items():
                latest = history[-1]
                values[f"{name}-{metric}"] = float(latest[0] if isinstance(latest, tuple) else latest)
        self.log.iteration(epoch, values)
        return False  # never stops the training

    def after_training(self, model: Any) -> Any:
        self.log.end(lambda: self._ending(model))
        return model

    def _ending(self, booster: Any) -> Ending:
        best = booster.attr("best_iteration")
        best_iteration = int(best) if best is not None else None
        importances = {}
        if not self.log.curves_only:
            for kind in self.importance_types:
                scores = Guard.of(INTEGRATION).call(booster.get_score, importance_type=kind)
                if scores:
                    importances[kind] = {str(key): float(value) for key, value in scores.items()}
        return Ending(
            booster,
            best_iteration=best_iteration,
            best_step=best_iteration,
            importances=importances,
            signature=tensor_signature(booster.num_features(), booster.feature_names),
            training_data=self._training_data,
        )


def autolog(
    project: str | None = None, *, log_models: bool = True, log_datasets: bool = True, disable: bool = False
) -> None:
    """Log every ``xgboost.train`` (and so every ``XGBClassifier().fit`` …) from now on, into
    the open run if there is one, else into a new run in ``project`` (else
    ``CAIRN_PROJECT``, else the script's folder name). ``log_models=False`` leaves the model
    out, ``log_datasets=False`` the training data; ``disable=True`` puts XGBoost's own ``train``
    back."""
    if disable:
        configure(INTEGRATION, enabled=False)
        _train_patch.restore()
        return
    configure(INTEGRATION, enabled=True, project=project, log_models=log_models, log_datasets=log_datasets)
    _train_patch.apply(_logging_train)
    from cairn.integrations import sklearn

    sklearn.include_wrappers("xgboost")
    prepare(INTEGRATION, "xgboost", ("xgboost", "numpy"), log_models)


def _logging_train(train: Callable[..., Any]) -> Callable[..., Any]:
    return logging_train(
        INTEGRATION, train, params_of=_train_params, callback_for=_callback_for, finish_after_train=False
    )


def _train_params(bound: inspect.BoundArguments) -> dict[str, Any]:
    arguments = bound.arguments
    params = dict(arguments.get("params") or {})
    for name in _TRAIN_ARGUMENTS:
        if arguments.get(name) is not None:
            params[name] = arguments[name]
    if "num_boost_round" not in params:
        params["num_boost_round"] = bound.signature.parameters["num_boost_round"].default
    return params


def _callback_for(
    bound: inspect.BoundArguments, run: Run, *, params: dict[str, Any] | None, log_model: bool, curves_only: bool
) -> CairnCallback:
    dtrain = bound.arguments.get("dtrain")
    return CairnCallback(
        run, params=params, log_model=log_model, _curves_only=curves_only, _training_data=lambda: _dmatrix_data(dtrain)
    )


def _dmatrix_data(dtrain: Any) -> Any:
    """A DMatrix's features and label as a DataFrame, when it still gives them back (a
    ``QuantileDMatrix`` keeps only its histogram: None)."""
    if not isinstance(dtrain, xgboost.DMatrix) or isinstance(dtrain, xgboost.QuantileDMatrix):
        return None
    import pandas as pd

    rows, columns = dtrain.num_row(), dtrain.num_col()
    if rows * columns > MAX_DATASET_CELLS:
        return None
    frame = pd.DataFrame(dtrain.get_data().toarray())
    names = dtrain.feature_names or [f"f{i}" for i in range(columns)]
    frame.columns = [str(name) for name in names]
    label = dtrain.get_label()
    return training_data(frame, label if len(label) == rows else None)
