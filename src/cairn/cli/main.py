"""The ``cairn`` command line."""

from __future__ import annotations

import click

from cairn import __version__
from cairn.cli.serve import server_command, ui_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cairn")
def cli() -> None:
    """Cairn: log every experiment, version every model, share one dashboard."""


cli.add_command(server_command)
cli.add_command(ui_command)


def main() -> None:
    cli()
