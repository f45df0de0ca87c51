"""Alembic, driven from code: ``cairn db upgrade`` and the first-use setup of a new store."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine

from cairn.core.errors import SchemaOutOfDate

_MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default).

    A database at a revision this version does not know (made by a newer Cairn) is refused.
    """
    try:
        command.upgrade(alembic_config(engine), revision)
    except CommandError as exc:
        raise SchemaOutOfDate(f"cannot upgrade the store: {exc}", details={"target": revision}) from exc


def head_revision() -> str:
    script = ScriptDirectory(str(_MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head
