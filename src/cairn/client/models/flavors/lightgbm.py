"""LightGBM in its native text format (``model.txt``), read without running code.

A Booster is saved as is. A scikit-learn wrapper (LGBMClassifier, LGBMRegressor, LGBMRanker)
is saved as its booster plus, for a classifier, its classes: the loaded model predicts labels
as the wrapper did, from the booster's probabilities.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cairn.client.models.flavor import Predictor, SavedModel, class_modules
from cairn.client.models.requirements import installed_version
from cairn.core.errors import FlavorError
from cairn.core.models.manifest import Framework, ModelManifest

FILE_NAME = "model.txt"
_CLASSES = ("LGBMClassifier", "LGBMRegressor", "LGBMRanker", "Booster")


class LightGBMFlavor:
    name = "lightgbm"
    package = "lightgbm"

    def handles(self, model: object) -> bool:
        return "lightgbm" in class_modules(model)

    def save(self, model: Any, folder: Path) -> SavedModel:
        import lightgbm

        kind = next((name for name in _CLASSES if isinstance(model, getattr(lightgbm, name))), None)
        if kind is None:
            raise FlavorError(
                f"the lightgbm flavor saves {', '.join(_CLASSES)}, not {type(model).__name__}",
                details={"flavor": self.name, "during": "save"},
            )
        booster = model if kind == "Booster" else model.booster_
        booster.save_model(str(folder / FILE_NAME))
        loader: dict[str, Any] = {"format": "lightgbm-text", "file": FILE_NAME, "class": kind}
        if kind == "LGBMClassifier":
            # Labels as JSON values (ints, strings), so predict gives what the wrapper gave.
            loader["classes"] = np.asarray(model.classes_).tolist()
            json.dumps(loader)
        return SavedModel(loader, Framework("lightgbm", installed_version("lightgbm")), ("lightgbm", "numpy"))

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        import lightgbm

        booster = lightgbm.Booster(model_file=str(folder / str(manifest.loader.get("file", FILE_NAME))))
        classes = manifest.loader.get("classes")
        return _Classifier(booster, np.asarray(classes)) if classes is not None else booster


class _Classifier:
    def __init__(self, booster: Any, classes: np.ndarray[Any, Any]) -> None:
        self.booster = booster
        self.classes = classes

    def predict(self, data: Any) -> Any:
        scores = np.asarray(self.booster.predict(data))
        if scores.ndim == 1:  # binary: the probability of the second class
            return self.classes[(scores > 0.5).astype(int)]
        return self.classes[np.argmax(scores, axis=1)]
