"""LightGBM: ``cairn.lightgbm.autolog()`` logs every ``lightgbm.train``, ``CairnCallback`` one.

``lightgbm.train`` is what the scikit-learn wrappers (``LGBMClassifier().fit`` …) call too, so
patching it covers both. Each logged training records, in the run :func:`training_run` gives it
(see :mod:`cairn.integrations._boosting` for the shared parts):

- params: the ``params`` dict and ``num_boost_round`` (the callback alone: the params LightGBM
  hands its callbacks);
- metrics: every evaluation result of every iteration as ``<evalset>-<metric>``
  (``valid_0-l2``, ``training-binary_logloss``: LightGBM's and MLflow's names) at step =
  iteration (0-based);
- with early stopping: ``best_iteration`` (1-based, LightGBM's), ``stopped_iteration`` and
  ``best/<evalset>-<metric>``;
- ``feature_importance_gain`` (a table and a PNG chart) and ``feature_importance_split`` (a table);
- the booster at ``runs:/RUN/model`` (the lightgbm flavor) with the first training rows as
  input example and a signature from them when the ``Dataset`` holds its raw data;
- the training data as dataset ``train`` (features and label, by digest and shape) likewise.

LightGBM tells a callback nothing when training ends: under ``autolog`` the end is logged when
``lightgbm.train`` returns; a ``CairnCallback`` given by hand logs it after the last planned
iteration, or, when early stopping ends training sooner, at ``callback.finish(booster)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cairn.client.run import Run
from cairn.integrations._base import Guard, configure
from cairn.integrations._boosting import (
    BoostingLog,
    Ending,
    TrainPatch,
    first_rows,
    logging_train,
    prepare,
    tensor_signature,
    training_data,
)

INTEGRATION = "lightgbm"
#: MLflow's choice: how much a feature's splits gained (first: the one drawn as a chart), and
#: how often it splits.
IMPORTANCE_TYPES = ("gain", "split")
#: The modules whose ``train`` is the one to patch (the sklearn wrappers import it by name).
_MODULES = ("lightgbm", "lightgbm.engine", "lightgbm.sklearn")

_train_patch = TrainPatch(_MODULES)


class CairnCallback:
    """A LightGBM callback that logs a training into Cairn.

    ``lightgbm.train(params, train_set, valid_sets=[valid], callbacks=[CairnCallback()])``
    logs into ``run``, else the open run (``cairn.init``), else a run it starts and finishes
    with the training. With early stopping, call ``callback.finish(booster)`` after ``train``
    returns to log the model and the rest of the end (LightGBM does not tell callbacks).
    """

    #: After LightGBM's own evaluation logging and recording (10, 20), before early stopping
    #: (30), which ends an iteration by raising.
    order = 25
    before_iteration = False

    def __init__(
        self,
        run: Run | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        log_model: bool = True,
        importance_types: Sequence[str] = IMPORTANCE_TYPES,
        _curves_only: bool = False,
        _end_by_caller: bool = False,
        _train_set: Any = None,
    ) -> None:
        self.log = BoostingLog(INTEGRATION, run, params=params, log_model=log_model, curves_only=_curves_only)
        self.importance_types = tuple(importance_types)
        self._end_by_caller = _end_by_caller
        # The raw data and label, taken before LightGBM frees them (free_raw_data=True).
        self._data = getattr(_train_set, "data", None)
        self._label = getattr(_train_set, "label", None)

    def __call__(self, env: Any) -> None:
        if env.iteration == env.begin_iteration:
            self.log.start(env.params)
        values = {}
        for result in env.evaluation_result_list or ():
            values[f"{result[0]}-{result[1]}"] = float(result[2])  # (set, metric, value, …)
        self.log.iteration(env.iteration, values)
        if not self._end_by_caller and env.iteration == env.end_iteration - 1:
            self.finish(env.model)

    def finish(self, booster: Any) -> None:
        """Log the end of training (the model, importances, data); once, later calls do
        nothing."""
        self.log.end(lambda: self._ending(booster))

    def _ending(self, booster: Any) -> Ending:
        best = int(getattr(booster, "best_iteration", 0) or 0)
        importances = {}
        if not self.log.curves_only:
            names = booster.feature_name()
            for kind in self.importance_types:
                values = Guard.of(INTEGRATION).call(booster.feature_importance, importance_type=kind)
                if values is not None:
                    importances[kind] = {str(name): float(value) for name, value in zip(names, values, strict=False)}
        data, label = self._data, self._label
        return Ending(
            booster,
            best_iteration=best if best > 0 else None,
            best_step=best - 1 if best > 0 else None,
            importances=importances,
            signature=tensor_signature(booster.num_feature()),
            input_example=first_rows(data),
            training_data=(lambda: training_data(data, label)) if data is not None else None,
        )


def autolog(
    project: str | None = None, *, log_models: bool = True, log_datasets: bool = True, disable: bool = False
) -> None:
    """Log every ``lightgbm.train`` (and so every ``LGBMClassifier().fit`` …) from now on,
    into the open run if there is one, else into a new run in ``project`` (else
    ``CAIRN_PROJECT``, else the script's folder name). ``log_models=False`` leaves the model
    out, ``log_datasets=False`` the training data; ``disable=True`` puts LightGBM's own ``train``
    back."""
    if disable:
        configure(INTEGRATION, enabled=False)
        _train_patch.restore()
        return
    configure(INTEGRATION, enabled=True, project=project, log_models=log_models, log_datasets=log_datasets)
    _train_patch.apply(_logging_train)
    from cairn.integrations import sklearn

    sklearn.include_wrappers("lightgbm")
    prepare(INTEGRATION, "lightgbm", ("lightgbm", "numpy"), log_models)


def _logging_train(train: Callable[..., Any]) -> Callable[..., Any]:
    return logging_train(
        INTEGRATION, train, params_of=_train_params, callback_for=_callback_for, finish_after_train=True
    )


def _train_params(bound: inspect.BoundArguments) -> dict[str, Any]:
    params = dict(bound.arguments.get("params") or {})
    params.setdefault("num_boost_round", bound.arguments.get("num_boost_round", 100))
    return params


def _callback_for(
    bound: inspect.BoundArguments, run: Run, *, params: dict[str, Any] | None, log_model: bool, curves_only: bool
) -> CairnCallback:
    return CairnCallback(
        run,
        params=params,
        log_model=log_model,
        _curves_only=curves_only,
        _end_by_caller=True,
        _train_set=bound.arguments.get("train_set"),
    )
