"""What the XGBoost and LightGBM integrations share: one log of a boosting run.

A :class:`BoostingLog` is what either library's ``CairnCallback`` does, fed by that library's
callback hooks: the params at the start; each iteration's evaluation results as metrics named
``<evalset>-<metric>`` at step = iteration, in one ``run.log`` call (enqueued only: the
background writer sends them); and at the end the early-stopping results, the feature
importances (a table and a bar chart per importance type), the booster as the model at
``runs:/RUN/model`` and the training data as dataset ``train``.

Inside another integration's logged call (a scikit-learn ``fit`` of an ``XGBClassifier``,
which calls ``xgboost.train``) the log is *curves only*: the iterations and the
early-stopping results go into the outer call's run, which logs params, model and data itself.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cairn.client.run import Run
from cairn.core.models.signature import ColumnSchema, ColumnSpec, Signature, TensorSchema
from cairn.integrations._base import (
    MODEL_NAME,
    Guard,
    active_run,
    current_logging_call,
    log_new_params,
    logging_call,
    prepare_connection,
    settings_of,
    training_run,
)
from cairn.integrations._params import loggable_params

#: Rows of the training data saved with the model as its input example.
EXAMPLE_ROWS = 5
#: Features a feature-importance chart shows (the most important first); the table has all.
CHART_FEATURES = 20
#: Training data larger than this many cells is not turned into a table to be digested.
MAX_DATASET_CELLS = 20_000_000


@dataclass
class Ending:
    """What a library hands over when its training ends."""

    booster: Any
    #: The library's own best iteration (XGBoost: 0-based; LightGBM: 1-based, 0 for none).
    best_iteration: int | None = None
    #: The step of :attr:`best_iteration` among the logged ones.
    best_step: int | None = None
    importances: dict[str, dict[str, float]] = field(default_factory=dict)  # type -> feature -> value
    signature: Signature | None = None
    input_example: Any = None
    training_data: Callable[[], Any] | None = None  # a DataFrame (features and target), or None


class BoostingLog:
    """One training call's log; every method is guarded: logging never stops training."""

    def __init__(
        self,
        integration: str,
        run: Run | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        log_model: bool = True,
        curves_only: bool = False,
    ) -> None:
        self.integration = integration
        self.guard = Guard.of(integration)
        self.run = run
        self.params = params
        self.log_model = log_model
        self.curves_only = curves_only
        self.history: dict[int, dict[str, float]] = {}  # step -> values, for the best step's
        self.last_step: int | None = None
        self.ended = False
        self._own: contextlib.AbstractContextManager[Run | None] | None = None
        self._started = False

    # -- the three moments ---------------------------------------------------------------

    def start(self, params: Mapping[str, Any] | None = None) -> None:
        """Find the run (the given one, else the open one, else a new one) and log the params."""
        if self._started:
            return
        self._started = True
        self.guard.call(self._start, params if self.params is None else self.params)

    def iteration(self, step: int, values: dict[str, float]) -> None:
        """One iteration's evaluation results, enqueued in one call."""
        if not values or self.run is None:
            return
        self.history[step] = values
        self.last_step = step
        try:
            self.run.log(values, step=step)
        except Exception as exc:  # logging must never stop training
            self.guard.report(exc)

    def end(self, ending: Callable[[], Ending]) -> None:
        """The end of training: ``ending`` is called only when there is a run to log into."""
        if self.ended:
            return
        self.ended = True
        if self.run is not None:
            found = self.guard.call(ending)
            if found is not None:
                self._log_ending(found)
        own, self._own = self._own, None
        if own is not None:
            self.guard.call(own.__exit__, None, None, None)

    # -- the parts ---------------------------------------------------------------------------

    def _start(self, params: Mapping[str, Any] | None) -> None:
        if self.run is None:
            self.run = active_run()
        if self.run is None and not self.curves_only:
            # A callback given to a training call outside any run: it opens one, as autolog
            # would, and finishes it at the end of training.
            self._own = training_run(self.integration)
            self.run = self._own.__enter__()
        if self.run is not None and params and not self.curves_only:
            log_new_params(self.run, loggable_params(params))

    def _log_ending(self, ending: Ending) -> None:
        run, guard = self.run, self.guard
        assert run is not None
        if not self.curves_only and self.log_model:  # sent in the background (cairn.flush waits)
            guard.call(
                run.log_model,
                ending.booster,
                MODEL_NAME,
                input_example=ending.input_example,
                signature=None if ending.input_example is not None else ending.signature,
                wait=False,
            )
        guard.call(self._log_best, ending)
        if self.curves_only:
            return
        for index, (kind, importance) in enumerate(ending.importances.items()):
            # One chart, of the first type: drawn when the run closes, each still costs 0.1 to
            # 0.4 s of the background thread before the run is marked ended.
            guard.call(log_importance, self.integration, run, kind, importance, chart=index == 0)
        if ending.training_data is not None and settings_of(self.integration).log_datasets:
            frame = guard.call(ending.training_data)
            if frame is not None:
                guard.call(run.log_dataset, frame, "train", context="train")

    def _log_best(self, ending: Ending) -> None:
        """MLflow's ``best_iteration`` and ``stopped_iteration`` metrics, and the evaluation
        results at the best iteration as ``best/<evalset>-<metric>``: only when early stopping
        (or a booster that keeps its best iteration) says which one was best."""
        if ending.best_iteration is None or self.run is None or self.last_step is None:
            return
        metrics: dict[str, float] = {
            "best_iteration": float(ending.best_iteration),
            "stopped_iteration": float(self.last_step),
        }
        for key, value in self.history.get(ending.best_step if ending.best_step is not None else -1, {}).items():
            metrics[f"best/{key}"] = value  # a chart group of their own, after the curves
        self.run.log(metrics, step=self.last_step)


