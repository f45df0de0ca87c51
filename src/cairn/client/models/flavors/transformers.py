"""Hugging Face Transformers: the model's own ``save_pretrained`` folder, read back with the
Auto class that builds its architecture.

- A ``PreTrainedModel`` (or :class:`TransformersModel`, a model with its tokenizer or
  processor) is saved with ``save_pretrained`` into the model folder: ``config.json`` and the
  weights as ``model.safetensors``, and the tokenizer's (processor's) files beside them, so
  the folder is also one ``AutoModel….from_pretrained`` and ``AutoTokenizer.from_pretrained``
  read as it is.
- The manifest's loader records the Auto class that maps the model's type to its class
  (``AutoModelForSequenceClassification`` for a ``BertForSequenceClassification``), the
  architecture, and the Auto class of the tokenizer or processor. Loading calls
  ``from_pretrained`` on the folder with ``use_safetensors=True``, ``local_files_only=True``
  and no remote code: weights are read without pickle, nothing is downloaded, and only
  classes Transformers itself defines are built. A model class of one's own, which no Auto
  class knows, is refused when saving (log it with the ``pytorch`` flavor instead).

``predict`` takes texts when a tokenizer was saved (a list of strings, a string, a pandas
Series, a data frame of one text column or with a ``text`` column), or token ids (a 2-D
integer array, a list of lists, or a mapping / data frame of ``input_ids`` and optionally
``attention_mask``); given ids alone, the positions holding the pad token are masked out.
It runs the model on the CPU in eval mode under ``torch.no_grad()``, in batches of
:data:`BATCH_SIZE`, and returns the logits as a numpy array (``predict_proba`` gives their
softmax), or, for a model without logits, its output tensors as a dict of arrays.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cairn.client.models.flavor import Predictor, SavedModel, class_modules
from cairn.client.models.requirements import installed_version
from cairn.core.errors import FlavorError, SignatureMismatch
from cairn.core.models.manifest import Framework, ModelManifest

#: Rows run through the model at once by ``predict``.
BATCH_SIZE = 64
#: What a tokenizer, processor, image processor or feature extractor is read back with,
#: by the base class it derives from (checked in this order).
_PROCESSOR_AUTO_CLASSES = (
    ("ProcessorMixin", "AutoProcessor"),
    ("PreTrainedTokenizerBase", "AutoTokenizer"),
    ("BaseImageProcessor", "AutoImageProcessor"),
    ("ImageProcessingMixin", "AutoImageProcessor"),
    ("FeatureExtractionMixin", "AutoFeatureExtractor"),
)
#: The generic Auto class, tried after every task-specific one.
_BASE_AUTO_CLASS = "AutoModel"


@dataclass(frozen=True)
class TransformersModel:
    """A model with the tokenizer (or processor) that prepares its input::

    run.log_model(TransformersModel(model, tokenizer), input_example=["a fine film"])
    """

    model: Any
    processor: Any = None


class TransformersFlavor:
    name = "transformers"
    package = "transformers"

    def handles(self, model: object) -> bool:
        if isinstance(model, TransformersModel):
            return True
        return "transformers" in class_modules(model) and hasattr(model, "save_pretrained") and hasattr(model, "config")

    def save(self, model: Any, folder: Path) -> SavedModel:
        import transformers

        wrapped = model if isinstance(model, TransformersModel) else TransformersModel(model)
        network, processor = wrapped.model, wrapped.processor
        if not isinstance(network, transformers.PreTrainedModel):
            raise FlavorError(
                f"the transformers flavor saves a transformers PreTrainedModel, not {type(network).__name__}",
                details={"flavor": self.name, "during": "save"},
            )
        auto_class = model_auto_class(transformers, network)
        with _no_progress_bars():
            network.save_pretrained(folder)
        if not (folder / "model.safetensors").is_file() and not any(folder.glob("model-*.safetensors")):
            raise FlavorError(
                "save_pretrained wrote no safetensors weights: the transformers flavor reads no pickled weights",
                details={"flavor": self.name, "during": "save"},
            )
        loader: dict[str, Any] = {
            "format": "transformers",
            "auto_class": auto_class,
            "architecture": type(network).__name__,
        }
        modules = ["transformers", "torch", "numpy", "safetensors"]
        if processor is not None:
            loader["processor"] = processor_auto_class(transformers, processor)
            processor.save_pretrained(folder)
            modules.append("tokenizers")
        framework = Framework("transformers", installed_version("transformers"))
        return SavedModel(loader, framework, tuple(modules))

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        import transformers

        loader = manifest.loader
        if loader.get("format") != "transformers":
            raise FlavorError(
                f"the transformers flavor reads save_pretrained folders, not {loader.get('format')!r}",
                details={"flavor": self.name, "during": "load"},
            )
        auto = _transformers_class(transformers, loader.get("auto_class"), "model")
        processor = None
        with _no_progress_bars():
            network = auto.from_pretrained(
                str(folder), use_safetensors=True, local_files_only=True, trust_remote_code=False
            )
            if loader.get("processor") is not None:
                reader = _transformers_class(transformers, loader.get("processor"), "processor")
                processor = reader.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
        return TransformersPredictor(network, processor)


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Transformers draws a bar for writing or reading a few weights on this machine: not on
    a training's or a served model's stderr."""
    from transformers.utils import logging

    shown = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if shown:
            logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def model_auto_class(transformers: Any, model: Any) -> str:
    """The name of the Auto class that builds ``model``'s class from its config: a
    task-specific one (``AutoModelForSequenceClassification``) before ``AutoModel``."""
    from transformers.models.auto import modeling_auto

    model_type = getattr(model.config, "model_type", None)
    wanted = type(model).__name__
    names = sorted(name for name in dir(modeling_auto) if name.startswith("AutoModelFor"))
    for name in [*names, _BASE_AUTO_CLASS]:
        try:
            mapped = getattr(modeling_auto, name)._model_mapping._model_mapping.get(model_type)
        except AttributeError:  # an Auto class built otherwise in another Transformers version
            continue
        if mapped == wanted or (isinstance(mapped, tuple | list) and wanted in mapped):
            return name
    raise FlavorError(
        f"no Auto class of Transformers builds a {type(model).__module__}.{type(model).__qualname__} "
        f"(model type {model_type!r}), so it could not be loaded without running code of your own: "
        "log it with the pytorch flavor (StateDictModel) instead",
        details={"flavor": "transformers", "during": "save"},
    )


