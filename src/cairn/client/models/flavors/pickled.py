"""Pickle, the format of last resort: it saves almost anything, and reading it runs code from
the file. The manifest says so (``"runs_code_on_load": true``) and loading warns once.

cloudpickle is used when installed: it also saves lambdas and classes defined in ``__main__``,
by value. Reading its files needs cloudpickle's module only for such values, but the manifest
names the format that wrote them.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

FILE_NAME = "model.pkl"


def dump(model: Any, folder: Path) -> dict[str, Any]:
    """Pickle ``model`` into ``folder``; the manifest's loader entry for it."""
    try:
        import cloudpickle

        data = cloudpickle.dumps(model, protocol=pickle.DEFAULT_PROTOCOL)
        kind = "cloudpickle"
    except ModuleNotFoundError:
        data = pickle.dumps(model, protocol=pickle.DEFAULT_PROTOCOL)
        kind = "pickle"
    (folder / FILE_NAME).write_bytes(data)
    return {"format": kind, "file": FILE_NAME, "runs_code_on_load": True}


def load(folder: Path, loader: dict[str, Any]) -> Any:
    if loader["format"] == "cloudpickle":
        import cloudpickle  # noqa: F401  (values pickled by value refer to its module)
    with open(folder / str(loader.get("file", FILE_NAME)), "rb") as stream:
        # Runs code from the file: the manifest said so, and load_model_folder warned.
        return pickle.load(stream)
