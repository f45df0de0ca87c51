"""``import cairn`` offers exactly what ``__all__`` names."""

from __future__ import annotations

import inspect

import cairn
from cairn.core import errors


def test_all_names_every_public_attribute() -> None:
    assert len(cairn.__all__) == len(set(cairn.__all__))
    for name in cairn.__all__:
        assert hasattr(cairn, name), name
    public = {name for name, value in vars(cairn).items() if not name.startswith("_") and not inspect.ismodule(value)}
    assert public == set(cairn.__all__) - {"__version__"}


def test_the_exported_errors_are_the_ones_raised() -> None:
    for name in (
        "CairnError",
        "InvalidInput",
        "NotFound",
        "ParamConflict",
        "RunNotActive",
        "Unavailable",
    ):
        assert getattr(cairn, name) is getattr(errors, name)