def processor_auto_class(transformers: Any, processor: Any) -> str:
    for base, auto in _PROCESSOR_AUTO_CLASSES:
        cls = getattr(transformers, base, None)
        if isinstance(cls, type) and isinstance(processor, cls):
            return auto
    raise FlavorError(
        f"the transformers flavor saves a tokenizer, processor, image processor or feature extractor beside the "
        f"model, not {type(processor).__name__}",
        details={"flavor": "transformers", "during": "save"},
    )


def _transformers_class(transformers: Any, name: object, what: str) -> Any:
    """The Auto class the manifest names, which must be one Transformers defines."""
    cls = None
    if isinstance(name, str) and name.startswith("Auto") and name.isidentifier():
        cls = getattr(transformers, name, None)
    if not isinstance(cls, type) or not hasattr(cls, "from_pretrained"):
        raise FlavorError(
            f"the manifest's loader names the {what} class {name!r}, which is not an Auto class of Transformers",
            details={"flavor": "transformers", "during": "load"},
        )
    return cls


class TransformersPredictor:
    """A model in eval mode on the CPU, with its tokenizer when one was saved: texts or token
    ids in, numpy out."""

    def __init__(self, model: Any, processor: Any = None) -> None:
        self.model = model.eval()
        self.processor = processor

    def predict(self, data: Any) -> Any:
        """The logits for ``data`` (texts, or token ids): see the module's docstring."""
        import torch

        inputs = self._model_inputs(data)
        rows = len(next(iter(inputs.values())))
        outputs = []
        with torch.no_grad():
            for start in range(0, rows, BATCH_SIZE):
                batch = {key: value[start : start + BATCH_SIZE] for key, value in inputs.items()}
                outputs.append(self.model(**batch))
        return _joined(outputs)

    def predict_proba(self, data: Any) -> Any:
        """The softmax of the logits over the last axis: class probabilities of a classifier."""
        logits = np.asarray(self.predict(data), dtype=np.float64)
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def _model_inputs(self, data: Any) -> dict[str, Any]:
        texts = _texts(data)
        if texts is not None:
            if self.processor is None:
                raise SignatureMismatch(
                    "this transformers model was saved without a tokenizer: give it token ids, not text",
                    details={"column": None, "expected": "token ids"},
                )
            encoded = self.processor(texts, padding=True, truncation=True, return_tensors="pt")
            return {key: value for key, value in encoded.items() if key in self._accepted()}
        return self._id_inputs(data)

    def _id_inputs(self, data: Any) -> dict[str, Any]:
        import torch

        columns = _id_columns(data)
        if "input_ids" not in columns:
            raise SignatureMismatch(
                "a transformers model takes texts (with its tokenizer) or token ids: "
                f"a mapping or data frame needs an 'input_ids' column, not {sorted(columns)}",
                details={"column": "input_ids", "expected": "token ids"},
            )
        inputs = {}
        for key, values in columns.items():
            try:
                array = np.array(values.tolist() if hasattr(values, "tolist") else values, dtype=np.int64)
            except (TypeError, ValueError) as exc:
                raise SignatureMismatch(
                    f"{key} must be integer token ids of equal length: {exc}",
                    details={"column": key, "expected": "int64"},
                ) from None
            inputs[key] = torch.from_numpy(array.reshape(1, -1) if array.ndim == 1 else array)
        pad = getattr(self.model.config, "pad_token_id", None)
        if "attention_mask" not in inputs and pad is not None:
            inputs["attention_mask"] = (inputs["input_ids"] != pad).long()
        return {key: value for key, value in inputs.items() if key in self._accepted()}

    def _accepted(self) -> set[str]:
        import inspect

        try:
            return set(inspect.signature(self.model.forward).parameters)
        except (TypeError, ValueError):
            return {"input_ids", "attention_mask"}


