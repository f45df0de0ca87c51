"""scikit-learn: skops where it can, pickle where it cannot.

skops writes a format that is read without running code from the file: only types on its
trusted list are built. scikit-learn's own classes that skops does not trust by default (the
Cython ``sklearn.tree._tree.Tree`` of every tree and forest) are trusted too: they come from
the framework the model needs anyway, and the manifest lists them; at load only ``sklearn.``
names from that list are trusted, so a changed manifest cannot widen trust to anything else.
An estimator holding anything else (a custom class, a lambda) is pickled instead, and the
manifest says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cairn.client.models.flavor import Predictor, SavedModel, class_modules
from cairn.client.models.flavors import pickled
from cairn.client.models.requirements import installed_version
from cairn.core.models.manifest import Framework, ModelManifest

SKOPS_FILE = "model.skops"


class SklearnFlavor:
    name = "sklearn"
    package = "scikit-learn"

    def handles(self, model: object) -> bool:
        return "sklearn" in class_modules(model) and hasattr(model, "predict")

    def save(self, model: Any, folder: Path) -> SavedModel:
        framework = Framework("scikit-learn", installed_version("scikit-learn"))
        loader = _save_skops(model, folder)
        if loader is None:
            return SavedModel(pickled.dump(model, folder), framework, (*_modules(model), "cloudpickle"))
        return SavedModel(loader, framework, (*_modules(model), "skops"))

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        loader = dict(manifest.loader)
        if loader["format"] == "skops":
            import skops.io

            trusted = [name for name in loader.get("trusted", []) if _is_sklearn_type(name)]
            model: Predictor = skops.io.load(folder / str(loader.get("file", SKOPS_FILE)), trusted=trusted or None)
            return model
        return pickled.load(folder, loader)  # type: ignore[no-any-return]


def _save_skops(model: Any, folder: Path) -> dict[str, Any] | None:
    """The loader entry for a skops file, or None when skops is missing or cannot save
    ``model`` so that it loads with its default trusted types."""
    try:
        import skops.io
    except ModuleNotFoundError:
        return None
    target = folder / SKOPS_FILE
    try:
        skops.io.dump(model, target)
        untrusted = skops.io.get_untrusted_types(file=target)
    except Exception:  # skops cannot represent it: pickle can
        untrusted = ["?"]
    if not all(_is_sklearn_type(name) for name in untrusted):
        target.unlink(missing_ok=True)
        return None
    loader: dict[str, Any] = {"format": "skops", "file": SKOPS_FILE}
    if untrusted:
        loader["trusted"] = sorted(untrusted)
    return loader


def _is_sklearn_type(name: object) -> bool:
    return isinstance(name, str) and name.startswith("sklearn.")


def _modules(model: Any) -> tuple[str, ...]:
    return tuple(sorted(class_modules(model) - {"builtins"})) + ("numpy",)
