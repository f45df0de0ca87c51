"""``cairn db``: the schema revision of a metadata store, and upgrading it.

These commands work on the database itself, so they take a store URI (a path, ``sqlite:///…``,
``postgresql://…``), never a server's ``http://`` address.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from cairn.cli.errors import CommandError
from cairn.client.connect import is_remote, resolve_uri
from cairn.core.addresses import redact
from cairn.core.errors import SchemaOutOfDate
from cairn.store.sql.engine import (
    Engines,
    create_engines,
    current_revision,
    sqlalchemy_url,
    transaction,
)
from cairn.store.sql.schema import SCHEMA_HEAD


@click.group("db")
def db_group() -> None:
    """Check and upgrade the schema of a metadata store.

    For SQLite and PostgreSQL stores; run them where the database is reachable.
    """


@db_group.command("upgrade")
@click.argument("uri", required=False, metavar="[URI]")
def upgrade_command(uri: str | None) -> None:
    """Upgrade a store to the newest schema (Alembic migrations to head).

    URI is a path, sqlite:///PATH or postgresql://USER@HOST/DB; unset, $CAIRN_URI, else
    $CAIRN_HOME/cairn.db. A new database gets every table. Run it with the servers stopped, or
    at least before starting the new version: a server refuses a store at an older schema.
    """
    target = _database_uri(uri)
    with _engines(target) as engines:
        before = current_revision(engines.write)
        if before == SCHEMA_HEAD:
            click.echo(f"{redact(target)} is already at {SCHEMA_HEAD}, the newest schema; nothing to do.")
            return
        # Alembic is slow to import: only when there is something to do.
        from cairn.store.sql.migrate import upgrade

        try:
            upgrade(engines.write)
        except SchemaOutOfDate as exc:  # a revision this version does not know: a newer Cairn's
            raise CommandError.of(
                exc, f"cannot upgrade {redact(target)} from {_describe(before)}: {exc}. Was it made by a newer Cairn?"
            ) from exc
        after = current_revision(engines.write)
    click.echo(f"Upgraded {redact(target)} from {_describe(before)} to {after}.")


@db_group.command("current")
@click.argument("uri", required=False, metavar="[URI]")
@click.option("--check", is_flag=True, help="Exit with status 1 unless the store is at the newest schema.")
def current_command(uri: str | None, check: bool) -> None:
    """Show the schema revision of a store, and whether it is the newest.

    URI is a path, sqlite:///PATH or postgresql://USER@HOST/DB; unset, $CAIRN_URI, else
    $CAIRN_HOME/cairn.db. A SQLite file that does not exist is reported, not created.
    """
    target = _database_uri(uri)
    if _missing_sqlite_file(target):
        revision = None
        click.echo(f"{redact(target)}: no database yet (cairn db upgrade creates it at {SCHEMA_HEAD}).")
    else:
        with _engines(target) as engines:
            revision = current_revision(engines.write)
        if revision == SCHEMA_HEAD:
            click.echo(f"{redact(target)}: {revision} (the newest schema)")
        elif revision is None:
            click.echo(f"{redact(target)}: no Cairn tables yet (cairn db upgrade creates them).")
        else:
            click.echo(
                f"{redact(target)}: {revision}; this Cairn needs {SCHEMA_HEAD}: run cairn db upgrade {redact(target)}"
            )
    if check and revision != SCHEMA_HEAD:
        raise click.exceptions.Exit(1)


def _database_uri(uri: str | None) -> str:
    target = resolve_uri(uri)
    if is_remote(target):
        raise click.UsageError(
            f"{target} is a server; cairn db works on the database itself. Give the store URI the "
            "server runs with (a path, sqlite:///PATH or postgresql://…)."
        )
    return target


@contextmanager
def _engines(uri: str) -> Iterator[Engines]:
    engines = create_engines(uri)
    try:
        # An empty transaction turns an unreachable database into a clean Unavailable error.
        with transaction(engines.write):
            pass
        yield engines
    finally:
        engines.dispose()


def _missing_sqlite_file(uri: str) -> bool:
    url = sqlalchemy_url(uri)
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        return False
    return not Path(url.removeprefix("sqlite:///")).exists()


def _describe(revision: str | None) -> str:
    return "an empty database" if revision is None else revision
