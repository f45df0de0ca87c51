"""Hugging Face Transformers: a ``Trainer`` logs into Cairn through :class:`CairnCallback`.

Three ways to switch it on, one result:

- ``TrainingArguments(..., report_to="cairn")``: importing ``cairn.transformers`` (or
  ``cairn.autolog()`` once Transformers is imported) adds ``"cairn"`` to the names Transformers
  knows (``transformers.integrations.integration_utils.INTEGRATION_TO_CALLBACK``);
- ``Trainer(..., callbacks=[CairnCallback()])``;
- ``cairn.transformers.autolog()``: every ``Trainer`` made from then on gets the callback.

Each ``trainer.train()`` call logs, in the run :func:`training_run` gives it (the open run, else
a new one named ``TrainingArguments.run_name`` when given, finished when ``train`` returns,
``failed`` if it raised, ``killed`` on Ctrl-C):

- params: ``TrainingArguments.to_dict()`` (``learning_rate``, ``per_device_train_batch_size``,
  ``num_train_epochs``…) and the model's config as ``model.<key>`` (``model.hidden_size``,
  ``model.num_labels``…), each through :func:`loggable_params`;
- metrics: every number the Trainer logs (``loss``, ``learning_rate``, ``grad_norm``,
  ``epoch``, ``eval_loss``, ``eval_<metric>``, and at the end ``train_runtime``,
  ``train_loss``…), under the Trainer's own names (MLflow's too), at ``state.global_step``;
- datasets, unless ``log_datasets=False``: the Trainer's ``train_dataset`` as input ``train``
  and its ``eval_dataset`` as ``eval`` (a dict of them as ``eval-<key>``), context ``train`` /
  ``eval``, once a run, by digest, rows and schema (``_dataset_frames.dataset_frame``); read
  when ``train`` ends, so that training never waits for them; one that cannot be read whole
  (an iterable or streaming dataset) is left out;
- checkpoints, when ``CairnCallback(log_checkpoints=True)``: each folder the Trainer saves, as
  artifacts under ``checkpoints/checkpoint-<step>`` (off by default, as with MLflow);
- the trained model, with the Trainer's tokenizer or processor when it has one, at
  ``runs:/RUN/model`` in the ``transformers`` flavor (``save_pretrained``).

Knowing when ``train`` fails needs more than a callback (a failing step calls no callback),
so importing this module wraps ``Trainer.train`` once: a trainer without a ``CairnCallback``
trains exactly as before.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback

from cairn.client.run import Run
from cairn.core import limits
from cairn.core.errors import CairnError
from cairn.integrations._base import MODEL_NAME, Guard, configure, log_new_params, settings_of, training_run
from cairn.integrations._dataset_frames import dataset_frame
from cairn.integrations._params import loggable_params

INTEGRATION = "transformers"
#: The name ``TrainingArguments(report_to=...)`` takes.
REPORT_TO_NAME = "cairn"
#: Where a saved checkpoint goes among the run's artifacts.
CHECKPOINTS = "checkpoints"
_patch_lock = threading.Lock()
_original_init: Any = None
_original_train: Any = None


class CairnCallback(TrainerCallback):
    """Logs a Trainer's arguments, model config, metrics and final model into Cairn (see the
    module's docstring).

    ``project`` is where a run started for ``train`` goes (else ``autolog(project=...)``, else
    ``CAIRN_PROJECT``, else the script's folder name); ``log_models`` (default: as
    ``autolog`` was told, else True) logs the model at the end; ``log_datasets`` (the same)
    the train and eval datasets; ``log_checkpoints`` logs each checkpoint the Trainer saves.
    """

    def __init__(
        self,
        *,
        project: str | None = None,
        log_models: bool | None = None,
        log_datasets: bool | None = None,
        log_checkpoints: bool = False,
    ) -> None:
        self.project = project
        self.log_models = log_models
        self.log_datasets = log_datasets
        self.log_checkpoints = log_checkpoints
        self._run: Run | None = None
        self._by_autolog = False
        # The runs whose datasets are logged: a resumed train() into the same open run
        # would otherwise link them again.
        self._datasets_logged_in: set[str] = set()

    @property
    def run(self) -> Run | None:
        """The run the current ``train`` call logs into, None outside one."""
        return self._run

    # -- the Trainer's events ------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if self._run is None or not state.is_world_process_zero:
            return
        Guard.of(INTEGRATION).call(log_new_params, self._run, training_params(args, model))

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if self._run is None or not state.is_world_process_zero or not logs:
            return
        metrics = numeric_metrics(logs)
        if "train_runtime" in metrics and "total_flos" not in metrics:
            # The end-of-training log: the printer callback, called before ours when the
            # callback is added after the Trainer was made, pops total_flos out of it.
            metrics["total_flos"] = float(state.total_flos)
        if metrics:
            Guard.of(INTEGRATION).call(self._run.log, metrics, step=int(state.global_step))

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._run is None or not self.log_checkpoints or not state.is_world_process_zero:
            return
        name = f"checkpoint-{state.global_step}"
        folder = Path(args.output_dir) / name
        if folder.is_dir():
            Guard.of(INTEGRATION).call(self._run.log_artifact, folder, f"{CHECKPOINTS}/{name}")

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if self._run is None or not state.is_world_process_zero or model is None or not self._logs_models():
            return
        processor = kwargs.get("processing_class") or kwargs.get("tokenizer")
        Guard.of(INTEGRATION).call(log_trained_model, self._run, model, processor)

    def _logs_models(self) -> bool:
        return self.log_models if self.log_models is not None else settings_of(INTEGRATION).log_models

    def _log_datasets(self, trainer: Any) -> None:
        """The trainer's datasets, into the run once. Called by the wrapped ``Trainer.train``
        (which holds the trainer, and the eval datasets no callback is given) as it returns."""
        run = self._run
        wanted = self.log_datasets if self.log_datasets is not None else settings_of(INTEGRATION).log_datasets
        if run is None or not wanted or run.id in self._datasets_logged_in:
            return
        self._datasets_logged_in.add(run.id)
        guard = Guard.of(INTEGRATION)
        for name, context, dataset in guard.call(trainer_datasets, trainer) or []:
            frame = guard.call(dataset_frame, dataset)
            if frame is not None:
                guard.call(run.log_dataset, frame, name, context=context)


def training_params(args: Any, model: Any) -> dict[str, Any]:
    """The TrainingArguments and, as ``model.<key>``, the model's config, as params."""
    params = loggable_params(args.to_dict())
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "to_dict"):
        params.update(loggable_params({f"model.{key}": value for key, value in config.to_dict().items()}))
    return params


