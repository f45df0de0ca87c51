"""The model a serving process answers with, and how it follows an alias without downtime.

``ModelSlot`` holds the served model. A request takes the model once, when it arrives, and
keeps it to the end, so a swap never changes the model under a request in flight: swapping is
one assignment, and the old model is freed when its last request is done.

``AliasFollower`` polls the registry on a thread of its own (with its own connection to the
store). When the alias points at another version, that version is fetched, verified, loaded
and checked (it must answer its own input example) beside the serving one, and only then
swapped in. A version that fails any of that is not swapped in: the old one keeps serving,
the error is logged and shown by ``/health``, and the same version is not tried again until
the alias moves once more. A registry that cannot be reached is logged and retried at the
next poll; serving goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cairn.core.clock import now_ms
from cairn.core.errors import CairnError
from cairn.service.interface import Tracking
from cairn.serving.model_source import ServedModel, fetch, load, resolve

log = logging.getLogger("cairn.serve")


@dataclass(frozen=True, slots=True)
class SwapFailure:
    version: str
    error: str
    at_ms: int


class ModelSlot:
    """The served model, swapped whole."""

    def __init__(self, model: ServedModel) -> None:
        self.model = model
        #: The last version that could not be swapped in, or None since the last good swap.
        self.failure: SwapFailure | None = None
        self.swaps = 0

    def swap(self, model: ServedModel) -> ServedModel:
        previous, self.model = self.model, model
        self.failure = None
        self.swaps += 1
        return previous


class AliasFollower:
    def __init__(
        self,
        slot: ModelSlot,
        connect: Callable[[], Tracking],
        *,
        cache: Path,
        interval_seconds: float,
        on_swap: Callable[[ServedModel, ServedModel], None] = lambda old, new: None,
        on_failure: Callable[[SwapFailure], None] = lambda failure: None,
    ) -> None:
        self.slot = slot
        self._connect = connect
        self._cache = cache
        self._interval = interval_seconds
        self._on_swap = on_swap
        self._on_failure = on_failure
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cairn-alias-follower", daemon=True)
        self._tracking: Tracking | None = None
        self._unreachable = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                self.check_once()
        finally:
            if self._tracking is not None:
                self._tracking.close()

    def check_once(self) -> None:
        """Look at the alias once; swap in its version if it moved and the version loads."""
        serving = self.slot.model.location
        try:
            if self._tracking is None:
                self._tracking = self._connect()
            location = resolve(self._tracking, serving.uri)
        except Exception as error:  # the registry is away or refused: keep serving, try later
            if not self._unreachable:
                log.warning(
                    "cannot read %s from the registry (%s); still serving version %s", serving.uri, error, serving.label
                )
            self._unreachable = True
            return
        if self._unreachable:
            log.info("the registry answers again")
            self._unreachable = False
        failed = self.slot.failure
        if location.version == serving.version or (failed is not None and failed.version == location.label):
            return
        log.info("%s moved to version %s: loading it beside version %s", serving.uri, location.label, serving.label)
        try:
            new = load(location, fetch(self._tracking, location, self._cache))
        except Exception as error:
            message = _describe(error)
            failure = SwapFailure(location.label, message, now_ms())
            self.slot.failure = failure
            log.error(
                "version %s of %s failed to load, still serving version %s: %s",
                location.label,
                serving.uri,
                serving.label,
                message,
            )
            self._on_failure(failure)
            return
        old = self.slot.swap(new)
        log.info("now serving version %s of %s", location.label, serving.uri)
        self._on_swap(old, new)


def _describe(error: Exception) -> str:
    if isinstance(error, CairnError):
        return f"{error.message} [{error.code}]"
    return f"{type(error).__name__}: {error}"
