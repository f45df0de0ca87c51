"""``mlflow``: a model folder the MLflow client wrote, read as MLflow reads it.

Cairn never writes these folders (``save`` refuses); it reads them once their manifest was
made from the MLmodel (:func:`cairn.core.models.mlflow_model.manifest_for_mlflow_folder`). A
scikit-learn model is read here, without MLflow, as ``mlflow.sklearn`` reads it: skops with
the types the MLmodel trusts, or (cloud)pickle; so serving it needs scikit-learn, not MLflow.
Anything else is ``mlflow.pyfunc.load_model``, which needs MLflow installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cairn.client.models.flavor import Predictor, SavedModel, model_file
from cairn.client.models.flavors import pickled
from cairn.core.errors import FlavorError
from cairn.core.models.manifest import ModelManifest


class MlflowFlavor:
    name = "mlflow"
    package = "mlflow"

    def handles(self, model: object) -> bool:
        # Never chosen for an in-memory model: the folder comes from the MLflow client.
        return False

    def save(self, model: Any, folder: Path) -> SavedModel:
        """Always FlavorError: MLflow folders are written by the MLflow client."""
        raise FlavorError(
            "the 'mlflow' flavor only reads model folders the MLflow client wrote; "
            "log the model with its own flavor (sklearn, python_function…) to save it with Cairn",
            details={"flavor": self.name, "during": "save"},
        )

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        loader = dict(manifest.loader)
        if loader.get("flavor") == "sklearn":
            return _load_sklearn(folder, manifest, loader)
        import mlflow.pyfunc

        model: Predictor = mlflow.pyfunc.load_model(str(folder))
        return model


def _load_sklearn(folder: Path, manifest: ModelManifest, loader: dict[str, Any]) -> Predictor:
    path = model_file(folder, manifest, "model.pkl")
    serialization = loader.get("serialization_format")
    if serialization == "skops":
        import skops.io

        # Other than scikit-learn's own types, trust only what a manifest that says it runs
        # code (and so warned at load) lists: a manifest cannot widen trust silently.
        trusted = [
            name
            for name in loader.get("skops_trusted_types", [])
            if isinstance(name, str) and (name.startswith("sklearn.") or manifest.runs_code_on_load)
        ]
        model = skops.io.load(path, trusted=trusted or None)
    elif serialization in ("pickle", "cloudpickle"):
        model = pickled.load(folder, {"format": serialization, "file": path.name})
    else:
        raise FlavorError(
            f"the manifest's loader.serialization_format {serialization!r} is not one mlflow.sklearn writes",
            details={"flavor": "mlflow", "during": "load"},
        )
    predict_fn = loader.get("predict_fn", "predict")
    return model if predict_fn == "predict" else _Method(model, str(predict_fn))


class _Method:
    """The model's ``predict_fn`` (``predict_proba``…) as its predict, as MLflow serves it."""

    def __init__(self, model: Any, method: str) -> None:
        self.model = model
        self.method = getattr(model, method)

    def predict(self, data: Any, /) -> Any:
        return self.method(data)
