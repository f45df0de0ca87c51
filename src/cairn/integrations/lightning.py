"""PyTorch Lightning: ``CairnLogger``, a Lightning logger, and ``cairn.lightning.autolog()``,
which gives every ``Trainer`` one.

``Trainer(logger=CairnLogger())`` logs, into the run :func:`training_run` gives it (the run
``CairnLogger(run=...)`` names, else the open run of ``cairn.init``, else a new run in
``project``, else the autolog project, else ``CAIRN_PROJECT``, else the script's folder):

- params: the module's (and datamodule's) ``save_hyperparameters()``, nested dicts and
  Namespaces flattened to dotted keys (``optimizer.lr``), each value as every integration
  writes it (:func:`cairn.integrations._params.loggable`);
- metrics: whatever ``self.log`` logs, at the trainer's global step, one ``run.log`` call per
  logged step (queued for the background writer: the loop never waits);
- checkpoints: each file ``ModelCheckpoint`` saves, copied at once (Lightning may delete it
  later, when a better one replaces it) and kept as ``checkpoints/<file name>``; the best so
  far named by the tags ``best_model_path`` (the artifact's path), ``best_model_score`` and
  ``best_model_monitor``, its score also as the metric ``best_model_score``;
- at the end of ``fit``: the trained LightningModule at ``runs:/RUN/model`` in the pytorch
  flavor (TorchScript), with ``example_input_array`` as its input example and the signature
  from it when the module has one; and the data it trained on, when the trainer's dataloader
  reads a ``torch.utils.data.TensorDataset``: its tensors (``x`` and ``y`` when there are two,
  else ``0``, ``1`` …) as dataset ``train`` (context ``train``), the validation dataloader's
  as dataset ``eval`` (context ``eval``), each digested once. Other datasets (files read
  lazily, iterable datasets, several dataloaders) are not logged.

A run the logger started is finished when the trainer's call ends: ``finished``, or
``failed`` (``killed`` on Ctrl-C) when training raised. A run it was given, or found open, is
left open. Each ``fit``/``validate``/``test`` call of a trainer opens its own run. Errors
inside logging are one warning (:class:`Guard`): training never stops for them.

``CairnLogger`` is made on the ``Logger`` class of the installed Lightning the first time it
is used (``lightning.pytorch``, else the older ``pytorch_lightning``); ``logger_class(package)``
gives it for a given one. Nothing here imports Lightning before then.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from cairn.client.run import Run
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
from cairn.settings import default_project

INTEGRATION = "lightning"
#: The Lightning packages whose Trainer autologging gives a CairnLogger, newest first.
PACKAGES = ("lightning.pytorch", "pytorch_lightning")
#: Where a run keeps the checkpoints it was handed.
CHECKPOINTS = "checkpoints"
#: The trainer's dataloaders whose data a fit logs, and the dataset (and context) each is.
DATALOADERS = (("train_dataloader", "train"), ("val_dataloaders", "eval"))

log = logging.getLogger(__name__)

_originals: dict[type, Any] = {}  # Trainer class -> its own __init__, as it was
_patch_lock = threading.Lock()


class _CairnLogging:
    """A Lightning logger that logs into a Cairn run (see the module's docstring)::

        trainer = Trainer(logger=CairnLogger(project="iris"), max_epochs=5)

    ``run`` logs into a run the script holds (left open); ``project`` and ``name`` say
    where a run the logger starts goes and what it is called. ``log_model=False`` leaves the
    trained model out, ``log_checkpoints=False`` the checkpoints, ``log_datasets=False`` the
    training and validation data.
    """

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        *,
        run: Run | None = None,
        log_model: bool = True,
        log_checkpoints: bool = True,
        log_datasets: bool = True,
    ) -> None:
        super().__init__()
        self._project = project
        self._run_name = name
        self._given = run
        self._log_model = log_model
        self._log_checkpoints = log_checkpoints
        self._log_datasets = log_datasets
        self._last_run_id = ""
        self._reset()

    def _reset(self) -> None:
        self._run: Run | None = None
        self._opened: contextlib.AbstractContextManager[Run | None] | None = None  # a run of its own
        self._tried = False  # asked for a run in this trainer call (none may have been had)
        self._module: Any = None
        self._model_logged = False
        self._checkpoints: dict[str, str] = {}  # file saved -> its path in the run
        self._step = 0

    # -- what Lightning asks of a logger ----------------------------------------------------

    @property
    def name(self) -> str:
        """The project the runs go to."""
        if self._run is not None:
            return self._run.project
        return default_project(self._project or settings_of(INTEGRATION).project)

    @property
    def version(self) -> str:
        """The id of the run being logged, else of the last one ("" before any): checkpoints
        of one run share a folder. Asking starts no run (``experiment`` does)."""
        return self._run.id if self._run is not None else self._last_run_id

    def _experiment(self) -> Run | None:
        """The :class:`cairn.Run` being logged into (None when none could be started)."""
        return self._current_run()

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        run = self._current_run()
        if run is not None:
            Guard.of(INTEGRATION).call(log_new_params, run, loggable_params(flat_params(params)))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        # Every logged step comes here: a few microseconds, the metrics only queued.
        run = self._run if self._run is not None else self._current_run()
        if run is None:
            return
        if step is not None:
            self._step = step
        try:
            run.log(metrics, step)
        except Exception as exc:  # logging must never stop training
            Guard.of(INTEGRATION).report(exc)

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        # Lightning hands every logger the module here when a trainer call starts: the one
        # to log as the model at the end of fit.
        self._module = model

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        run = self._current_run()
        if run is not None and self._log_checkpoints:
            Guard.of(INTEGRATION).call(self._log_checkpoint, run, checkpoint_callback)

    def finalize(self, status: str) -> None:
        """End of a trainer call: the model and the data after a fit that succeeded, then the
        run's end when the logger started the run."""
        run, opened = self._run, self._opened
        try:
            if run is not None and status == "success" and self._fitted():
                if self._log_model:
                    Guard.of(INTEGRATION).call(self._log_trained_model, run)
                if self._log_datasets:
                    Guard.of(INTEGRATION).call(self._log_fit_data, run)
        finally:
            self._reset()
            if opened is not None:
                _close(opened, status)

    def __getstate__(self) -> dict[str, Any]:
        # A run holds threads and connections: a logger copied to another process (spawned
        # workers) starts its own there.
        state = dict(self.__dict__)
        state.update(_run=None, _opened=None, _tried=False, _module=None)
        return state

    # -- the run ----------------------------------------------------------------------------

    def _current_run(self) -> Run | None:
        if self._run is not None or self._tried:
            return self._run
        self._tried = True
        if _rank() != 0:  # the other processes of a distributed run log nothing
            return None
        if self._given is not None:
            self._run = self._given
        else:
            opened = training_run(INTEGRATION, project=self._project, name=self._run_name)
            self._run = opened.__enter__()
            self._opened = opened
        if self._run is not None:
            self._last_run_id = self._run.id
        return self._run

    # -- checkpoints and the model ----------------------------------------------------------

    def _log_checkpoint(self, run: Run, callback: Any) -> None:
        saved = getattr(callback, "_last_checkpoint_saved", None) or getattr(callback, "last_model_path", "")
        if saved and os.path.isfile(saved):
            name = str(PurePosixPath(CHECKPOINTS) / os.path.basename(saved))
            run.log_artifact(saved, name, copy=True)  # Lightning deletes it once a better one is saved
            self._checkpoints[os.path.abspath(saved)] = name
        best = getattr(callback, "best_model_path", "")
        if not best or os.path.abspath(best) not in self._checkpoints:
            return
        tags = {"best_model_path": self._checkpoints[os.path.abspath(best)]}
        monitor = getattr(callback, "monitor", None)
        if monitor:
            tags["best_model_monitor"] = str(monitor)
        score = _number(getattr(callback, "best_model_score", None))
        if score is not None:
            tags["best_model_score"] = repr(score)
            run.log({"best_model_score": score}, step=self._step)
        run.set_tags(tags)

    def _fitted(self) -> bool:
        if self._module is None or self._model_logged:
            return False
        trainer = getattr(self._module, "_trainer", None)
        fn = getattr(getattr(trainer, "state", None), "fn", None)
        return fn is None or str(getattr(fn, "value", fn)) == "fit"

    def _log_trained_model(self, run: Run) -> None:
        self._model_logged = True
        run.log_model(self._module, MODEL_NAME, input_example=_example_input(self._module), wait=False)

    def _log_fit_data(self, run: Run) -> None:
        # The trainer still holds the fit's dataloaders when it hands its loggers the end.
        trainer = getattr(self._module, "_trainer", None)
        for attribute, name in DATALOADERS:
            arrays = _tensor_dataset_arrays(getattr(trainer, attribute, None), name)
            if arrays is not None:
                Guard.of(INTEGRATION).call(run.log_dataset, arrays, name, context=name)


def _close(opened: contextlib.AbstractContextManager[Run | None], status: str) -> None:
    """End the run :func:`training_run` opened by its own rules: Lightning says "failed"
    from inside its ``except`` (KeyboardInterrupt included), where the error is still at hand."""
    if status != "failed":
        opened.__exit__(None, None, None)
        return
    error = sys.exc_info()[1] or RuntimeError("training failed")
    opened.__exit__(type(error), error, error.__traceback__)


def flat_params(params: Any, prefix: str = "") -> dict[str, Any]:
    """Hyperparameters as one level of dotted keys: nested mappings and ``argparse``
    Namespaces (``hparams.optimizer.lr``) are opened, anything else is a value."""
    if isinstance(params, argparse.Namespace):
        params = vars(params)
    if not isinstance(params, Mapping):
        return {prefix or "params": params}
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        nested = vars(value) if isinstance(value, argparse.Namespace) else value
        if isinstance(nested, Mapping) and nested:
            flat.update(flat_params(nested, name))
        else:
            flat[name] = value
    return flat


def _tensor_dataset_arrays(loaders: Any, name: str) -> dict[str, Any] | None:
    """The tensors of the ``TensorDataset`` one dataloader reads, by name; None (with a
    debug line saying why) for any other data."""
    if isinstance(loaders, list | tuple) and len(loaders) == 1:
        loaders = loaders[0]
    if loaders is None:
        return None
    from torch.utils.data import TensorDataset

    dataset = getattr(loaders, "dataset", None)
    if not isinstance(dataset, TensorDataset):
        what = type(dataset).__name__ if dataset is not None else type(loaders).__name__
        log.debug("the %s data is a %s, not a TensorDataset: not logged", name, what)
        return None
    tensors = dataset.tensors
    names = ("x", "y") if len(tensors) == 2 else tuple(str(index) for index in range(len(tensors)))
    return in_memory_arrays(dict(zip(names, tensors, strict=True)))


def _example_input(module: Any) -> Any:
    """The module's ``example_input_array`` as a numpy array, when it is one tensor."""
    example = getattr(module, "example_input_array", None)
    if example is None or not hasattr(example, "detach"):
        return None
    return example.detach().cpu().numpy()


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rank() -> int:
    for package in PACKAGES:
        module = sys.modules.get(f"{package}.utilities.rank_zero")
        if module is not None:
            return int(getattr(module.rank_zero_only, "rank", 0) or 0)
    return 0


# -- the class, on the installed Lightning ---------------------------------------------------


@functools.cache
def logger_class(package: str = "lightning.pytorch") -> type:
    """``CairnLogger`` as a subclass of ``package``'s ``Logger`` (``"lightning.pytorch"`` or
    ``"pytorch_lightning"``): a trainer takes only loggers of its own package."""
    base = importlib.import_module(f"{package}.loggers.logger")
    # No rank_zero_only wrappers: a logger on another rank than 0 never gets a run (see
    # _current_run), so every method is a no-op there, without a wrapper call on every step.
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__qualname__": "CairnLogger",
        "__doc__": _CairnLogging.__doc__,
    }
    namespace["experiment"] = property(base.rank_zero_experiment(_CairnLogging._experiment))
    return type("CairnLogger", (_CairnLogging, base.Logger), namespace)


