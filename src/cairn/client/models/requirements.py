"""Pinned requirements of a model: the installed distributions of the modules it needs.

Only the model's own imports count (the framework, its serializer, the module of a custom
class), not everything the training script had installed: that is the run's environment
snapshot. A module that belongs to no installed distribution (``__main__``, a local file) is
left out: it must be importable where the model is loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from importlib.metadata import Distribution, PackageNotFoundError, distributions, version

_lock = threading.Lock()


_owners: dict[str, tuple[str, ...]] = {}


def _find_owners(top_levels: set[str]) -> None:
    """Remember the names of the installed distributions providing each top-level module.

    What ``importlib.metadata.packages_distributions()`` answers, for the few modules a model
    needs: that walks every distribution's file list and parses every metadata file (0.2 s
    to 1.3 s with 290 packages installed, paid by the first ``log_model`` of a process),
    where one pass reading each ``top_level.txt``, or searching its RECORD as text, and
    parsing the metadata of the matches only takes a few tens of milliseconds. Both agree on
    every module installed here (checked in tests/models/test_requirements.py)."""
    found: dict[str, list[str]] = {top: [] for top in top_levels}
    for dist in distributions():
        provided = _provided(dist, top_levels)
        if not provided:
            continue
        name = dist.metadata["Name"]
        for top in provided:
            if name and name not in found[top]:
                found[top].append(name)
    _owners.update((top, tuple(names)) for top, names in found.items())


def _provided(dist: Distribution, top_levels: set[str]) -> list[str]:
    declared = dist.read_text("top_level.txt")
    if declared is not None and declared.strip():
        names = set(declared.split())
        return [top for top in top_levels if top in names]
    record = "\n" + (dist.read_text("RECORD") or dist.read_text("installed-files.txt") or "").replace("\\", "/")
    return [top for top in top_levels if any(f"\n{top}{end}" in record for end in _MODULE_ENDINGS)]


#: How a module's files start in a RECORD line: a package folder, a module file, an extension.
_MODULE_ENDINGS = ("/", ".py,", ".py\n", ".cpython", ".abi3", ".so,", ".pyd,")


def owners_of(top_level: str) -> tuple[str, ...]:
    with _lock:  # one walk even when two threads package models at once
        if top_level not in _owners:
            _find_owners({top_level})
        return _owners[top_level]


def pinned_requirements(modules: Iterable[str]) -> list[str]:
    """``name==version`` of the distributions providing ``modules``, sorted, each once."""
    tops = {module.split(".")[0] for module in modules}
    with _lock:
        missing = tops - _owners.keys()
        if missing:
            _find_owners(missing)
    pins = set()
    for top in tops:
        for distribution in _owners[top]:
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
