"""Keras 3: ``cairn.keras.autolog()`` makes every ``Model.fit`` a run; ``CairnCallback`` logs
one fit a script passes it to.

Keras picks its backend when it is first imported: set ``KERAS_BACKEND`` (``torch``, ``jax``,
``tensorflow``) before importing Keras, or this module, which imports it. Each logged fit
records, in the run :func:`training_run` gives it (the autologged fit) or the callback finds
(the open run, else one it starts at ``on_train_begin`` and finishes at ``on_train_end``):

- params at the start: ``epochs``, ``steps_per_epoch`` (when Keras knows it), ``batch_size``
  (the one given to ``fit``; Keras's default 32 for arrays), ``num_params``
  (``model.count_params()``) and the optimizer's config as ``optimizer_<key>``
  (``optimizer_name``, ``optimizer_learning_rate``, ``optimizer_beta_1`` …): MLflow's names;
- at the end of each epoch, with ``step=epoch`` (from 0): every number in Keras's logs under
  Keras's own names (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` …) and
  ``learning_rate``;
- with ``log_every_n_batches=N``, every N-th training batch: Keras's running values of the
  epoch so far as ``batch/<name>`` with the number of batches trained as the step (counted
  across epochs), and ``batch/learning_rate`` when a schedule changes it. Off by default, as
  in MLflow and W&B: the callback then has no batch hook at all, which also leaves Keras free
  to run other callbacks' batch hooks off the training thread;
- at the end, the trained model at ``runs:/RUN/model`` in the ``keras`` flavor, with the first
  rows of ``x`` (when it is an array or a data frame) as input example and a signature from
  the model's prediction on them;
- with ``autolog()``, also at the end, the data ``fit`` was given as arrays (numpy arrays,
  torch tensors, data frames, or a dict or list of them as several inputs) as the run's
  dataset inputs: ``x`` and ``y`` as dataset ``train`` (context ``train``), ``validation_data``
  as dataset ``eval`` (context ``eval``), each digested once. With ``validation_split`` the
  ``train`` dataset is all of ``x`` as given, the held-out rows included, and the split is
  logged as the param ``validation_split``. A generator, a ``tf.data.Dataset`` or a
  ``PyDataset`` is not logged. ``CairnCallback`` alone logs no data: Keras does not show
  callbacks what ``fit`` was given.

A second fit into one open run adds the params it does not hold yet (params are immutable)
and logs its epochs at steps from 0 again.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any

from cairn.client.run import Run
from cairn.core.entities import ParamValue
from cairn.core.models.signature import infer_signature
from cairn.integrations._base import (
    MODEL_NAME,
    Guard,
    configure,
    in_memory_arrays,
    log_new_params,
    settings_of,
    training_run,
)
from cairn.integrations._params import loggable_params

# Imported by name: Keras ships no type information (so mypy sees Any either way).
keras: Any = importlib.import_module("keras")

INTEGRATION = "keras"
#: Rows of the training data saved with the model: enough to show its input, cheap to store.
EXAMPLE_ROWS = 5
#: What Keras uses when ``fit`` is given arrays and no batch size.
KERAS_DEFAULT_BATCH_SIZE = 32
#: Prefix of the per-batch metrics, apart from the per-epoch ones of the same names.
BATCH_PREFIX = "batch/"

_state_lock = threading.Lock()
_original_fit: dict[str, Any] = {}  # "fit" -> keras.Model's own attribute (absent: inherited)
_fitting = threading.local()  # .active: this thread is inside a logged fit
_every_n_batches: int | None = None


class CairnCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Logs one ``fit`` (see the module's docstring for what) into ``run``, else the open run,
    else a run started when training starts and finished when it ends::

        model.fit(x, y, epochs=10, callbacks=[cairn.keras.CairnCallback()])

    ``input_example`` (a few training rows) gives the logged model an input example and a
    signature; ``batch_size`` is logged as a param when given. A fit that raises never reaches
    ``on_train_end``: the run it started is closed as failed by the next fit of this callback,
    or at exit (use ``autolog()``, which wraps ``fit``, to have it failed at once).
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        log_models: bool = True,
        log_every_n_batches: int | None = None,
        input_example: Any = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__()
        if log_every_n_batches is not None and log_every_n_batches < 1:
            raise ValueError(f"log_every_n_batches must be 1 or more, or None, not {log_every_n_batches}")
        self.log_models = log_models
        self.log_every_n_batches = log_every_n_batches
        self.input_example = input_example
        self.batch_size = batch_size
        self._given = run
        self._run: Run | None = None
        self._owned: contextlib.ExitStack | None = None
        self._batches = 0
        self._guard = Guard.of(INTEGRATION)
        #: (arrays, dataset name) of the fit under way, handed over by the autologged fit.
        self._fit_data: list[tuple[dict[str, Any], str]] = []
        if log_every_n_batches is None:
            # No batch hook at all: Keras then sees none and keeps calling the other callbacks'
            # batch hooks on its thread pool (torch, JAX), and this one costs nothing per batch.
            self.on_train_batch_end = keras.callbacks.Callback.on_train_batch_end.__get__(self)  # type: ignore[method-assign]

    # -- Keras's hooks: each guarded, none may stop training ------------------------------------

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._guard.call(self._begin)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self._run is not None:
            self._guard.call(self._log_epoch, epoch, logs)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._batches += 1
        every = self.log_every_n_batches
        if every is not None and self._run is not None and self._batches % every == 0:
            self._guard.call(self._log_batch, logs)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        try:
            run = self._run
            if run is not None and self.log_models:
                self._guard.call(self._log_model)
            if run is not None:
                for arrays, name in self._fit_data:
                    self._guard.call(run.log_dataset, arrays, name, context=name)
        finally:
            self._close(None)

    # -- what they log ----------------------------------------------------------------------------

    def _begin(self) -> None:
        self._close(RuntimeError("the fit raised before it ended"))  # a fit that never reached on_train_end
        self._batches = 0
        run = self._given
        if run is None:
            stack = contextlib.ExitStack()
            run = stack.enter_context(training_run(INTEGRATION))
            self._owned = stack
        self._run = run
        if run is not None:
            log_new_params(run, self._params())

    def _params(self) -> dict[str, ParamValue]:
        params: dict[str, Any] = {"epochs": self.params.get("epochs")}
        if self.params.get("steps") is not None:
            params["steps_per_epoch"] = self.params["steps"]
        if self.batch_size is not None:
            params["batch_size"] = self.batch_size
        params["num_params"] = self.model.count_params()
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            params.update({f"optimizer_{key}": value for key, value in optimizer.get_config().items()})
        return loggable_params(params)

    def _log_epoch(self, epoch: int, logs: Mapping[str, Any] | None) -> None:
        assert self._run is not None
        values = _numbers(logs)
        if "learning_rate" not in values:
            rate = _learning_rate(self.model)
            if rate is not None:
                values["learning_rate"] = rate
        if values:
            self._run.log(values, step=epoch)

    def _log_batch(self, logs: Mapping[str, Any] | None) -> None:
        assert self._run is not None
        values = {BATCH_PREFIX + key: value for key, value in _numbers(logs).items()}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and callable(getattr(optimizer, "_learning_rate", None)):  # a schedule
            rate = _learning_rate(self.model)
            if rate is not None:
                values[BATCH_PREFIX + "learning_rate"] = rate
        if values:
            self._run.log(values, step=self._batches)

    def _log_model(self) -> None:
        assert self._run is not None
        example = self.input_example
        signature = None
        if example is not None:
            # Predicted here without Keras's progress bar (the packaging would print one).
            signature = infer_signature(example, self.model.predict(example, verbose=0))
        self._run.log_model(
            self.model, MODEL_NAME, input_example=example, signature=signature, flavor="keras", wait=False
        )

    def _close(self, error: BaseException | None) -> None:
        """End the run this callback started, if any: finished, or failed when ``error``."""
        stack, self._owned = self._owned, None
        self._run = None
        if stack is None:
            return
        if error is None:
            self._guard.call(stack.close)
        else:
            self._guard.call(stack.__exit__, type(error), error, None)


def autolog(
    project: str | None = None,
    *,
    log_models: bool = True,
    disable: bool = False,
    log_every_n_batches: int | None = None,
    log_datasets: bool = True,
) -> None:
    """Log every ``keras.Model.fit`` from now on (see the module's docstring for what), into
    the open run if there is one, else into a new run per fit in ``project`` (else
    ``CAIRN_PROJECT``, else the script's folder name); a fit that raises leaves its run
    ``failed``. ``log_models=False`` leaves the model out, ``log_datasets=False`` the data;
    ``log_every_n_batches=N`` adds per-batch curves; ``disable=True`` puts Keras's own
    ``fit`` back."""
    global _every_n_batches
    if disable:
        configure(INTEGRATION, enabled=False)
        _restore()
        return
    if log_every_n_batches is not None and log_every_n_batches < 1:
        raise ValueError(f"log_every_n_batches must be 1 or more, or None, not {log_every_n_batches}")
    configure(INTEGRATION, enabled=True, project=project, log_models=log_models, log_datasets=log_datasets)
    _every_n_batches = log_every_n_batches
    _patch()
    Guard.of(INTEGRATION).call(_prepare_connection)
    if log_models:
        Guard.of(INTEGRATION).call(_prepare_model_logging)


# -- patching --------------------------------------------------------------------------------


def _patch() -> None:
    with _state_lock:
        if "fit" in _original_fit:
            return
        _original_fit["fit"] = vars(keras.Model).get("fit")  # None: fit comes from the backend's trainer
        keras.Model.fit = _logging_fit(keras.Model.fit)


def _restore() -> None:
    with _state_lock:
        if "fit" not in _original_fit:
            return
        original = _original_fit.pop("fit")
        if original is None:
            del keras.Model.fit
        else:
            keras.Model.fit = original


def _logging_fit(fit: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(fit)

    @functools.wraps(fit)
    def fit_and_log(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_fitting, "active", False) or not settings_of(INTEGRATION).enabled:
            return fit(self, *args, **kwargs)
        _fitting.active = True  # a fit inside this one (a subclass calling super().fit) is part of it
        try:
            return _fit_in_run(fit, signature, self, args, kwargs)
        finally:
            _fitting.active = False

    fit_and_log.cairn_autolog = True  # type: ignore[attr-defined]  # how tests and people tell
    return fit_and_log


def _fit_in_run(
    fit: Callable[..., Any], signature: inspect.Signature, model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    with training_run(INTEGRATION) as run:
        if run is None:
            return fit(model, *args, **kwargs)
        try:
            bound = signature.bind(model, *args, **kwargs)
        except TypeError:  # Keras will say what is wrong with the call
            return fit(model, *args, **kwargs)
        guard = Guard.of(INTEGRATION)
        callbacks = bound.arguments.get("callbacks")
        callbacks = list(callbacks) if isinstance(callbacks, list | tuple) else []
        callback = next((found for found in callbacks if isinstance(found, CairnCallback)), None)
        if callback is None:
            x = bound.arguments.get("x")
            callback = guard.call(
                CairnCallback,
                run,
                log_models=settings_of(INTEGRATION).log_models,
                log_every_n_batches=_every_n_batches,
                input_example=guard.call(_first_rows, x),
                batch_size=_batch_size(bound.arguments.get("batch_size"), x),
            )
            if callback is not None:
                bound.arguments["callbacks"] = [*callbacks, callback]
        split = bound.arguments.get("validation_split")
        if isinstance(split, int | float) and split > 0:  # the train dataset holds these rows too
            guard.call(log_new_params, run, {"validation_split": float(split)})
        if callback is None or not settings_of(INTEGRATION).log_datasets:
            return fit(*bound.args, **bound.kwargs)
        # Only found here; digested by the callback once the fit has ended.
        callback._fit_data = guard.call(_fit_data, bound.arguments) or []
        try:
            return fit(*bound.args, **bound.kwargs)
        finally:
            callback._fit_data = []


def _prepare_connection() -> None:
    """Build, now, what the first run's connection needs (the HTTP client, or the embedded
    store): time the first fit would otherwise spend. Nothing is sent."""
    from cairn.client.connect import connect

    connect().close()


def _prepare_model_logging() -> None:
    """Pay now, at ``autolog()``, what the first logged model would pay inside a training
    call: scanning the installed flavors and finding which packages the model's requirements
    pin."""
    from cairn.client.models.flavors.keras import BACKEND_MODULES
    from cairn.client.models.plugins import flavor_targets, get_flavor
    from cairn.client.models.requirements import pinned_requirements

    flavor_targets()
    get_flavor("keras")
    backend = keras.backend.backend()
    pinned_requirements(["keras", "numpy", BACKEND_MODULES.get(backend, backend)])


# -- helpers ---------------------------------------------------------------------------------


def _numbers(logs: Mapping[str, Any] | None) -> dict[str, float]:
    values: dict[str, float] = {}
    for key, value in (logs or {}).items():
        if isinstance(value, bool):
            continue
        try:
            values[str(key)] = float(value)
        except (TypeError, ValueError):  # a tensor of several values, a string
            continue
    return values


def _learning_rate(model: Any) -> float | None:
    optimizer = getattr(model, "optimizer", None)
    try:
        return float(optimizer.learning_rate) if optimizer is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


def _first_rows(x: Any) -> Any:
    """The first rows of ``x`` when it is one array, tensor or data frame; else None (a
    dataset, a generator, several inputs: no example)."""
    if hasattr(x, "iloc"):
        return x.iloc[:EXAMPLE_ROWS]
    if hasattr(x, "detach"):  # a torch tensor
        return x[:EXAMPLE_ROWS].detach().cpu().numpy()
    if hasattr(x, "shape") and hasattr(x, "dtype") and len(x.shape) >= 1:
        return x[:EXAMPLE_ROWS]
    return None


def _fit_data(arguments: Mapping[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The arrays a fit was given, as (named arrays, dataset name): ``train`` from ``x`` and
    ``y``, ``eval`` from ``validation_data``; none for data that is not arrays."""
    found = []
    train = _named_arrays(arguments.get("x"), arguments.get("y"))
    if train is not None:
        found.append((train, "train"))
    validation = arguments.get("validation_data")
    if isinstance(validation, tuple | list) and 1 <= len(validation) <= 3:  # (x, y, sample weights)
        evaluation = _named_arrays(*validation[:2])
        if evaluation is not None:
            found.append((evaluation, "eval"))
    return found


def _named_arrays(x: Any, y: Any = None) -> dict[str, Any] | None:
    """``x`` and ``y`` as ``{"x": …, "y": …}`` (no ``y`` when None); a model of several inputs
    or outputs given a dict or list of arrays has them as ``x.<name>`` or ``x.<index>``."""
    if x is None:
        return None
    named: dict[str, Any] = {}
    for prefix, value in (("x", x), ("y", y)):
        if isinstance(value, Mapping):
            named.update({f"{prefix}.{key}": item for key, item in value.items()})
        elif isinstance(value, list | tuple):
            named.update({f"{prefix}.{index}": item for index, item in enumerate(value)})
        elif value is not None:
            named[prefix] = value
    return in_memory_arrays(named)


def _batch_size(given: Any, x: Any) -> int | None:
    if isinstance(given, int) and not isinstance(given, bool):
        return given
    if given is None and hasattr(x, "shape"):
        return KERAS_DEFAULT_BATCH_SIZE
    return None
