"""Small pieces every table module of the SQL store shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from cairn.core.errors import RunNotFound
from cairn.store.sql import schema as t

T = TypeVar("T")

#: Values per ``IN (…)``: well under SQLite's limit of bound parameters per statement.
IN_CLAUSE_CHUNK = 500


def dialect_insert(conn: Connection, table: Table) -> Any:
    """An INSERT with ``on_conflict_do_…``, which only the dialects' own Insert has."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def require_run(conn: Connection, run_id: str) -> None:
    """Raises RunNotFound unless the run exists (deleted or not)."""
    project_of_run(conn, run_id)


def project_of_run(conn: Connection, run_id: str) -> str:
    """The id of the run's project. Raises RunNotFound."""
    project_id = conn.scalar(select(t.runs.c.project_id).where(t.runs.c.id == run_id))
    if project_id is None:
        raise RunNotFound(f"no run with id {run_id!r}", details={"run_id": run_id})
    return str(project_id)


def in_chunks(items: Sequence[T], size: int = IN_CLAUSE_CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