def prepare(integration: str, flavor: str, packages: Sequence[str], log_models: bool) -> None:
    """Pay at ``autolog()`` what the first logged training would pay inside the call: the
    connection, matplotlib's import for the importance charts (0.3 to 1.5 s), and for the
    model the flavor scan and the pinned requirements."""
    guard = Guard.of(integration)
    guard.call(prepare_connection)
    guard.call(_prepare_charts)
    if log_models:
        guard.call(_prepare_model_logging, flavor, packages)


def _prepare_charts() -> None:
    import matplotlib.backends.backend_agg  # what savefig draws a PNG with
    import matplotlib.figure  # noqa: F401


def _prepare_model_logging(flavor: str, packages: Sequence[str]) -> None:
    from cairn.client.models.plugins import flavor_targets, get_flavor
    from cairn.client.models.requirements import pinned_requirements

    flavor_targets()
    get_flavor(flavor)
    pinned_requirements(list(packages))


def log_importance(
    integration: str, run: Run, kind: str, importance: Mapping[str, float], *, chart: bool = True
) -> None:
    """``feature_importance_<kind>``: a table (feature, importance; most important first) and,
    with ``chart``, a horizontal bar chart of the :data:`CHART_FEATURES` most important."""
    ranked = sorted(importance.items(), key=lambda item: (-item[1], item[0]))
    run.log_table(
        [{"feature": name, "importance": float(value)} for name, value in ranked],
        f"feature_importance_{kind}",
        columns=["feature", "importance"],
    )
    if chart and ranked:
        # Drawn when the run closes, on the background thread that finishes it: drawing and
        # encoding the PNG is most of what logging would otherwise add to the training call.
        run._log_encoded_at_close(
            lambda: Guard.of(integration).call(_importance_png, ranked, kind), f"feature_importance_{kind}.png"
        )


def _importance_png(ranked: Sequence[tuple[str, float]], kind: str) -> Any:
    from cairn.client.artifact_formats import encode_figure

    return encode_figure(importance_figure(ranked[:CHART_FEATURES], kind))


def importance_figure(ranked: Sequence[tuple[str, float]], kind: str) -> Any:
    """A bar chart drawn on a bare matplotlib ``Figure``: no pyplot, so no backend is chosen
    or changed in the user's process and nothing stays open."""
    if not ranked:
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, max(1.6, 0.28 * len(ranked) + 0.8)))
    axes = figure.add_subplot()
    names = [name for name, _ in reversed(ranked)]
    axes.barh(range(len(names)), [value for _, value in reversed(ranked)], color="#4c72b0")
    axes.set_yticks(range(len(names)), names, fontsize=8)
    axes.set_xlabel(f"importance ({kind})")
    axes.set_title(f"Feature importance: {kind}")
    return figure  # no tight_layout: the PNG is cut to its content (bbox_inches="tight") anyway


