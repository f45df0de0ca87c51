"""Pinned requirements of a model: the installed distributions of the modules it needs.

Only the model's own imports count (the framework, its serializer, the module of a custom
class), not everything the training script had installed: that is the run's environment
snapshot. A module that belongs to no installed distribution (``__main__``, a local file) is
left out: it must be importable where the model is loaded.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, packages_distributions, version


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    return packages_distributions()


def pinned_requirements(modules: Iterable[str]) -> list[str]:
    """``name==version`` of the distributions providing ``modules``, sorted, each once."""
    pins = set()
    for module in modules:
        for distribution in _distributions().get(module.split(".")[0], []):
            try:
                # Without a local label ("2.13.0+cpu"): no index serves those, so such a pin
                # could not be installed anywhere but where it was built.
                pins.add(f"{distribution}=={version(distribution).partition('+')[0]}")
            except PackageNotFoundError:
                continue
    return sorted(pins, key=str.lower)


def installed_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
