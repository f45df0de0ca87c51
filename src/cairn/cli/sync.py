"""``cairn sync``: send what exited processes left in the spool."""

from __future__ import annotations

import sys

import click

from cairn.cli import output
from cairn.client.sync import SyncReport, pending_writes, sync_spools
from cairn.settings import cairn_home


@click.command("sync")
def sync_command() -> None:
    """Send the writes that exited processes left in the spool.

    When the store cannot be reached, a run keeps its writes in $CAIRN_HOME/spool and sends
    them once the store answers. If the process exits first, they wait there: this command sends
    them, oldest first, each to the store it was meant for, and so it does with a spool that a
    run's finish() released when it gave up waiting, and prediction log files a
    cairn.monitor could not send. Writes the store refuses (say, to a run
    deleted since) are dropped and counted. Exits with status 1 if a store still cannot be
    reached; its writes stay for the next try.
    """
    root = cairn_home() / "spool"
    total = pending_writes(root)
    if total == 0:
        click.echo("Nothing to sync: no process left writes behind.")
        return
    if sys.stderr.isatty():
        with output.progress_bar("Syncing") as bar:
            task = bar.add_task("sync", total=total)
            report = sync_spools(root, progress=lambda done: bar.advance(task, done))
    else:
        report = sync_spools(root)
    click.echo(_summary(report))
    if report.spools_left:
        raise click.exceptions.Exit(1)


def _summary(report: SyncReport) -> str:
    points = output.plural(report.points_sent, "metric point")
    lines = [f"Sent {output.plural(report.writes_sent, 'write')} ({points})."]
    if report.prediction_rows_sent:
        lines[0] = lines[0][:-2] + f", {output.plural(report.prediction_rows_sent, 'prediction row')})."
    if report.writes_refused:
        lines.append(
            f"Dropped {output.plural(report.writes_refused, 'write')} the store refused "
            "(for example to a run deleted since)."
        )
    if report.spools_left:
        lines.append(
            f"Left {output.plural(report.spools_left, 'spool')} in place: the store could not be "
            "reached. Run cairn sync again when it is back."
        )
    return "\n".join(lines)
