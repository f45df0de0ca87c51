"""SHA-256 of resumable uploads, kept while their parts pass through this server process.

One :class:`RunningHashes` belongs to each app (``app.state.upload_hashes``, made by
``create_app``), so that two apps in one process, as in tests, never see each other's uploads.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator


class _Running:
    """An upload's hash so far: of its first ``size`` bytes, unless a part is ``busy`` feeding it."""

    __slots__ = ("busy", "hasher", "size")

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.size = 0
        self.busy = False


class RunningHashes:
    """SHA-256 of resumable uploads, kept as their parts pass through this process.

    When every part of an upload came through here in order, completing it needs no second
    read of the bytes. Parts sent to another worker, a retried part or a restart leave a gap;
    the hash is then dropped and the store hashes the bytes again at completion. So does a
    part that arrives while another part of the same upload is still passing (a retry that
    overlaps the original): both may write the same bytes, which one hash cannot follow.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._lock = threading.Lock()
        self._running: OrderedDict[str, _Running] = OrderedDict()
        self._capacity = capacity

    def start(self, upload_id: str) -> None:
        with self._lock:
            self._running[upload_id] = _Running()
            while len(self._running) > self._capacity:
                self._running.popitem(last=False)

    def feed(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> Iterator[bytes]:
        with self._lock:
            entry = self._running.get(upload_id)
            if entry is not None and (entry.busy or entry.size != offset):
                del self._running[upload_id]
                entry = None
            if entry is not None:
                entry.busy = True
        if entry is None:
            yield from chunks
            return
        for chunk in chunks:
            entry.hasher.update(chunk)
            yield chunk

    def reached(self, upload_id: str, size: int) -> None:
        """A part that went through :meth:`feed` was stored: the upload now holds ``size`` bytes."""
        with self._lock:
            entry = self._running.get(upload_id)
            if entry is not None and entry.busy:
                entry.size = size
                entry.busy = False

    def digest_at(self, upload_id: str, size: int) -> str | None:
        with self._lock:
            entry = self._running.get(upload_id)
            if entry is None or entry.busy or entry.size != size:
                return None
            return str(entry.hasher.copy().hexdigest())

    def failed(self, upload_id: str) -> None:
        """A part failed: drop the hash if bytes of it were hashed (the store may have kept only
        some of them); a part refused before any byte passed (a wrong offset) leaves it whole."""
        with self._lock:
            entry = self._running.get(upload_id)
            if entry is not None and entry.busy:
                del self._running[upload_id]

    def forget(self, upload_id: str) -> None:
        with self._lock:
            self._running.pop(upload_id, None)
