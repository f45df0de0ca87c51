"""The interface every flavor implements: one small seam between Cairn and a framework.

A flavor turns an in-memory model into files in a folder (``save``) and back into something
with ``predict`` (``load``). Cairn writes and checks the manifest, the digests, the input
example and the signature around it; a flavor only knows its framework. A flavor module must
not import its framework at import time: only inside ``save`` and ``load``, so that
``import cairn`` never pulls in scikit-learn, XGBoost or PyTorch.

Third parties add a flavor through the entry-point group ``cairn.flavors``::

    [project.entry-points."cairn.flavors"]
    my_framework = "my_package.cairn_flavor:MyFlavor"

where ``MyFlavor`` is a class (instantiated without arguments) or an instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cairn.core.errors import InvalidManifest
from cairn.core.models.manifest import Framework, ModelManifest


@dataclass(frozen=True, slots=True)
class SavedModel:
    """What a flavor's ``save`` reports for the manifest.

    ``loader`` says how the files are read (``{"format": "skops"}``; a format that may run code
    when read says ``"runs_code_on_load": True``). ``modules`` are the top-level modules the
    model needs to load; their installed distributions become the pinned requirements.
    """

    loader: dict[str, Any]
    framework: Framework
    modules: tuple[str, ...] = field(default=())


@runtime_checkable
class Predictor(Protocol):
    def predict(self, data: Any, /) -> Any: ...


@runtime_checkable
class Flavor(Protocol):
    #: The name in the manifest and in ``log_model(flavor=...)``.
    name: str
    #: The pip package a user installs when the framework is missing.
    package: str

    def handles(self, model: object) -> bool:
        """Whether this flavor is made for ``model``, judged without importing the framework
        (by the module of the model's class, for example)."""
        ...

    def save(self, model: Any, folder: Path) -> SavedModel:
        """Write ``model``'s files into the empty ``folder``."""
        ...

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        """Read the files ``save`` wrote (already checked against their digests)."""
        ...


def class_modules(model: object) -> set[str]:
    """The top-level modules of the classes ``model`` is an instance of (its MRO), so a
    subclass defined elsewhere of a framework's class still counts as the framework's."""
    return {cls.__module__.split(".")[0] for cls in type(model).__mro__}


def model_file(folder: Path, manifest: ModelManifest, default: str) -> Path:
    """The file the manifest's ``loader.file`` names (``default`` when it names none), which
    must be one the manifest lists: the digests were checked for those files only, and a name
    like ``../x`` would read outside the folder."""
    name = manifest.loader.get("file", default)
    if not isinstance(name, str) or name not in manifest.files:
        raise InvalidManifest(
            f"the manifest's loader names the model file {name!r}, which is not one of the files it lists",
            details={"field": "loader.file"},
        )
    return folder / name
