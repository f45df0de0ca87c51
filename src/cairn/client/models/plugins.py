"""Which flavors exist: the built-in ones and those installed packages declare in the
entry-point group ``cairn.flavors``, found once per process and loaded only when asked for.

Every call into a flavor goes through :func:`call_flavor`, so a plugin that raises becomes a
FlavorError naming it (``flavor_error``), and a framework that is not installed becomes
FrameworkNotInstalled naming the package to install (``framework_not_installed``).
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

from cairn.client.models.flavor import Flavor
from cairn.core.errors import CairnError, FlavorError, FrameworkNotInstalled

ENTRY_POINT_GROUP = "cairn.flavors"

#: Cairn's own flavors, also declared as entry points in pyproject.toml; listed here too so a
#: source checkout that was never installed finds them. Order is the detection order: the
#: boosters before sklearn (their wrappers are scikit-learn estimators too), keras and
#: transformers before pytorch (a Keras model on the torch backend and a PreTrainedModel are
#: torch modules too), python_function,
#: which takes anything with ``predict``, last. mlflow reads only folders the MLflow client
#: wrote and never takes a model (its ``handles`` is always False).
BUILTIN_FLAVORS: dict[str, str] = {
    "xgboost": "cairn.client.models.flavors.xgboost:XGBoostFlavor",
    "lightgbm": "cairn.client.models.flavors.lightgbm:LightGBMFlavor",
    "keras": "cairn.client.models.flavors.keras:KerasFlavor",
    "transformers": "cairn.client.models.flavors.transformers:TransformersFlavor",
    "pytorch": "cairn.client.models.flavors.pytorch:PyTorchFlavor",
    "onnx": "cairn.client.models.flavors.onnx:OnnxFlavor",
    "sklearn": "cairn.client.models.flavors.sklearn:SklearnFlavor",
    "mlflow": "cairn.client.models.flavors.mlflow_model:MlflowFlavor",
    "python_function": "cairn.client.models.flavors.python_function:PythonFunctionFlavor",
}

T = TypeVar("T")


def flavor_targets() -> dict[str, str]:
    """Every flavor's name and ``module:attribute``, in detection order: a third party's
    first (it knows its models best), then the built-in ones."""
    return dict(_targets_on(tuple(sys.path)))


@functools.cache
def _targets_on(search_path: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # Scanning every installed distribution's metadata takes ~10-15 ms, most of a small
    # model's load: done once per import path (a folder added to sys.path is scanned anew).
    found: dict[str, str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in BUILTIN_FLAVORS:
            found.setdefault(entry.name, entry.value)
    return tuple((found | BUILTIN_FLAVORS).items())


@functools.cache
def _load(name: str, target: str) -> Flavor:
    module_name, _, attribute = target.partition(":")
    try:
        value: Any = getattr(importlib.import_module(module_name), attribute)
        flavor = value() if isinstance(value, type) else value
    except CairnError:
        raise
    except Exception as exc:
        raise FlavorError(
            f"the model flavor {name!r} ({target}) could not be loaded: {type(exc).__name__}: {exc}",
            details={"flavor": name, "during": "import"},
        ) from exc
    if not isinstance(flavor, Flavor):
        raise FlavorError(
            f"the model flavor {name!r} ({target}) lacks name, package, handles, save or load",
            details={"flavor": name, "during": "import"},
        )
    return flavor


def get_flavor(name: str) -> Flavor:
    targets = flavor_targets()
    if name not in targets:
        raise FlavorError(
            f"no model flavor is called {name!r}; known: {', '.join(sorted(targets))} "
            f"(others come from packages declaring the entry-point group {ENTRY_POINT_GROUP!r})",
            details={"flavor": name, "during": "lookup"},
        )
    return _load(name, targets[name])


def detect_flavor(model: object) -> Flavor:
    """The first flavor that says it handles ``model``; FlavorError when none does.

    A plugin that cannot even be imported is passed over here, so that one broken package does
    not stop every other model from being logged; it is named if no flavor takes the model."""
    broken: list[str] = []
    for name, target in flavor_targets().items():
        try:
            flavor = _load(name, target)
        except FlavorError:
            broken.append(name)
            continue
        if call_flavor(flavor, "detect", flavor.handles, model):
            return flavor
    unusable = f"; these flavors could not be loaded: {', '.join(broken)}" if broken else ""
    raise FlavorError(
        f"no model flavor takes a {type(model).__module__}.{type(model).__qualname__}: it has no predict method; "
        f"pass flavor=... or install a package that provides one{unusable}",
        details={"flavor": None, "during": "detect", "unloadable": broken},
    )


def call_flavor(flavor: Flavor, during: str, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``, with what a plugin raises turned into Cairn's errors."""
    try:
        return call(*args)
    except CairnError:
        raise
    except ModuleNotFoundError as exc:
        raise FrameworkNotInstalled(
            f"the {flavor.name!r} model flavor needs {exc.name or flavor.package!r}, which is not installed: "
            f"pip install {_package_for(exc.name, flavor)}",
            details={"flavor": flavor.name, "during": during, "package": _package_for(exc.name, flavor)},
        ) from exc
    except Exception as exc:
        raise FlavorError(
            f"the {flavor.name!r} model flavor failed to {during} the model: {type(exc).__name__}: {exc}",
            details={"flavor": flavor.name, "during": during},
        ) from exc


#: Modules whose pip package has another name.
_PACKAGES = {"sklearn": "scikit-learn", "skops": "skops", "cloudpickle": "cloudpickle"}


def _package_for(module: str | None, flavor: Flavor) -> str:
    top = (module or "").split(".")[0]
    return _PACKAGES.get(top, top) if top else flavor.package
