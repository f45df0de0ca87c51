"""The monitor worker: evaluates due monitors in the background of each server process
(docs/monitoring.md, "Where evaluations run").

A monitor is claimed under a lease in the store before it is evaluated, so any number of server
processes (and a ``cairn monitors run`` from cron beside them) share the monitors without
evaluating one twice at once; a process that dies mid-evaluation leaves a lease that runs out.
The worker acts as the principal ``cairn-monitor``, which the event log names as the actor of
the alerts it opens.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from cairn.service.policy import Principal

if TYPE_CHECKING:
    from cairn.service.tracking import TrackingService

logger = logging.getLogger("cairn.monitors")

#: Who evaluates monitors in a server: the actor of the alert events it records.
MONITOR_PRINCIPAL = Principal("cairn-monitor", is_admin=True, authenticated=True, via="local")


class MonitorWorker:
    """Evaluates due monitors in a background thread between :meth:`start` and :meth:`stop`."""

    def __init__(self, tracking: TrackingService, poll_interval_s: float = 30.0) -> None:
        self._tracking = tracking.acting_as(MONITOR_PRINCIPAL)
        self._poll_interval_s = poll_interval_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cairn-monitors", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the evaluation in progress, if any (it holds its lease until it ends)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def run_once(self) -> int:
        """Evaluate what is due now, here; how many monitors were evaluated."""
        return len(self._tracking.run_due_monitors())

    def _loop(self) -> None:
        while not self._stopping.wait(self._poll_interval_s):
            try:
                self.run_once()
            except Exception:  # the store away, say: try again at the next poll
                logger.exception("evaluating due monitors failed")
