"""Runs still open when the interpreter exits are finished for the user.

A script that forgets ``run.finish()`` still has its data flushed and its run ended: as
``finished`` after a normal exit, ``failed`` after an uncaught exception, ``killed`` after
Ctrl-C.
"""

from __future__ import annotations

import atexit
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cairn.client.run import Run

_active: list[Run] = []
_lock = threading.Lock()
_uncaught: type[BaseException] | None = None
_installed = False


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


def _finish_all() -> None:
    status = "finished"
    if _uncaught is not None:
        status = "killed" if issubclass(_uncaught, KeyboardInterrupt) else "failed"
    # Children first: a nested run ends before its parent.
    for run in reversed(active_runs()):
        run.finish(status)


def _chain_excepthook() -> None:
    previous = sys.excepthook

    def record_and_report(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        global _uncaught
        _uncaught = exc_type
        previous(exc_type, exc, tb)

    sys.excepthook = record_and_report
