"""Server secrets: random keys made once per store and shared by every process that opens it.

A secret is made by whichever process first needs it and kept in the store's
``server_secrets`` table, so page tokens signed by one server replica verify on another, and
after a restart. Two processes may need it at the same moment: each inserts its own random
bytes only if no row is there yet (``ON CONFLICT DO NOTHING``) and then reads the row back, so
both end up with the one that won. A secret never changes, so each store object caches it.
"""

from __future__ import annotations

import secrets
import threading

from sqlalchemy import select

from cairn.core.clock import now_ms
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.rows import dialect_insert

#: The HMAC-SHA256 key of page tokens (see .page_tokens).
PAGE_TOKEN_KEY = "page_token_hmac"
#: Bytes of a new secret: the size of an HMAC-SHA256 key that adds nothing by being longer.
SECRET_BYTES = 32


class ServerSecrets:
    """The store's secrets by name, read (or made) on first use and then kept in memory."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> bytes:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        with self._lock:  # one round trip per process, not one per thread that arrives first
            if name not in self._cache:
                self._cache[name] = self._read(name) or self._create(name)
            return self._cache[name]

    def page_token_key(self) -> bytes:
        return self.get(PAGE_TOKEN_KEY)

    def _read(self, name: str) -> bytes | None:
        with reading(self._engines) as conn:
            value = conn.scalar(select(t.server_secrets.c.value).where(t.server_secrets.c.name == name))
        return None if value is None else bytes(value)

    def _create(self, name: str) -> bytes:
        row = {"name": name, "value": secrets.token_bytes(SECRET_BYTES), "created_at": now_ms()}
        with transaction(self._engines.write) as conn:
            conn.execute(dialect_insert(conn, t.server_secrets).values(row).on_conflict_do_nothing())
            value = conn.scalar(select(t.server_secrets.c.value).where(t.server_secrets.c.name == name))
        assert value is not None, "the row was inserted, or another process's was already there"
        return bytes(value)
