"""scikit-learn: ``cairn.sklearn.autolog()`` makes every ``fit`` a run.

``fit`` (and ``fit_transform`` / ``fit_predict`` where a class defines its own) of every
estimator scikit-learn lists (``sklearn.utils.all_estimators()``: estimators, pipelines,
searches, meta-estimators) is wrapped, and so are the scikit-learn wrappers of XGBoost and
LightGBM once those are imported (:data:`WRAPPERS`). Only the outermost fit of a thread logs: the steps of a
pipeline, the inner fits of a search and the sub-fits of a meta-estimator run inside it and
are not runs of their own. Each logged fit records, in the run :func:`training_run` gives it:

- params: ``get_params(deep=True)``, nested estimators as their class name, anything else
  that is not a number, a flag or text as its (shortened) ``repr``;
- metrics when ``y`` is given: ``training_score`` (``estimator.score``), for classifiers
  ``training_{accuracy,precision,recall,f1}_score`` (weighted over classes), for regressors
  ``training_{mean_squared_error,root_mean_squared_error,mean_absolute_error,r2_score}``:
  MLflow's names, so dashboards and queries carry over;
- for classifiers the confusion matrix on the training data (``training_confusion_matrix``);
- the fitted model at ``runs:/RUN/model`` with a signature from the first training rows;
- the training data (features, and the target as a column) as dataset ``train``, by digest
  and shape only;
- for a search (anything with ``cv_results_``): every candidate as a finished child run with
  its params and mean/std/rank scores, the best one tagged ``cairn.best = "true"``, and on the
  search's run ``best_<param>`` params, the ``best_cv_score`` metric and the best estimator as
  the model.

"Outermost" is per thread (``logging_call`` in ``_base``, which the boosting integrations
set and read too: an ``xgboost.train`` inside a logged fit adds its curves to the fit's run),
and across threads while a logged fit is under way: a search on joblib's *threading* backend
fits its candidates on pool threads, which are then taken for its parts (worker processes of
the default backend are not patched at all). The price: two models trained at the same time
on two threads other than the main one log only the first.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cairn.client.child_runs import ChildRun
from cairn.client.run import Run
from cairn.core import limits
from cairn.core.entities import ParamValue
from cairn.integrations._base import (
    MODEL_NAME,
    Guard,
    configure,
    current_logging_call,
    log_new_params,
    logging_call,
    prepare_connection,
    settings_of,
    training_run,
)
from cairn.integrations._params import loggable_params

INTEGRATION = "sklearn"
#: The methods that train; each is wrapped on the class that defines it.
FIT_METHODS = ("fit", "fit_transform", "fit_predict")
#: The tag that marks a search's best candidate among its child runs.
BEST_TAG = "cairn.best"
#: The classifier's confusion matrix on its training data, as an artifact the dashboard draws.
CONFUSION_MATRIX = "training_confusion_matrix"
#: Rows of the training data saved with the model: enough to show its input, cheap to store.
EXAMPLE_ROWS = 5
_originals: dict[tuple[type, str], Any] = {}  # (class, method) -> its own attribute, as it was
_patch_lock = threading.Lock()
_open_fits = 0  # logged fits under way in the process, on any thread


def autolog(
    project: str | None = None, *, log_models: bool = True, log_datasets: bool = True, disable: bool = False
) -> None:
    """Log every scikit-learn ``fit`` from now on (see the module's docstring for what), into
    the open run if there is one, else into a new run in ``project`` (else ``CAIRN_PROJECT``,
    else the script's folder name). ``log_models=False`` leaves the model out,
    ``log_datasets=False`` the training data; ``disable=True`` puts the original methods back."""
    if disable:
        configure(INTEGRATION, enabled=False)
        _restore()
        return
    configure(INTEGRATION, enabled=True, project=project, log_models=log_models, log_datasets=log_datasets)
    _patch(estimator_classes())
    Guard.of(INTEGRATION).call(prepare_connection)
    if log_models:
        Guard.of(INTEGRATION).call(_prepare_model_logging)


def log_fitted(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    run: Run | None = None,
    log_model: bool = True,
    sample_weight: Any = None,
) -> None:
    """Log a fitted estimator as autologging would have logged its fit: into ``run``, else the
    open run, else a new one (finished before this returns). For those who prefer to say
    when; errors are one warning, as with autologging."""
    guard = Guard.of(INTEGRATION)

    def log(target: Run) -> None:
        guard.call(_log_before_fit, target, estimator)
        guard.call(_log_after_fit, target, estimator, X, y, sample_weight, log_model)

    if run is not None:
        log(run)
        return
    with training_run(INTEGRATION) as opened:
        if opened is not None:
            log(opened)


# -- patching ----------------------------------------------------------------------------


@functools.cache
def _listed_estimators() -> tuple[type, ...]:
    """``all_estimators()`` imports every module of scikit-learn (1 to 4 s): once a process."""
    from sklearn.utils import all_estimators

    return tuple(cls for _, cls in all_estimators())


#: The scikit-learn-API estimators of other libraries: wrapped like scikit-learn's own once the
#: library is imported (never imported here), so ``XGBClassifier().fit`` is a logged fit.
WRAPPERS = {
    "xgboost": ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor"),
    "lightgbm": ("LGBMClassifier", "LGBMRegressor", "LGBMRanker"),
}


def wrapper_classes(library: str) -> list[type]:
    """The classes of :data:`WRAPPERS` ``library`` has, when it is imported already."""
    module = sys.modules.get(library)
    found = (getattr(module, name, None) for name in WRAPPERS.get(library, ()))
    return [cls for cls in found if isinstance(cls, type)]


def include_wrappers(library: str) -> None:
    """Wrap ``library``'s scikit-learn-API estimators now if scikit-learn autologging is on:
    the library's own ``autolog()`` calls this, as it may be imported after ours ran."""
    if settings_of(INTEGRATION).enabled:
        _patch(wrapper_classes(library))


def estimator_classes() -> list[type]:
    """Every estimator class scikit-learn lists, the searches it keeps in experimental, and
    the scikit-learn-API estimators of the boosting libraries already imported."""
    import sklearn.model_selection

    classes = list(_listed_estimators())
    for library in WRAPPERS:
        classes += [cls for cls in wrapper_classes(library) if cls not in classes]
    for name in ("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV"):
        search = vars(sklearn.model_selection).get(name)  # the Halving ones once enabled
        if isinstance(search, type) and search not in classes:
            classes.append(search)
    return classes


def _patch(classes: list[type]) -> None:
    with _patch_lock:
        for cls in classes:
            for method in FIT_METHODS:
                owner = next((base for base in cls.__mro__ if method in vars(base)), None)
                if owner is None or (owner, method) in _originals:
                    continue
                wrapped = _wrapped_attribute(vars(owner)[method], method)
                if wrapped is not None:
                    _originals[(owner, method)] = vars(owner)[method]
                    setattr(owner, method, wrapped)


def _restore() -> None:
    with _patch_lock:
        for (owner, method), original in _originals.items():
            setattr(owner, method, original)
        _originals.clear()


def _wrapped_attribute(attribute: Any, method: str) -> Any:
    """The class attribute with its function wrapped, or None when it is neither a function
    nor a descriptor holding one (scikit-learn's ``available_if``, which must keep hiding the
    method when the last step lacks it)."""
    if inspect.isfunction(attribute):
        return _logging_fit(attribute, method)
    function = getattr(attribute, "fn", None)
    if inspect.isfunction(function) and hasattr(type(attribute), "__get__"):
        descriptor = copy.copy(attribute)
        descriptor.fn = _logging_fit(function, method)
        return descriptor
    return None


def _logging_fit(fit: Callable[..., Any], method: str) -> Callable[..., Any]:
    @functools.wraps(fit)
    def fit_and_log(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _inside_a_logged_fit() or not settings_of(INTEGRATION).enabled:
            return fit(self, *args, **kwargs)
        _count_open_fits(+1)
        try:
            with logging_call(INTEGRATION):  # the fits this one makes are part of it, not runs
                return _fit_in_run(fit, self, args, kwargs)
        finally:
            _count_open_fits(-1)

    fit_and_log.cairn_autolog = True  # type: ignore[attr-defined]  # how tests and people tell
    return fit_and_log


def _inside_a_logged_fit() -> bool:
    if current_logging_call() is not None:  # this fit is part of a logged call (ours or a booster's)
        return True
    # joblib's threading backend fits a search's candidates on pool threads, where this
    # thread's flag is not set: while a logged fit is under way, a fit on a thread other than
    # the main one is taken for one of its parts. (Two models trained at once on two threads
    # of one's own: only the first is logged.)
    return _open_fits > 0 and threading.current_thread() is not threading.main_thread()


def _count_open_fits(change: int) -> None:
    global _open_fits
    with _patch_lock:
        _open_fits += change


def _fit_in_run(fit: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
    guard = Guard.of(INTEGRATION)
    with training_run(INTEGRATION) as run:
        if run is None:
            return fit(estimator, *args, **kwargs)
        guard.call(_log_before_fit, run, estimator)  # a fit that crashes still shows its params
        result = fit(estimator, *args, **kwargs)
        log_model = settings_of(INTEGRATION).log_models
        guard.call(_log_after_fit, run, estimator, X, y, kwargs.get("sample_weight"), log_model)
        return result


def _prepare_model_logging() -> None:
    """Pay now, at ``autolog()``, what the first logged model of the process would pay inside
    a training call: importing skops (which lists every scikit-learn estimator), scanning the
    installed model flavors, and finding which packages the model's requirements pin."""
    import skops.io  # noqa: F401

    from cairn.client.models.plugins import flavor_targets, get_flavor
    from cairn.client.models.requirements import pinned_requirements

    flavor_targets()
    get_flavor("sklearn")
    pinned_requirements(["sklearn", "numpy", "skops", "cloudpickle", "scipy"])


# -- what a fit logs ---------------------------------------------------------------------


def _log_before_fit(run: Run, estimator: Any) -> None:
    cls = type(estimator)
    run.set_tags({"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__qualname__}"})
    log_new_params(run, estimator_params(estimator))


def _log_after_fit(run: Run, estimator: Any, X: Any, y: Any, sample_weight: Any, log_model: bool) -> None:
    """Each part on its own, so that one failing (a model that cannot be packaged, a store
    that refuses the dataset) leaves the others logged; the first failure is the warning."""
    guard = Guard.of(INTEGRATION)
    search = hasattr(estimator, "cv_results_")
    model = getattr(estimator, "best_estimator_", None) if search else estimator
    # Sent in the background like the rest (cairn.flush() waits for it): the fit returns as
    # soon as the model is packaged.
    if log_model and model is not None and hasattr(model, "predict"):
        guard.call(run.log_model, model, MODEL_NAME, input_example=_first_rows(X), wait=False)
    classifier = _is_classifier(estimator)
    predicted = None
    if y is not None and X is not None and (classifier or _is_regressor(estimator)):
        predicted = _attempt(lambda: estimator.predict(X))
    metrics = training_metrics(estimator, X, y, predicted, sample_weight)
    if search:
        best_params = {f"best_{key}": value for key, value in search_best_params(estimator).items()}
        guard.call(log_new_params, run, best_params)
        best_score = getattr(estimator, "best_score_", None)
        if isinstance(best_score, int | float | np.number):
            metrics["best_cv_score"] = float(best_score)
    if metrics:
        guard.call(run.log, metrics)
    labels = getattr(estimator, "classes_", None)
    if classifier and predicted is not None and labels is not None and np.ndim(y) == 1:
        guard.call(_log_confusion_matrix, run, y, predicted, labels)
    frame = guard.call(training_frame, X, y) if settings_of(INTEGRATION).log_datasets else None
    if frame is not None:
        guard.call(run.log_dataset, frame, "train", context="train")
    if search:
        guard.call(lambda: run.log_child_runs(search_candidates(estimator, run.name)))


def _log_confusion_matrix(run: Run, y: Any, predicted: Any, labels: Any) -> None:
    run.log_confusion_matrix(_as_list(y), _as_list(predicted), labels=_as_list(labels), name=CONFUSION_MATRIX)


def estimator_params(estimator: Any) -> dict[str, ParamValue]:
    """``get_params(deep=True)`` as loggable params; keys a param cannot have are left out."""
    try:
        raw = estimator.get_params(deep=True)
    except Exception:  # a third-party estimator with a broken get_params still trains
        return {}
    return loggable_params(raw)


def search_best_params(search: Any) -> dict[str, ParamValue]:
    best = getattr(search, "best_params_", None)
    return loggable_params(best) if isinstance(best, Mapping) else {}


def training_metrics(
    estimator: Any,
    X: Any,
    y: Any,
    predicted: Any = None,
    sample_weight: Any = None,
) -> dict[str, float]:
    """MLflow's training metrics for the fitted ``estimator`` on its training data, given its
    predictions there; each one that cannot be computed (no ``y``, a multi-output target, a
    search without refit) is left out."""
    if y is None or X is None:
        return {}
    from sklearn import metrics as sk

    weights = {"sample_weight": sample_weight}
    scores: dict[str, Callable[[], float]] = {"training_score": lambda: estimator.score(X, y, **_given(weights))}
    if predicted is not None:
        if _is_classifier(estimator):
            weighted = {"average": "weighted", "zero_division": 0, "sample_weight": sample_weight}
            scores["training_accuracy_score"] = lambda: sk.accuracy_score(y, predicted, sample_weight=sample_weight)
            scores["training_precision_score"] = lambda: sk.precision_score(y, predicted, **weighted)
            scores["training_recall_score"] = lambda: sk.recall_score(y, predicted, **weighted)
            scores["training_f1_score"] = lambda: sk.f1_score(y, predicted, **weighted)
        else:
            mse = _attempt(lambda: sk.mean_squared_error(y, predicted, sample_weight=sample_weight))
            scores["training_mean_squared_error"] = lambda: mse
            scores["training_root_mean_squared_error"] = lambda: math.sqrt(mse)
            scores["training_mean_absolute_error"] = lambda: sk.mean_absolute_error(
                y, predicted, sample_weight=sample_weight
            )
            scores["training_r2_score"] = lambda: sk.r2_score(y, predicted, sample_weight=sample_weight)
    values: dict[str, float] = {}
    for key, score in scores.items():
        value = _attempt(score)
        if isinstance(value, int | float | np.number) and not isinstance(value, bool):
            values[key] = float(value)
    return values


def search_candidates(search: Any, parent_name: str) -> list[ChildRun]:
    """One finished child run per candidate of a fitted search, the best tagged."""
    results: Mapping[str, Any] = search.cv_results_
    candidates = list(results.get("params", []))
    best = getattr(search, "best_index_", None)
    scores = {key: column for key, column in results.items() if _is_score_column(key, column)}
    prefix = parent_name[: limits.MAX_NAME_LENGTH - 12]  # room for "-<index>"
    children = []
    for index, params in enumerate(candidates):
        metrics = {}
        for key, column in scores.items():
            value = _number_at(column, index)
            if value is not None:
                metrics[key] = value
        tags = {"cairn.autolog": INTEGRATION, "cairn.candidate": str(index)}
        if best is not None and index == best:
            tags[BEST_TAG] = "true"
        children.append(ChildRun(f"{prefix}-{index}", params=loggable_params(params), metrics=metrics, tags=tags))
    return children


def _number_at(column: Any, index: int) -> float | None:
    try:
        return float(column[index])
    except (TypeError, ValueError, IndexError):
        return None


def _is_score_column(key: str, column: Any) -> bool:
    """The columns of ``cv_results_`` a candidate's run shows: mean, std and rank of each
    score and time, and a successive-halving search's round and resources."""
    if not (key.startswith(("mean_", "std_", "rank_")) or key in ("iter", "n_resources")):
        return False
    return np.issubdtype(np.asarray(column).dtype, np.number)


def training_frame(X: Any, y: Any) -> Any:
    """The training data as a DataFrame (the features, then the target when it is one column
    of the same length), or None for what a table cannot hold (sparse matrices)."""
    import pandas as pd

    if X is None or hasattr(X, "tocsr") or hasattr(X, "sparse"):
        return None
    if isinstance(X, pd.DataFrame):
        frame = X.copy(deep=False)
    else:
        array = np.asarray(X)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2:
            return None
        frame = pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])
    frame.columns = [str(column) for column in frame.columns]
    if y is not None and np.ndim(y) == 1 and len(y) == len(frame):
        target = "target" if "target" not in frame.columns else "__target__"
        frame[target] = np.asarray(y)
    return frame


def _first_rows(X: Any) -> Any:
    if X is None or hasattr(X, "tocsr"):
        return None
    if hasattr(X, "iloc"):
        return X.iloc[:EXAMPLE_ROWS]
    try:
        return X[:EXAMPLE_ROWS]
    except Exception:
        return None


def _is_classifier(estimator: Any) -> bool:
    from sklearn.base import is_classifier

    return bool(_attempt(lambda: is_classifier(estimator)))


def _is_regressor(estimator: Any) -> bool:
    from sklearn.base import is_regressor

    return bool(_attempt(lambda: is_regressor(estimator)))


def _attempt(compute: Callable[[], Any]) -> Any:
    """``compute()``, or None when it fails: a metric that does not apply is not an error."""
    try:
        return compute()
    except Exception:
        return None


def _given(options: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if value is not None}


def _as_list(values: Any) -> list[Any]:
    return [value.item() if isinstance(value, np.generic) else value for value in np.asarray(values).tolist()]
