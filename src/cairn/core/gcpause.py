"""Building a large page of entities with Python's cyclic garbage collector paused.

A page of 10,000 model versions makes some 100,000 container objects (rows, entities, wire
dicts) in one go. Each 700 new containers start a collection of the youngest generation, and
every tenth of those the next one; when the survivors have grown the heap by a quarter, a full
collection walks every object of the process. Measured on the 10,000-version listing
(bench/registry_list.py): 118 young, 11 middle and one full collection, 47 ms of a 133 ms
call; JSON decoding of the same page on the client lost as much. None of these objects form
cycles (rows, frozen entities and JSON trees point one way), so the collector has nothing to
find among them: pausing it while a page is built, and resuming it after, only spares that
work. Young objects are then collected once, at the next allocation after it resumes.

The pause is process-wide. Pauses nest and overlap across threads (a server serves several
pages at once): the collector resumes when the last one ends, and only if it was running when
the first began, so a program that turned it off keeps it off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the ``with`` block (see the module's docstring)."""
    global _pauses, _resume
    with _lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
