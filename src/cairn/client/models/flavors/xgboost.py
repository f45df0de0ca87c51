"""XGBoost in its native UBJSON format (``model.ubj``), read without running code.

Both the scikit-learn wrappers (XGBClassifier, XGBRegressor, XGBRanker, XGBRFClassifier,
XGBRFRegressor) and a bare Booster; the manifest names the class, which must be one of these
(a name from the file is never imported blindly). A Booster predicts on a DMatrix, so the
loaded one is wrapped to take arrays and data frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cairn.client.models.flavor import Predictor, SavedModel, class_modules
from cairn.client.models.requirements import installed_version
from cairn.core.errors import FlavorError
from cairn.core.models.manifest import Framework, ModelManifest

FILE_NAME = "model.ubj"
_CLASSES = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor", "Booster")


class XGBoostFlavor:
    name = "xgboost"
    package = "xgboost"

    def handles(self, model: object) -> bool:
        return "xgboost" in class_modules(model)

    def save(self, model: Any, folder: Path) -> SavedModel:
        import xgboost

        kind = next((name for name in _CLASSES if isinstance(model, getattr(xgboost, name))), None)
        if kind is None:
            raise FlavorError(
                f"the xgboost flavor saves {', '.join(_CLASSES)}, not {type(model).__name__}",
                details={"flavor": self.name, "during": "save"},
            )
        model.save_model(folder / FILE_NAME)
        loader = {"format": "xgboost-ubj", "file": FILE_NAME, "class": kind}
        return SavedModel(loader, Framework("xgboost", installed_version("xgboost")), ("xgboost", "numpy"))

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        import xgboost

        kind = manifest.loader.get("class")
        if kind not in _CLASSES:
            raise FlavorError(
                f"the xgboost flavor loads {', '.join(_CLASSES)}, not {kind!r}",
                details={"flavor": self.name, "during": "load"},
            )
        model = getattr(xgboost, kind)()
        model.load_model(folder / str(manifest.loader.get("file", FILE_NAME)))
        return _BoosterPredictor(model) if kind == "Booster" else model


class _BoosterPredictor:
    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, data: Any) -> Any:
        import xgboost

        return self.booster.predict(xgboost.DMatrix(data))
