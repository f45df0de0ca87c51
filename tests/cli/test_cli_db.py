"""``cairn db upgrade`` and ``cairn db current`` on SQLite files and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from cairn.store.sql.schema import SCHEMA_HEAD

from .helpers import Invoke, Seeded


def test_upgrade_a_new_file_then_again(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "new.db"
    first = invoke("db", "upgrade", str(path))
    assert first.stdout == f"Upgraded {path} from an empty database to {SCHEMA_HEAD}.\n"
    assert path.is_file()
    again = invoke("db", "upgrade", str(path))
    assert again.stdout == f"{path} is already at {SCHEMA_HEAD}, the newest schema; nothing to do.\n"
    assert invoke("db", "current", str(path), "--check").stdout == f"{path}: {SCHEMA_HEAD} (the newest schema)\n"


def test_upgrade_takes_sqlite_uris_and_cairn_uri(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'by-uri.db'}"
    assert invoke("db", "upgrade", uri).stdout.startswith(f"Upgraded {uri} from an empty database")
    monkeypatch.setenv("CAIRN_URI", uri)
    assert "already at" in invoke("db", "upgrade").stdout
    assert SCHEMA_HEAD in invoke("db", "current").stdout


def test_current_of_a_missing_file_does_not_create_it(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    assert "no database yet" in invoke("db", "current", str(path)).stdout
    invoke("db", "current", str(path), "--check", code=1)
    assert not path.exists()


def test_current_of_an_empty_database(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    assert "no Cairn tables yet" in invoke("db", "current", str(path)).stdout
    invoke("db", "current", str(path), "--check", code=1)


def test_a_store_at_an_unknown_revision(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    with sqlite3.connect(store_uri) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    connection.close()
    current = invoke("db", "current", store_uri, "--check", code=1)
    assert f"9999_from_the_future; this Cairn needs {SCHEMA_HEAD}: run cairn db upgrade" in current.stdout
    upgrade = invoke("db", "upgrade", store_uri, code=1)
    assert upgrade.stderr.startswith(f"Error: cannot upgrade {store_uri} from 9999_from_the_future")
    assert "newer Cairn" in upgrade.stderr
    # Every other command refuses the store with the command to run.
    refused = invoke("projects", "list", "--uri", store_uri, code=1)
    assert f"run: cairn db upgrade {store_uri}" in refused.stderr


def test_a_server_url_is_refused(invoke: Invoke) -> None:
    result = invoke("db", "upgrade", "http://127.0.0.1:5055", code=2)
    assert "is a server; cairn db works on the database itself" in result.stderr


def test_an_unreachable_postgresql_is_a_clean_error(invoke: Invoke) -> None:
    result = invoke("db", "upgrade", "postgresql://nobody@127.0.0.1:1/nothing", code=1)
    assert result.stderr.startswith("Error: the metadata store is unavailable")
    assert result.stderr.count("\n") == 1


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """An empty database of its own, beside the session's."""
    admin = sqlalchemy.create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    name = f"{postgres_url.rsplit('/', 1)[1]}_cli"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.postgres
def test_upgrade_postgresql(invoke: Invoke, fresh_postgres_url: str) -> None:
    assert "no Cairn tables yet" in invoke("db", "current", fresh_postgres_url).stdout
    assert f"from an empty database to {SCHEMA_HEAD}" in invoke("db", "upgrade", fresh_postgres_url).stdout
    assert "already at" in invoke("db", "upgrade", fresh_postgres_url).stdout
    invoke("db", "current", fresh_postgres_url, "--check")
