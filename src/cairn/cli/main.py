"""The ``cairn`` command line: one module per command group, assembled here."""

from __future__ import annotations

import importlib
from typing import Any

import click

from cairn import __version__
from cairn.cli.errors import CommandError
from cairn.core.errors import CairnError, InvalidQuery

#: Each command's module is imported only when that command runs: `cairn server` then holds
#: no table or progress-bar code in the supervisor that every worker is forked from.
_COMMANDS = {
    "projects": "cairn.cli.projects:projects_group",
    "artifacts": "cairn.cli.artifacts:artifacts_group",
    "datasets": "cairn.cli.artifacts:datasets_group",
    "gc": "cairn.cli.gc:gc_command",
    "import": "cairn.cli.imports:import_group",
    "login": "cairn.cli.login:login_command",
    "logout": "cairn.cli.login:logout_command",
    "members": "cairn.cli.members:members_group",
    "models": "cairn.cli.models:models_group",
    "monitor": "cairn.cli.monitors:monitor_group",
    "monitors": "cairn.cli.monitors:monitors_group",
    "reproduce": "cairn.cli.reproduce:reproduce_command",
    "run": "cairn.cli.run:run_command_cli",
    "reviews": "cairn.cli.reviews:reviews_group",
    "runs": "cairn.cli.runs:runs_group",
    "sync": "cairn.cli.sync:sync_command",
    "teams": "cairn.cli.users:teams_group",
    "tokens": "cairn.cli.tokens:tokens_group",
    "db": "cairn.cli.db:db_group",
    "diff": "cairn.cli.diff:diff_command",
    "events": "cairn.cli.events:events_group",
    "serve": "cairn.cli.serving:serve_command",
    "server": "cairn.cli.serve:server_command",
    "ui": "cairn.cli.serve:ui_command",
    "users": "cairn.cli.users:users_group",
    "webhooks": "cairn.cli.webhooks:webhooks_group",
    "whoami": "cairn.cli.login:whoami_command",
    "predict": "cairn.cli.predict:predict_command",
}


class CairnGroup(click.Group):
    """Loads commands lazily, and turns Cairn's own errors, from any subcommand, into one
    clean ``Error: MESSAGE [code]`` line (cli/errors.py)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidQuery as exc:
            raise CommandError.pointed(exc) from exc
        except CairnError as exc:
            raise CommandError.of(exc) from exc
        except OSError as exc:  # a store path that cannot be created or read
            where = f": {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from exc


@click.group(cls=CairnGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cairn")
def cli() -> None:
    """Cairn: log every experiment, version every model, share one dashboard.

    Commands that read runs find the store through --uri, else $CAIRN_URI, else the embedded
    store in $CAIRN_HOME (default ~/.cairn). A URI is a path, sqlite:///PATH,
    postgresql://USER@HOST/DB, or http(s)://HOST:PORT of a Cairn server.
    """


def main() -> None:
    cli()
