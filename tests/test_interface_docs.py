"""Every method of the tracking interface says what it does, in its docstring."""

from __future__ import annotations

import inspect

from cairn.service.interface import Tracking


def test_every_method_of_the_interface_has_a_docstring() -> None:
    methods = {name: f for name, f in vars(Tracking).items() if inspect.isfunction(f) and not name.startswith("_")}
    assert len(methods) >= 40
    assert [name for name, f in methods.items() if not (f.__doc__ or "").strip()] == []
    assert "max_points" in (Tracking.get_metric_history.__doc__ or "")
