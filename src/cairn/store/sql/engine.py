"""Engines and transactions for SQLite and PostgreSQL, and the schema-version gate.

SQLite runs in WAL mode so readers never block the writer, and every write transaction starts
with ``BEGIN IMMEDIATE``: it takes the write lock up front instead of upgrading a read lock
halfway, which is what deadlocks concurrent writers (datasette and mlflow do the same). Reads
use a second engine with plain deferred transactions.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DatabaseError, OperationalError

from cairn.core.addresses import redact
from cairn.core.errors import SchemaOutOfDate, StoreUnreadable, Unavailable
from cairn.store.sql.schema import SCHEMA_HEAD

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_SQLITE_MMAP_BYTES = 1 << 30
_SQLITE_CACHE_KIB = 65_536


def sqlalchemy_url(uri: str) -> str:
    """The SQLAlchemy URL for a store URI: a path, ``sqlite:///…`` or ``postgresql://…``."""
    if uri.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + uri.split("://", 1)[1]
    if uri.startswith(("postgresql+", "sqlite:")):
        return uri
    return f"sqlite:///{Path(uri).expanduser().resolve()}"


@dataclass
class Engines:
    """A read engine and a write engine; on PostgreSQL they are the same."""

    read: Engine
    write: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.write.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.read.dispose()
        if self.write is not self.read:
            self.write.dispose()


def create_engines(uri: str) -> Engines:
    url = sqlalchemy_url(uri)
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)
        return Engines(read=engine, write=engine)
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Engines(read=_sqlite_engine(url, immediate=False), write=_sqlite_engine(url, immediate=True))


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    # Pooled, not opened per request: closing the last connection to a WAL database makes
    # SQLite checkpoint and fsync, which doubled the cost of every ingest batch. A pooled
    # connection is used by one thread at a time, so sharing it across threads is safe.
    engine = create_engine(url, pool_size=4, max_overflow=8, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crash of the process (not of the OS), at a fraction of
        # FULL's fsync cost: what "an acknowledged write survives a server crash" needs.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # LIKE is case-sensitive in PostgreSQL and in Cairn's query language; SQLite's is not
        # unless told.
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        # Searches join each run to its params and summaries at random: with SQLite's default
        # 2 MB page cache, every lookup became a read() call. Reading through a memory map and
        # a larger cache made a 100,000-run search several times faster.
        cursor.execute(f"PRAGMA mmap_size={_SQLITE_MMAP_BYTES}")
        cursor.execute(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


#: The transaction this thread of work is in, if any, with its engine: a transaction opened
#: inside it joins it instead of starting another (see :func:`transaction`).
_open_transaction: contextvars.ContextVar[tuple[Engine, Connection] | None] = contextvars.ContextVar(
    "cairn_open_transaction", default=None
)


@contextlib.contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that commits on success and rolls back on any error.

    Inside another transaction on the same engine, it is that one: the service can make a
    change and record its event (cairn.store.sql.events) as one unit of work, and store methods
    need not know whether they are part of a larger one. An error inside rolls the whole unit
    back.

    A database that cannot be reached, or stays locked past the busy timeout, becomes
    :class:`Unavailable`, which callers may retry.
    """
    joined = _open_transaction.get()
    if joined is not None and joined[0] is engine:
        yield joined[1]
        return
    try:
        with engine.begin() as connection:
            token = _open_transaction.set((engine, connection))
            try:
                yield connection
            finally:
                _open_transaction.reset(token)
    except OperationalError as exc:
        raise Unavailable(f"the metadata store is unavailable: {exc.orig}") from exc
    except DatabaseError as exc:
        if not isinstance(exc.orig, Exception) or "not a database" not in str(exc.orig):
            raise
        raise StoreUnreadable(f"the metadata store is not a readable database: {exc.orig}") from exc


@contextlib.contextmanager
def reading(engines: Engines) -> Iterator[Connection]:
    """A connection to read with: the open transaction's, inside a unit of work (so a store
    method reads back what the unit wrote), otherwise one from the read engine."""
    joined = _open_transaction.get()
    if joined is not None and joined[0] is engines.write:
        yield joined[1]
        return
    with engines.read.connect() as connection:
        yield connection


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision of the database, or None when it has no Cairn tables yet."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])


def check_schema(engines: Engines, uri: str, *, initialise: bool = True) -> None:
    """Refuse a database whose schema is not the one this code expects.

    A database without Cairn tables is set up when ``initialise`` is true (the embedded default
    and a new server store need no separate step); an older one must be upgraded explicitly,
    and the message says how.
    """
    try:
        revision = current_revision(engines.write)
    except OperationalError as exc:
        raise Unavailable(f"cannot open the metadata store {redact(uri)}: {exc.orig}") from exc
    except DatabaseError as exc:
        raise StoreUnreadable(f"{redact(uri)} is not a database Cairn can read: {exc.orig}") from exc
    if revision == SCHEMA_HEAD:
        return
    if revision is None and initialise:
        from cairn.store.sql.migrate import upgrade  # Alembic is slow to import: only when needed

        upgrade(engines.write)
        return
    raise SchemaOutOfDate(
        f"the store {redact(uri)} is at schema revision {revision!r}, this Cairn needs "
        f"{SCHEMA_HEAD!r}; run: cairn db upgrade {redact(uri)}",
        details={"revision": revision, "expected": SCHEMA_HEAD},
    )
