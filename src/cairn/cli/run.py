"""``cairn run``: any command as a run, for scripts that cannot (or need not) be changed."""

from __future__ import annotations

import click

from cairn.cli.errors import CommandError
from cairn.cli.options import uri_option
from cairn.client.wrapped import run_command
from cairn.core.errors import CommandNotFound

#: What a shell exits with for a command it cannot find, and for one it found but cannot start.
_NOT_FOUND_EXIT = 127
_NOT_EXECUTABLE_EXIT = 126


def _tag(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for value in values:
        key, equals, text = value.partition("=")
        if not equals or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", ctx=ctx, param=param)
        tags[key] = text
    return tags


@click.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--project",
    metavar="P",
    default=None,
    help="The run's project. [default: $CAIRN_PROJECT, else the current folder's name]",
)
@click.option("--name", metavar="N", default=None, help="The run's name. [default: a generated one]")
@click.option(
    "--tag", "tags", metavar="KEY=VALUE", multiple=True, callback=_tag, help="A tag of the run; may be repeated."
)
@uri_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run_command_cli(
    project: str | None, name: str | None, tags: dict[str, str], uri: str | None, command: tuple[str, ...]
) -> None:
    """Run COMMAND as a run: cairn run [OPTIONS] -- COMMAND [ARGS]...

    The run records the command line (tag cairn.command), the code of the current folder's git
    work tree, the environment, system metrics and the console: the command's stdout and stderr
    reach the terminal as usual and become the artifact cairn/console.log. The command gets
    CAIRN_RUN_ID, CAIRN_URI and CAIRN_PROJECT, so that cairn.init() or cairn.autolog() inside it
    logs into this run. Its exit status becomes the run's status (0 finished, another failed, a
    signal or Ctrl-C killed) and is the exit status of cairn run; a command that is not found
    exits with 127 and leaves no run.
    """
    try:
        outcome = run_command(list(command), project=project, name=name, tags=tags, uri=uri)
    except CommandNotFound as exc:
        click.echo(f"Error: {CommandError.of(exc).message}", err=True)
        raise click.exceptions.Exit(_NOT_FOUND_EXIT) from exc
    except OSError as exc:  # found, but the system would not start it; its run ended failed
        click.echo(f"Error: {command[0]}: {exc.strerror or exc}", err=True)
        raise click.exceptions.Exit(_NOT_EXECUTABLE_EXIT) from exc
    raise click.exceptions.Exit(outcome.exit_code)