def tensor_signature(columns: int, names: Sequence[str] | None = None) -> Signature | None:
    """A model's input when only its width (and feature names) are known: float64 columns
    by name, else a float64 tensor; every integer and float input widens to it."""
    if columns <= 0:
        return None
    if names and len(names) == columns and len(set(names)) == columns:
        return Signature(ColumnSchema(tuple(ColumnSpec(str(name), "double") for name in names)))
    return Signature(TensorSchema("float64", (-1, columns)))


def first_rows(data: Any) -> Any:
    """The first rows of a dense array or DataFrame, else None (sparse matrices, files)."""
    if data is None or hasattr(data, "tocsr") or isinstance(data, str | bytes):
        return None
    if hasattr(data, "iloc"):
        return data.iloc[:EXAMPLE_ROWS]
    if hasattr(data, "shape") and len(getattr(data, "shape", ())) == 2 and hasattr(data, "__getitem__"):
        return data[:EXAMPLE_ROWS]
    return None


def training_data(data: Any, label: Any) -> Any:
    """The training data as one DataFrame (features, then the target), or None when it is
    not a dense table or is too large to digest at the end of training."""
    from cairn.integrations.sklearn import training_frame

    shape = getattr(data, "shape", None)
    if shape is None or len(shape) != 2 or math.prod(shape) > MAX_DATASET_CELLS:
        return None
    if label is not None and hasattr(label, "to_numpy"):
        label = label.to_numpy()
    return training_frame(data, label)


class TrainPatch:
    """The ``train`` function of a booster library's modules, replaced by a logging one and
    put back: the sklearn wrappers import ``train`` by name, so each module is patched."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = tuple(modules)
        self._originals: dict[str, Callable[..., Any]] = {}  # module -> its train, as it was
        self._lock = threading.Lock()

    def apply(self, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        """Replace each module's ``train`` by ``wrap(train)``, once (a second call keeps it)."""
        with self._lock:
            for name in self.modules:
                module = importlib.import_module(name)
                current = getattr(module, "train", None)
                if name in self._originals or current is None or getattr(current, "cairn_autolog", False):
                    continue
                self._originals[name] = current
                module.train = wrap(current)  # type: ignore[attr-defined]

    def restore(self) -> None:
        with self._lock:
            for name, original in self._originals.items():
                importlib.import_module(name).train = original  # type: ignore[attr-defined]
            self._originals.clear()


def with_callback(bound: inspect.BoundArguments, callback: Any) -> dict[str, Any]:
    """The bound arguments of a ``train`` call with ``callback`` added after the caller's own."""
    arguments = dict(bound.arguments)
    arguments["callbacks"] = [*(arguments.get("callbacks") or ()), callback]
    return arguments


def logging_train(
    integration: str,
    train: Callable[..., Any],
    *,
    params_of: Callable[[inspect.BoundArguments], dict[str, Any]],
    callback_for: Callable[..., Any],
    finish_after_train: bool,
) -> Callable[..., Any]:
    """``train``, logging each call autolog covers.

    A call is logged into a run of its own (``training_run``), with the params ``params_of``
    reads from its arguments and the callback ``callback_for(arguments, run, params=…,
    log_model=…, curves_only=…)`` makes; inside another integration's logged call (scikit-learn's ``fit``
    of a wrapper) the callback adds only the curves to that call's run. A library that does
    not tell callbacks that training ended (LightGBM) has ``finish_after_train``: the
    callback's ``finish(booster)`` is called once ``train`` returns.
    """
    signature = inspect.signature(train)

    def run_with(bound: inspect.BoundArguments, callback: Any) -> Any:
        booster = train(**with_callback(bound, callback))
        if finish_after_train:
            callback.finish(booster)
        return booster

    @functools.wraps(train)
    def train_and_log(*args: Any, **kwargs: Any) -> Any:
        outer = current_logging_call()
        if outer == integration or not settings_of(integration).enabled:
            return train(*args, **kwargs)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:  # let the library say what is wrong with the call
            return train(*args, **kwargs)
        if outer is not None:  # inside a logged scikit-learn fit: its run gets the curves
            return run_with(bound, callback_for(bound, active_run(), params=None, log_model=False, curves_only=True))
        with logging_call(integration), training_run(integration) as run:
            if run is None:
                return train(*args, **kwargs)
            log_model = settings_of(integration).log_models
            return run_with(
                bound, callback_for(bound, run, params=params_of(bound), log_model=log_model, curves_only=False)
            )

    train_and_log.cairn_autolog = True  # type: ignore[attr-defined]
    return train_and_log
