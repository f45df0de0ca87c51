"""``cairn reproduce``: write a run's code, environment and command back, and run it again."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import click

from cairn.cli import output
from cairn.cli.diff import render
from cairn.cli.options import open_tracking, uri_option
from cairn.client.connect import resolve_uri
from cairn.client.snapshots import reproduce
from cairn.core.query.text import comparison


@click.command("reproduce")
@click.argument("run_id", metavar="RUN")
@click.option(
    "-o",
    "--output",
    "destination",
    metavar="DIR",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder to write the run's code into. [default: ./reproduce-RUN]",
)
@click.option("--run", "run_again", is_flag=True, help="Run the command in DIR as a new run, then show what changed.")
@uri_option
def reproduce_command(run_id: str, destination: str | None, run_again: bool, uri: str | None) -> None:
    """Write what made RUN into DIR: its code tree exactly as it was (uncommitted changes and
    untracked files included), and under DIR/.cairn/ the pinned requirements, the environment
    and the command. Prints the command; --run executes it as a new run tagged reproduces=RUN
    and shows how its metrics differ from RUN's.
    """
    folder = Path(destination or f"reproduce-{run_id[:8]}").resolve()
    with open_tracking(uri) as tracking:
        original = tracking.get_run(run_id)
        result = reproduce(tracking, run_id, folder)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"Wrote {result.files} files of run {run_id[:8]} ({original.name}) to {folder}")
    if result.matches_capture is not None:
        verdict = "the tree captured at the run's start" if result.matches_capture else "NOT the tree captured"
        click.echo(f"Tree digest {result.tree_digest}: {verdict}")
        if not result.matches_capture:
            raise click.ClickException("the written code differs from what the run captured")
    if result.requirements is not None:
        click.echo(f"Environment: pip install -r {result.requirements}")
    if not result.argv:
        click.echo("The run's command was not captured; nothing to run.")
        if run_again:
            raise SystemExit(1)
        return
    line = shlex.join(result.argv)
    click.echo(f"Command: cd {shlex.quote(str(result.cwd))} && {line}")
    if not run_again:
        return
    environment = {**os.environ, "CAIRN_REPRODUCES": run_id, "CAIRN_URI": resolve_uri(uri)}
    done = subprocess.run([sys.executable, *result.argv[1:]], cwd=result.cwd, env=environment, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"the reproduced run exited with status {done.returncode}")
    with open_tracking(uri) as tracking:
        rerun = tracking.list_runs(original.project, where=reproductions_of(run_id), limit=1).items
        if not rerun:
            raise click.ClickException("the command ran but logged no run tagged reproduces=RUN")
        diff = tracking.diff_runs(rerun[0].id, run_id)
    output.show(*render(diff, nearest=False))


def reproductions_of(run_id: str) -> str:
    """The query for the runs made by ``cairn reproduce RUN --run`` (tagged reproduces=RUN)."""
    return comparison("tags.reproduces", "=", run_id)
