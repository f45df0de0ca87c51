"""PyTorch: TorchScript, or a state dict plus the importable class that rebuilds the module.
Neither runs Python's pickle on code from the file.

- A scripted or traced module (``torch.jit.script``, ``torch.jit.trace``) is saved with
  ``torch.jit.save`` as ``model.pt`` and read with ``torch.jit.load``, whose own reader builds
  only tensors and TorchScript code. A plain ``nn.Module`` is scripted first; a Lightning
  ``LightningModule`` through its ``to_torchscript`` (traced on its ``example_input_array``
  where scripting fails). (torch 2.13
  deprecates TorchScript in favour of ``torch.export``, whose files are read with pickle; its
  deprecation warnings are silenced here, where the caller cannot act on them.)
- :class:`StateDictModel` (a module, its class as ``"pkg.mod:Class"`` and the constructor's
  keyword arguments) saves the weights with ``torch.save(module.state_dict())`` as
  ``weights.pt`` and reads them with ``torch.load(weights_only=True)`` (tensors and plain
  containers only) into ``Class(**init)``. The class is imported by the name in the manifest
  and must be a ``torch.nn.Module``: an installed module's code runs, never code from the file.
  The save rebuilds the module the same way, so a model that would not load is not logged.

``predict`` turns its input (a data frame, an array) into one tensor of the module's floating
dtype (float32 unless the module was made double), runs it on the CPU under
``torch.no_grad()`` in eval mode, and returns numpy arrays (a tuple or dict of them when the
module returns several).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cairn.client.models.flavor import Predictor, SavedModel, class_modules, model_file
from cairn.client.models.requirements import installed_version
from cairn.core.errors import FlavorError, SignatureMismatch
from cairn.core.models.manifest import Framework, ModelManifest

SCRIPT_FILE = "model.pt"
WEIGHTS_FILE = "weights.pt"


@dataclass(frozen=True)
class StateDictModel:
    """A torch module to save as its weights and the class that rebuilds it::

        run.log_model(StateDictModel(net, init={"hidden": 16}), input_example=X[:5])

    ``init`` (JSON values: it is written to the manifest) is what the class is called with;
    ``module_class`` (``"package.module:Class"``) defaults to the module's own class, which
    must be importable where the model is loaded (not defined in ``__main__`` or a function).
    """

    module: Any
    init: Mapping[str, Any] = field(default_factory=dict)
    module_class: str | None = None


class PyTorchFlavor:
    name = "pytorch"
    package = "torch"

    def handles(self, model: object) -> bool:
        return isinstance(model, StateDictModel) or "torch" in class_modules(model)

    def save(self, model: Any, folder: Path) -> SavedModel:
        import torch

        framework = Framework("torch", installed_version("torch"))
        if isinstance(model, StateDictModel):
            loader = _save_state_dict(torch, model, folder)
            package = loader["class"].partition(":")[0].split(".")[0]
            return SavedModel(loader, framework, ("torch", "numpy", package))
        if not isinstance(model, torch.nn.Module):
            raise FlavorError(
                f"the pytorch flavor saves a torch.nn.Module (scripted, traced or plain) or a StateDictModel, "
                f"not {type(model).__name__}",
                details={"flavor": self.name, "during": "save"},
            )
        with _torchscript_quietly():
            scripted = model if isinstance(model, torch.jit.ScriptModule) else _script(torch, model)
            torch.jit.save(scripted, str(folder / SCRIPT_FILE))
        return SavedModel({"format": "torchscript", "file": SCRIPT_FILE}, framework, ("torch", "numpy"))

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        import torch

        kind = manifest.loader["format"]
        if kind == "torchscript":
            with _torchscript_quietly():
                module = torch.jit.load(str(model_file(folder, manifest, SCRIPT_FILE)), map_location="cpu")
        elif kind == "torch-state-dict":
            init = manifest.loader.get("init", {})
            if not isinstance(init, dict):
                raise FlavorError(
                    "the manifest's loader.init must be an object of keyword arguments",
                    details={"flavor": self.name, "during": "load"},
                )
            module = _import_module_class(torch, str(manifest.loader.get("class")), "load")(**init)
            weights = torch.load(model_file(folder, manifest, WEIGHTS_FILE), map_location="cpu", weights_only=True)
            module.load_state_dict(weights)
        else:
            raise FlavorError(
                f"the pytorch flavor reads torchscript and torch-state-dict files, not {kind!r}",
                details={"flavor": self.name, "during": "load"},
            )
        return TorchPredictor(module)


def _script(torch: Any, module: Any) -> Any:
    try:
        if _is_lightning_module(module):
            return _script_lightning_module(torch, module)
        return torch.jit.script(module)
    except Exception as exc:
        first_line = next(iter(str(exc).strip().splitlines()), "")  # TorchScript's errors run to pages
        raise FlavorError(
            f"the pytorch flavor could not script this {type(module).__name__} with torch.jit.script "
            f"({type(exc).__name__}: {first_line}): log torch.jit.trace(module, example) instead, "
            "or StateDictModel(module, init={...}) with a class that can be imported",
            details={"flavor": "pytorch", "during": "save"},
        ) from exc


def _save_state_dict(torch: Any, model: StateDictModel, folder: Path) -> dict[str, Any]:
    def refuse(reason: str) -> FlavorError:
        return FlavorError(f"StateDictModel: {reason}", details={"flavor": "pytorch", "during": "save"})

    module = model.module
    if not isinstance(module, torch.nn.Module) or isinstance(module, torch.jit.ScriptModule):
        raise refuse(f"module must be a plain torch.nn.Module, not {type(module).__name__}")
    target = model.module_class or f"{type(module).__module__}:{type(module).__qualname__}"
    if target.startswith("__main__:") or "<locals>" in target:
        raise refuse(
            f"the class {target} cannot be imported where the model is loaded: define it in a module "
            "(or give module_class='package.module:Class')"
        )
    init = dict(model.init)
    try:
        json.dumps(init, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise refuse(f"init must hold JSON values (numbers, strings, lists, dicts): {exc}") from None
    weights = folder / WEIGHTS_FILE
    torch.save(module.state_dict(), weights)
    # Rebuilt as a load will: a class that does not import, a constructor that does not take
    # ``init``, weights that do not fit it, fail the save rather than every later load.
    rebuilt = _import_module_class(torch, target, "save")(**init)
    rebuilt.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return {"format": "torch-state-dict", "file": WEIGHTS_FILE, "class": target, "init": init}


def _import_module_class(torch: Any, target: str, during: str) -> Any:
    """The class ``"package.module:Qual.Name"`` names, which must be a torch.nn.Module."""
    module_name, _, qualname = target.partition(":")
    if not module_name or not qualname:
        raise FlavorError(
            f"the module class must be written 'package.module:Class', not {target!r}",
            details={"flavor": "pytorch", "during": during},
        )
    value: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        value = getattr(value, part)
    if not (isinstance(value, type) and issubclass(value, torch.nn.Module)):
        raise FlavorError(
            f"{target} is not a torch.nn.Module class: refusing to call it",
            details={"flavor": "pytorch", "during": during},
        )
    return value


def _is_lightning_module(module: Any) -> bool:
    return any(
        cls.__name__ == "LightningModule" and cls.__module__.split(".")[0] in ("lightning", "pytorch_lightning")
        for cls in type(module).__mro__
    )


def _script_lightning_module(torch: Any, module: Any) -> Any:
    """A LightningModule as TorchScript: ``torch.jit.script`` alone fails on its properties
    (``trainer`` raises when none is attached), which Lightning's own ``to_torchscript``
    hides; where that cannot script it, it is traced on ``example_input_array``."""
    export = getattr(module, "to_torchscript", None)
    if export is None:  # a Lightning without it (it is deprecated from 2.7)
        return torch.jit.script(module)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`LightningModule\.to_torchscript`")
        try:
            return export(method="script")
        except Exception:
            if getattr(module, "example_input_array", None) is None:
                raise
            return export(method="trace")


@contextlib.contextmanager
def _torchscript_quietly() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        yield


class TorchPredictor:
    """A module in eval mode on the CPU behind ``predict``: numbers in, numpy out."""

    def __init__(self, module: Any) -> None:
        import torch

        self.module = module.eval()
        floating = [p.dtype for p in [*module.parameters(), *module.buffers()] if p.is_floating_point()]
        self.dtype = floating[0] if floating else torch.float32

    def predict(self, data: Any) -> Any:
        import torch

        values = data.to_numpy() if hasattr(data, "to_numpy") else data
        try:
            # A copy: torch warns on (and must not write into) a read-only array of the caller's.
            array = np.array(values, dtype=np.float64 if self.dtype == torch.float64 else np.float32)
        except (TypeError, ValueError) as exc:
            raise SignatureMismatch(
                f"the PyTorch model takes numbers: {exc}", details={"column": None, "expected": str(self.dtype)}
            ) from None
        with torch.no_grad():
            output = self.module(torch.from_numpy(array).to(self.dtype))
        return _to_numpy(output)


def _to_numpy(output: Any) -> Any:
    if hasattr(output, "detach"):
        return output.detach().cpu().numpy()
    if isinstance(output, Mapping):
        return {key: _to_numpy(value) for key, value in output.items()}
    if isinstance(output, tuple | list):
        return tuple(_to_numpy(value) for value in output)
    return output
