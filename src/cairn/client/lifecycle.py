"""Runs still open when the interpreter exits are finished for the user.

A script that forgets ``run.finish()`` still has its data flushed and its run ended: as
``finished`` after a normal exit, ``failed`` after an uncaught exception, ``killed`` after
Ctrl-C. Runs finished without waiting (``finish(wait=False)``, as integrations do) send the
rest on threads of their own, which the interpreter waits for at exit (they are not daemons;
each gives up after its finish timeout) and :func:`flush` waits for.

A run that is offline when the interpreter exits (its store away) is given a second, not the
30 s an explicit ``run.finish()`` waits for a store that comes back: the script has ended, its
writes are safe in the spool, and ``cairn sync`` sends them.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cairn.client.run import Run

_active: list[Run] = []
_closing: list[threading.Thread] = []
_lock = threading.Lock()
_uncaught: type[BaseException] | None = None
_installed = False
#: How long the exit keeps trying a store that is away before leaving a run to the spool.
OFFLINE_EXIT_TIMEOUT_S = 1.0


def remember(run: Run) -> None:
    global _installed
    with _lock:
        _active.append(run)
        if not _installed:
            _installed = True
            atexit.register(_finish_all)
            _chain_excepthook()


def forget(run: Run) -> None:
    with _lock:
        if run in _active:
            _active.remove(run)


def active_runs() -> list[Run]:
    with _lock:
        return list(_active)


def close_in_background(run_id: str, close: Callable[[], None]) -> None:
    """Run ``close`` (the sending part of a run's finish) on a thread of its own."""
    thread = threading.Thread(target=close, name=f"cairn-finish-{run_id[:8]}")
    with _lock:
        _closing[:] = [alive for alive in _closing if alive.is_alive()]
        _closing.append(thread)
    thread.start()


def flush(timeout: float = 30.0) -> bool:
    """Wait until everything this process logged so far has reached the store: the queues of
    open runs, and runs still finishing in the background. False if some of it did not within
    ``timeout`` seconds (it is spooled on disk, or still on its way)."""
    deadline = time.monotonic() + timeout
    delivered = True
    for run in active_runs():
        delivered = run.flush(max(0.0, deadline - time.monotonic())) and delivered
    return wait_for_closing(max(0.0, deadline - time.monotonic())) and delivered


def wait_for_closing(timeout: float) -> bool:
    """Wait for the runs finishing in the background; False if some still are after ``timeout``."""
    deadline = time.monotonic() + timeout
    with _lock:
        closing = list(_closing)
    for thread in closing:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in closing)


def _finish_all() -> None:
    status = "finished"
    if _uncaught is not None:
        status = "killed" if issubclass(_uncaught, KeyboardInterrupt) else "failed"
    # Children first: a nested run ends before its parent.
    for run in reversed(active_runs()):
        run.finish(status, timeout=OFFLINE_EXIT_TIMEOUT_S if run.offline else 30.0)


def _chain_excepthook() -> None:
    previous = sys.excepthook

    def record_and_report(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        global _uncaught
        _uncaught = exc_type
        previous(exc_type, exc, tb)

    sys.excepthook = record_and_report
