"""``run.watch(model)``: the L2 norms of a torch model's gradients and parameters as metrics.

One hook per watched model, on all its trainable parameters at once
(``torch.autograd.graph.register_multi_grad_hook``): it fires once per backward pass, after
every gradient of that pass is computed. Every ``log_freq``-th pass (the first, then every
``log_freq``), and only then, it computes the norms in one fused call (``torch._foreach_norm``),
reads them back in one transfer and logs them with one ``run.log`` call at the pass's index
(0, ``log_freq``, 2×…) as ``gradients/<name>`` and ``parameters/<name>``, ``<name>`` as
``model.named_parameters()`` gives it. The passes between cost one counter increment.

The gradients are those of the pass (what ``backward`` computed), before an accumulation into
``.grad`` and before the optimizer steps. torch is imported only when a model is watched.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from cairn.core.errors import InvalidValue

if TYPE_CHECKING:
    from cairn.client.run import Run

#: What ``run.watch(log=...)`` takes, and the metric families each logs.
LOG_CHOICES = {"gradients": ("gradients",), "parameters": ("parameters",), "all": ("gradients", "parameters")}


class Watcher:
    """The hook on one model; :meth:`remove` takes it off."""

    def __init__(self, run: Run, model: Any, log: str, log_freq: int) -> None:
        import torch

        if not isinstance(model, torch.nn.Module):
            raise InvalidValue(f"watch takes a torch.nn.Module, not {type(model).__name__}")
        if log not in LOG_CHOICES:
            raise InvalidValue(f"watch(log=...) is one of {', '.join(map(repr, LOG_CHOICES))}, not {log!r}")
        if type(log_freq) is not int or log_freq < 1:
            raise InvalidValue(f"watch(log_freq=...) is a whole number of backward passes ≥ 1, not {log_freq!r}")
        self._run = run
        self._torch = torch
        self._families = LOG_CHOICES[log]
        self._log_freq = log_freq
        named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        self._names = [name for name, _ in named]
        self._parameters = [p for _, p in named]
        self._passes = 0
        self._warned = False
        self._lock = threading.Lock()
        self._handle = (
            torch.autograd.graph.register_multi_grad_hook(self._parameters, self._on_backward, mode="all")
            if named
            else None
        )

    @property
    def passes(self) -> int:
        """Backward passes seen so far."""
        return self._passes

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _on_backward(self, grads: Any) -> None:
        with self._lock:
            index = self._passes
            self._passes += 1
        if index % self._log_freq:
            return
        try:
            self._log(index, grads)
        except Exception as exc:  # a hook that raised would stop the backward pass: never
            if not self._warned:
                self._warned = True
                from cairn.client.writer import warn

                warn(f"watch: logging norms failed, training goes on: {type(exc).__name__}: {exc}")

    def _log(self, step: int, grads: Any) -> None:
        torch = self._torch
        names: list[str] = []
        tensors: list[Any] = []
        if "gradients" in self._families:
            for name, grad in zip(self._names, grads, strict=True):
                if grad is not None and not grad.is_sparse:
                    names.append(f"gradients/{name}")
                    tensors.append(grad.detach())
        if "parameters" in self._families:
            names += [f"parameters/{name}" for name in self._names]
            tensors += [p.detach() for p in self._parameters]
        if not tensors:
            return
        with torch.no_grad():
            norms = torch._foreach_norm(tensors)
            values = torch.stack([norm.float() for norm in norms]).cpu().tolist()
        self._run._log_at(dict(zip(names, values, strict=True)), step, None)


def watch(run: Run, watchers: dict[int, Watcher], model: Any, log: str, log_freq: int) -> Watcher:
    """Watch ``model`` for ``run`` (a model watched already is watched anew, with these options)."""
    unwatch(watchers, model)
    watcher = Watcher(run, model, log, log_freq)
    watchers[id(model)] = watcher
    return watcher


def unwatch(watchers: dict[int, Watcher], model: Any = None) -> None:
    """Take the hook off ``model``, or off every watched model when None."""
    keys = list(watchers) if model is None else [id(model)]
    for key in keys:
        watcher = watchers.pop(key, None)
        if watcher is not None:
            watcher.remove()