def numeric_metrics(logs: Mapping[str, Any]) -> dict[str, float]:
    """The numbers among what the Trainer logs (a 0-d tensor or numpy scalar unwrapped);
    text, flags and keys a metric cannot have are left out."""
    metrics: dict[str, float] = {}
    for key, value in logs.items():
        if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        try:
            metrics[limits.check_key(str(key), "metric")] = float(value)
        except CairnError:
            continue
    return metrics


def trainer_datasets(trainer: Any) -> list[tuple[str, str, Any]]:
    """``(name, context, dataset)`` for the trainer's train and eval datasets it has."""
    found: list[tuple[str, str, Any]] = []
    if getattr(trainer, "train_dataset", None) is not None:
        found.append(("train", "train", trainer.train_dataset))
    evaluation = getattr(trainer, "eval_dataset", None)
    if isinstance(evaluation, Mapping):
        found.extend((f"eval-{key}", "eval", dataset) for key, dataset in evaluation.items() if dataset is not None)
    elif evaluation is not None:
        found.append(("eval", "eval", evaluation))
    return found


def log_trained_model(run: Run, model: Any, processor: Any = None) -> None:
    """``model`` (and its tokenizer or processor) at ``runs:/RUN/model``, transformers flavor."""
    from cairn.client.models.flavors.transformers import TransformersModel

    run.log_model(TransformersModel(model, processor), MODEL_NAME, flavor="transformers", wait=False)


