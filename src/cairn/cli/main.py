"""The ``cairn`` command line: one module per command group, assembled here."""

from __future__ import annotations

from typing import Any

import click

from cairn import __version__
from cairn.cli.db import db_group
from cairn.cli.projects import projects_group
from cairn.cli.runs import runs_group
from cairn.cli.serve import server_command, ui_command
from cairn.cli.sync import sync_command
from cairn.core.errors import CairnError


class CairnGroup(click.Group):
    """Turns Cairn's own errors, from any subcommand, into one clean ``Error: ...`` line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CairnError as exc:
            raise click.ClickException(_one_line(exc.message)) from exc
        except OSError as exc:  # a store path that cannot be created or read
            where = f": {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from exc


def _one_line(message: str) -> str:
    # A driver's message may span lines ("…refused\n\tIs the server running…?").
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


@click.group(cls=CairnGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cairn")
def cli() -> None:
    """Cairn: log every experiment, version every model, share one dashboard.

    Commands that read runs find the store through --uri, else $CAIRN_URI, else the embedded
    store in $CAIRN_HOME (default ~/.cairn). A URI is a path, sqlite:///PATH,
    postgresql://USER@HOST/DB, or http(s)://HOST:PORT of a Cairn server.
    """


cli.add_command(projects_group)
cli.add_command(runs_group)
cli.add_command(sync_command)
cli.add_command(db_group)
cli.add_command(server_command)
cli.add_command(ui_command)


def main() -> None:
    cli()
