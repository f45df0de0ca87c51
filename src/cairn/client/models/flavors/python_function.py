"""``python_function``: any object with a ``predict`` method, pickled (cloudpickle when
installed). Reading it runs code from the file, so the manifest says so and loading warns."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from cairn.client.models.flavor import Predictor, SavedModel, class_modules
from cairn.client.models.flavors import pickled
from cairn.client.models.requirements import installed_version
from cairn.core.models.manifest import Framework, ModelManifest


class PythonFunctionFlavor:
    name = "python_function"
    package = "cloudpickle"

    def handles(self, model: object) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path) -> SavedModel:
        loader = pickled.dump(model, folder)
        kind = loader["format"]
        framework = Framework(kind, platform.python_version() if kind == "pickle" else installed_version(kind))
        return SavedModel(loader, framework, (*sorted(class_modules(model) - {"builtins"}), kind))

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        return pickled.load(folder, dict(manifest.loader))  # type: ignore[no-any-return]
