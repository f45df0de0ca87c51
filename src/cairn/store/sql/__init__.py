"""SQL implementation of the metadata store (the only package that imports SQLAlchemy)."""

from cairn.store.sql.store import SqlStore

__all__ = ["SqlStore"]
