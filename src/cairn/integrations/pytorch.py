"""Plain PyTorch: ``cairn.pytorch.watch(model)`` logs gradient and parameter norms into the
open run (see :meth:`cairn.Run.watch`; the hooks live in ``cairn.client.watch``)."""

from __future__ import annotations

from typing import Any

from cairn.core.errors import RunNotActive
from cairn.integrations._base import active_run


def watch(model: Any, log: str = "gradients", log_freq: int = 100) -> None:
    """``run.watch(model, log, log_freq)`` on the run ``cairn.init`` opened last."""
    run = active_run()
    if run is None:
        raise RunNotActive("no run is open to watch the model in: call cairn.init(...) first")
    run.watch(model, log=log, log_freq=log_freq)


def unwatch(model: Any = None) -> None:
    """``run.unwatch(model)`` on the run ``cairn.init`` opened last (nothing when none is)."""
    run = active_run()
    if run is not None:
        run.unwatch(model)
