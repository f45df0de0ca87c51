"""``cairn import``: bring another tool's tracking data into Cairn."""

from __future__ import annotations

import sys

import click

from cairn.cli import output
from cairn.cli.options import open_tracking, uri_option
from cairn.client.mlflow_import import ImportReport, SourceError, import_mlflow


@click.group("import")
def import_group() -> None:
    """Import runs from another tracking tool."""


@import_group.command("mlflow")
@click.argument("source")
@click.option(
    "--project-prefix", default="", metavar="P", help="Put before each experiment's name to name its project."
)
@uri_option
def import_mlflow_command(source: str, project_prefix: str, uri: str | None) -> None:
    """Import an MLflow tracking store: SOURCE is what MLflow takes as a tracking URI, a
    server (http://HOST:PORT), a database (sqlite:///PATH, postgresql://…) or an mlruns
    folder (a path or file:// URI).

    Each active experiment becomes the project P+NAME; its runs come with their name, user,
    status, times, params, tags, full metric histories, parent links and artifacts, and the
    tag mlflow.run_id. Runs imported before are skipped, so running it again doubles
    nothing. A run that cannot be imported is listed and the rest go on; the exit status is
    then 1. Logged and registered models are not imported yet (docs/mlflow.md).
    """
    try:
        with open_tracking(uri) as tracking:
            if sys.stderr.isatty():
                with output.progress_bar("Importing") as bar:
                    task = bar.add_task("import", total=None)
                    report = import_mlflow(
                        tracking,
                        source,
                        project_prefix=project_prefix,
                        on_total=lambda total: bar.update(task, total=total),
                        on_run=lambda: bar.advance(task),
                    )
            else:
                report = import_mlflow(tracking, source, project_prefix=project_prefix)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    for what, reason in report.failed:
        click.echo(f"Failed: {what}: {reason}", err=True)
    click.echo(_summary(report))
    if report.failed:
        raise click.exceptions.Exit(1)


def _summary(report: ImportReport) -> str:
    return (
        f"Imported {output.plural(report.imported, 'run')} from "
        f"{output.plural(report.experiments, 'experiment')}; skipped {report.skipped} already imported; "
        f"{len(report.failed)} failed."
    )
