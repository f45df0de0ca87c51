"""Keras 3: the model in Keras's own ``.keras`` format, read back with ``safe_mode`` on.

``model.save(folder / "model.keras")`` writes the architecture as JSON and the weights as
HDF5; ``keras.saving.load_model`` reads them with ``safe_mode=True``, which refuses to
deserialize lambdas (Python bytecode), so reading runs no code from the file. Layers and models
of Keras itself are found by name; a custom class must be registered with
``@keras.saving.register_keras_serializable()`` in an importable module, which the manifest
names (``loader.modules``) and the load imports first. A class defined in ``__main__`` loads
only in a process that defines and registers it again.

The manifest records the backend the model was trained on (``loader.backend``: ``torch``,
``jax``, ``tensorflow``). The files themselves are the same for every backend; a process that
has not imported Keras yet loads the model on the backend it was trained on unless
``KERAS_BACKEND`` names one, or ``keras.json`` names one that is installed (rather than on
Keras's default, TensorFlow, which may not be installed). The backend's package is pinned with Keras.

A Keras model on the torch backend is also a ``torch.nn.Module``: this flavor comes before
``pytorch`` in the detection order. ``predict`` is Keras's own, without its progress bar, and
returns numpy arrays.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from cairn.client.models.flavor import Predictor, SavedModel, class_modules, model_file
from cairn.client.models.requirements import installed_version
from cairn.core.errors import FlavorError
from cairn.core.models.manifest import Framework, ModelManifest

FILE_NAME = "model.keras"
#: The module each Keras backend needs, whose distribution is pinned with Keras.
BACKEND_MODULES = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow", "numpy": "numpy"}


class KerasFlavor:
    name = "keras"
    package = "keras"

    def handles(self, model: object) -> bool:
        return "keras" in class_modules(model)

    def save(self, model: Any, folder: Path) -> SavedModel:
        keras = _keras()

        if not isinstance(model, keras.Model):
            raise FlavorError(
                f"the keras flavor saves a keras.Model (Sequential, functional or subclassed), "
                f"not {type(model).__name__}",
                details={"flavor": self.name, "during": "save"},
            )
        backend = keras.backend.backend()
        custom = _custom_modules(model)
        model.save(folder / FILE_NAME)
        loader: dict[str, Any] = {"format": "keras", "file": FILE_NAME, "backend": backend}
        if custom:
            loader["modules"] = custom
        modules = ("keras", "numpy", BACKEND_MODULES.get(backend, backend), *custom)
        return SavedModel(loader, Framework("keras", installed_version("keras")), modules)

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        if manifest.loader.get("format") != "keras":
            raise FlavorError(
                f"the keras flavor reads .keras files, not {manifest.loader.get('format')!r}",
                details={"flavor": self.name, "during": "load"},
            )
        _choose_backend(manifest.loader.get("backend"))
        keras = _keras()

        modules = manifest.loader.get("modules", [])
        if not isinstance(modules, list) or not all(isinstance(name, str) for name in modules):
            raise FlavorError(
                "the manifest's loader.modules must be a list of module names",
                details={"flavor": self.name, "during": "load"},
            )
        for name in modules:
            importlib.import_module(name)  # registers the model's custom classes with Keras
        model = keras.saving.load_model(model_file(folder, manifest, FILE_NAME), compile=False, safe_mode=True)
        return KerasPredictor(model)


def _keras() -> Any:
    # Imported by name: Keras ships no type information, and mypy's settings (pyproject.toml)
    # list no override for it.
    return importlib.import_module("keras")


def _custom_modules(model: Any) -> list[str]:
    """The importable modules (not Keras's, not ``__main__``) that define the classes of the
    model and its layers: importing them registers those classes before a load."""
    found: set[str] = set()
    flatten = getattr(model, "_flatten_layers", None)  # every nested layer, where Keras offers it
    layers = list(flatten(include_self=False)) if callable(flatten) else list(getattr(model, "layers", []))
    for item in [model, *layers]:
        module = type(item).__module__
        top = module.split(".")[0]
        if top not in ("keras", "builtins", "__main__") and "<locals>" not in type(item).__qualname__:
            found.add(module)
    return sorted(found)


def _choose_backend(backend: Any) -> None:
    """The trained-on backend for a Keras not imported yet, unless the user chose one:
    ``KERAS_BACKEND``, or a ``keras.json`` naming a backend that is installed (Keras writes
    that file on its first import, naming TensorFlow whether or not it is installed)."""
    if not isinstance(backend, str) or "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
        return
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        configured = json.loads((home / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        configured = None
    if isinstance(configured, str) and _installed(BACKEND_MODULES.get(configured, configured)):
        return
    os.environ["KERAS_BACKEND"] = backend


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class KerasPredictor:
    """A Keras model behind ``predict``: arrays or a data frame in, numpy out, no progress bar."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any) -> Any:
        values = data.to_numpy() if hasattr(data, "to_numpy") else data
        return self.model.predict(values, verbose=0)