# -- switching on ------------------------------------------------------------------------


def autolog(
    project: str | None = None, *, log_models: bool = True, log_datasets: bool = True, disable: bool = False
) -> None:
    """Give every ``Trainer`` made from now on a :class:`CairnCallback` (one it does not
    have already); each ``train`` call is then logged into the open run, else a new run in
    ``project`` (else ``CAIRN_PROJECT``, else the script's folder name). ``log_models=False``
    leaves the model out, ``log_datasets=False`` the datasets; ``disable=True`` puts
    ``Trainer.__init__`` back."""
    if disable:
        configure(INTEGRATION, enabled=False)
        _restore_init()
        return
    configure(INTEGRATION, enabled=True, project=project, log_models=log_models, log_datasets=log_datasets)
    _patch_init()
    Guard.of(INTEGRATION).call(_prepare_connection)


def _patch_init() -> None:
    global _original_init
    with _patch_lock:
        if _original_init is not None:
            return
        _original_init = original = Trainer.__init__

        @functools.wraps(original)
        def init_with_callback(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            if settings_of(INTEGRATION).enabled and not _callbacks_of(self):
                callback = CairnCallback()
                callback._by_autolog = True
                self.add_callback(callback)

        init_with_callback.cairn_autolog = True  # type: ignore[attr-defined]  # how tests and people tell
        Trainer.__init__ = init_with_callback  # type: ignore[method-assign]


def _restore_init() -> None:
    global _original_init
    with _patch_lock:
        if _original_init is not None:
            Trainer.__init__ = _original_init  # type: ignore[method-assign]
            _original_init = None


def _wrap_train() -> None:
    """``Trainer.train`` inside the run of the trainer's first CairnCallback, once a process."""
    global _original_train
    with _patch_lock:
        if _original_train is not None:
            return
        _original_train = original = Trainer.train

        @functools.wraps(original)
        def train_in_run(self: Any, *args: Any, **kwargs: Any) -> Any:
            callbacks = _callbacks_of(self)
            callback = callbacks[0] if callbacks else None
            if callback is None or callback._run is not None:  # no callback, or a train inside a train
                return original(self, *args, **kwargs)
            if callback._by_autolog and not settings_of(INTEGRATION).enabled:
                return original(self, *args, **kwargs)
            if not self.is_world_process_zero():
                return original(self, *args, **kwargs)
            with training_run(INTEGRATION, project=callback.project, name=run_name(self.args)) as run:
                callback._run = run
                try:
                    trained = original(self, *args, **kwargs)
                except Exception:  # the data of a failed training still says what it ran on
                    callback._log_datasets(self)
                    raise
                else:
                    callback._log_datasets(self)
                    return trained
                finally:
                    callback._run = None

        Trainer.train = train_in_run  # type: ignore[method-assign]


def run_name(args: Any) -> str | None:
    """``TrainingArguments.run_name`` as the run's name, when one was given that a run can have."""
    name = getattr(args, "run_name", None)
    if not isinstance(name, str) or not name:
        return None
    try:
        return limits.check_name(name, "run name")
    except CairnError:
        return None


def _callbacks_of(trainer: Any) -> list[CairnCallback]:
    handler = getattr(trainer, "callback_handler", None)
    return [cb for cb in getattr(handler, "callbacks", []) if isinstance(cb, CairnCallback)]


def _register_report_to_name() -> None:
    """``report_to="cairn"``: Transformers looks its integrations up in one dict, by name."""
    from transformers.integrations import integration_utils

    integration_utils.INTEGRATION_TO_CALLBACK.setdefault(REPORT_TO_NAME, CairnCallback)


def _prepare_connection() -> None:
    """Build the first run's connection now, not inside the first ``train`` (see sklearn)."""
    from cairn.client.connect import connect

    connect().close()


Guard.of(INTEGRATION).call(_register_report_to_name)
Guard.of(INTEGRATION).call(_wrap_train)
