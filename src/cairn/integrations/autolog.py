"""``cairn.autolog()``: every integration whose framework is installed, switched on at once.

A framework that is installed but not imported yet is not imported here (importing
Transformers or Keras takes seconds): its integration is switched on by an import hook the
moment the script imports it, as MLflow does.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from cairn.client.writer import warn
from cairn.integrations._base import Guard


@dataclass(frozen=True)
class Integration:
    name: str  # what the user calls it: cairn.NAME.autolog()
    framework: str  # the module whose import switches it on
    label: str  # as people write it


INTEGRATIONS: tuple[Integration, ...] = (
    Integration("sklearn", "sklearn", "scikit-learn"),
    Integration("xgboost", "xgboost", "XGBoost"),
    Integration("lightgbm", "lightgbm", "LightGBM"),
    Integration("lightning", "lightning", "PyTorch Lightning"),
    Integration("keras", "keras", "Keras"),
    Integration("transformers", "transformers", "Hugging Face Transformers"),
)


def autolog(
    project: str | None = None, *, log_models: bool = True, log_datasets: bool = True, disable: bool = False
) -> list[str]:
    """Switch on (or with ``disable=True`` off) every integration whose framework is
    installed, and return their names. Runs go to ``project``, else ``CAIRN_PROJECT``, else
    the script's folder name; each integration logs its model at ``runs:/RUN/model`` unless
    ``log_models=False``, and the data it trained on as dataset inputs unless
    ``log_datasets=False``. With no framework installed it does nothing and says so in one line.
    """
    installed = [item for item in INTEGRATIONS if _installed(item.framework)]
    if not installed:
        labels = ", ".join(item.label for item in INTEGRATIONS)
        warn(f"autolog: none of the frameworks Cairn logs is installed ({labels}); nothing will be logged")
        return []
    for item in installed:
        options = {"project": project, "log_models": log_models, "log_datasets": log_datasets, "disable": disable}
        if item.framework in sys.modules or disable:
            _switch(item, options)
        else:
            hook = _ImportHook.install()
            hook.when_imported(item.framework, lambda item=item, options=options: _switch(item, options))
    return [item.name for item in installed]


def _installed(module: str) -> bool:
    if module in sys.modules:  # None there means "import it and fail", as when it is absent
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _switch(item: Integration, options: dict[str, Any]) -> None:
    def switch() -> None:
        importlib.import_module(f"cairn.integrations.{item.name}").autolog(**options)

    Guard.of(item.name).call(switch)


class _ImportHook(importlib.abc.MetaPathFinder):
    """Runs callbacks right after a watched top-level module has been imported."""

    _instance: _ImportHook | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._pending: dict[str, list[Any]] = {}
        self._finding: set[str] = set()

    @classmethod
    def install(cls) -> _ImportHook:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
                sys.meta_path.insert(0, cls._instance)
            return cls._instance

    def when_imported(self, module: str, callback: Any) -> None:
        with self._lock:
            self._pending.setdefault(module, []).append(callback)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._pending or fullname in self._finding:
            return None
        self._finding.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding.discard(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _NotifyingLoader(spec.loader, self._take(fullname))
        return spec

    def _take(self, module: str) -> list[Any]:
        with self._lock:
            return self._pending.pop(module, [])


class _NotifyingLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, callbacks: list[Any]):
        self._loader = loader
        self._callbacks = callbacks

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its own loader: resources, reloads and pickling look there.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        for callback in self._callbacks:
            callback()
