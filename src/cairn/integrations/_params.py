"""Hyperparameters as a store keeps them, for every integration.

Frameworks hand over configs full of values no store keeps as they are: numpy scalars, huge
integers, nested estimators, callables, dicts of lists, text with NUL in it. Every integration
turns them into params the same way here, so a value looks the same whichever framework
logged it and an odd one never makes logging fail.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from cairn.core import limits
from cairn.core.entities import ParamValue
from cairn.core.errors import CairnError

#: A param's text past this many characters is cut: a repr of a fitted array says nothing more.
MAX_PARAM_TEXT = 500

#: Items of a list or mapping a param's text shows before "…".
_MAX_ITEMS = 50


def loggable_params(raw: Mapping[Any, Any]) -> dict[str, ParamValue]:
    """``raw`` as params: each value through :func:`loggable`; keys a param cannot have
    (too long, control characters) are left out rather than failing the lot."""
    params: dict[str, ParamValue] = {}
    for key, value in raw.items():
        try:
            params[limits.check_key(str(key), "param")] = loggable(value)
        except CairnError:
            continue
    return params


def loggable(value: Any) -> ParamValue:
    """A param value: numbers, flags, text and None as they are (numpy and torch scalars
    unwrapped); integers past 64 bits, objects and containers as a shortened text, with
    estimators, modules, classes and functions inside named by their class or name."""
    value = _unwrapped_scalar(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if limits.MIN_INT64 <= value <= limits.MAX_INT64 else _text(str(value))
    if isinstance(value, str):
        return _text(value)
    return _text(repr(_readable(value, depth=0)))


def _unwrapped_scalar(value: Any) -> Any:
    """numpy's ``np.float32(0.1)`` or a 0-d tensor as the Python number it holds."""
    item = getattr(value, "item", None)
    if item is None or type(value) in (bool, int, float, str) or not callable(item):
        return value
    if getattr(value, "ndim", None) == 0 or getattr(value, "shape", None) == ():
        try:
            unwrapped = item()
        except Exception:  # an object with an unrelated .item()
            return value
        return unwrapped if type(unwrapped) in (bool, int, float) else value
    return value


class _Named:
    """Shown as its bare name in a repr: ``[('svc', SVC)]`` rather than ``[('svc', SVC())]``."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _readable(value: Any, depth: int) -> Any:
    if hasattr(value, "get_params") and not isinstance(value, type):  # a scikit-learn estimator
        return _Named(type(value).__name__)
    if isinstance(value, type) or inspect.isroutine(value):
        return _Named(str(getattr(value, "__qualname__", None) or getattr(value, "__name__", type(value).__name__)))
    if depth >= 4:
        return _Named("…")
    if isinstance(value, Mapping):
        shown = {_readable(k, depth + 1): _readable(v, depth + 1) for k, v in list(value.items())[:_MAX_ITEMS]}
        return shown if len(value) <= _MAX_ITEMS else {**shown, _Named("…"): _Named("…")}
    if isinstance(value, list | tuple):
        items = [_readable(item, depth + 1) for item in value[:_MAX_ITEMS]]
        items += [_Named("…")] if len(value) > _MAX_ITEMS else []
        return tuple(items) if isinstance(value, tuple) else items
    return _unwrapped_scalar(value)


def _text(text: str) -> str:
    text = text.replace("\x00", "\\x00")  # no store keeps NUL in text
    return text if len(text) <= MAX_PARAM_TEXT else text[: MAX_PARAM_TEXT - 1] + "…"