def _installed_packages() -> list[str]:
    found = []
    for package in PACKAGES:
        top = package.split(".")[0]
        try:
            if sys.modules.get(top) is not None or importlib.util.find_spec(top) is not None:
                found.append(package)
        except (ImportError, ValueError):
            continue
    return found


def __getattr__(name: str) -> Any:
    if name == "CairnLogger":
        installed = _installed_packages()
        if not installed:
            raise ImportError("CairnLogger needs PyTorch Lightning: pip install 'cairn[lightning]'")
        return logger_class(installed[0])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- autologging ---------------------------------------------------------------------------


def autolog(
    project: str | None = None, *, log_models: bool = True, log_datasets: bool = True, disable: bool = False
) -> None:
    """Give every Lightning ``Trainer`` made from now on a :class:`CairnLogger` (beside the
    loggers it has; none when it has one already), logging into the open run if there is
    one, else into a new run per trainer call in ``project`` (else ``CAIRN_PROJECT``, else
    the script's folder name). ``log_models=False`` leaves the model out,
    ``log_datasets=False`` the data; ``disable=True`` puts ``Trainer.__init__`` back."""
    if disable:
        configure(INTEGRATION, enabled=False)
        _restore()
        return
    configure(INTEGRATION, enabled=True, project=project, log_models=log_models, log_datasets=log_datasets)
    for package in _installed_packages():
        Guard.of(INTEGRATION).call(_patch, package)


def _patch(package: str) -> None:
    trainer_class = importlib.import_module(package).Trainer
    cairn_logger = logger_class(package)
    with _patch_lock:
        if trainer_class in _originals:
            return
        original = trainer_class.__init__

        @functools.wraps(original)
        def init_and_log(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            if settings_of(INTEGRATION).enabled:
                Guard.of(INTEGRATION).call(_add_logger, self, cairn_logger)

        init_and_log.cairn_autolog = True  # type: ignore[attr-defined]  # how tests and people tell
        _originals[trainer_class] = original
        setattr(trainer_class, "__init__", init_and_log)  # noqa: B010


def _add_logger(trainer: Any, cairn_logger: type) -> None:
    if not any(isinstance(logger, _CairnLogging) for logger in trainer.loggers):
        settings = settings_of(INTEGRATION)
        trainer.loggers = [
            *trainer.loggers,
            cairn_logger(log_model=settings.log_models, log_datasets=settings.log_datasets),
        ]


def _restore() -> None:
    with _patch_lock:
        for trainer_class, original in _originals.items():
            setattr(trainer_class, "__init__", original)  # noqa: B010  # mypy: __init__ on an instance
        _originals.clear()