def _texts(data: Any) -> list[str] | None:
    """``data`` as a list of texts, or None when it is not text."""
    if isinstance(data, str):
        return [data]
    if hasattr(data, "columns") and hasattr(data, "iloc"):  # a DataFrame
        if "text" in data.columns:
            data = data["text"]
        elif len(data.columns) == 1:
            data = data.iloc[:, 0]
        else:
            return None
    values = data.tolist() if hasattr(data, "tolist") else data
    if isinstance(values, list | tuple) and values and all(isinstance(value, str) for value in values):
        return list(values)
    if isinstance(values, list) and values and all(isinstance(row, list) and len(row) == 1 for row in values):
        flat = [row[0] for row in values]  # a column of texts as a 2-D array
        return flat if all(isinstance(value, str) for value in flat) else None
    return None


def _id_columns(data: Any) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return dict(data)
    if hasattr(data, "columns") and "input_ids" in getattr(data, "columns", ()):
        return {str(name): data[name].tolist() for name in data.columns}
    if hasattr(data, "to_numpy"):
        data = data.to_numpy()
    return {"input_ids": data}


def _joined(outputs: list[Any]) -> Any:
    """The batches' outputs as one: the logits, else every tensor the model returned."""
    first = outputs[0]
    if getattr(first, "logits", None) is not None:
        return np.concatenate([out.logits.detach().cpu().numpy() for out in outputs])
    keys = [key for key, value in first.items() if hasattr(value, "detach")]
    return {key: np.concatenate([out[key].detach().cpu().numpy() for out in outputs]) for key in keys}
