"""``cairn import``: bring another tool's tracking data into Cairn."""

from __future__ import annotations

import sys

import click

from cairn.cli import output
from cairn.cli.options import open_tracking, uri_option
from cairn.client.mlflow_import import import_mlflow
from cairn.client.mlflow_source import ImportReport, SourceError


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
    tag mlflow.run_id; a run's MLflow 3 logged models come into its artifacts at
    models/MODEL_ID. Then each registered model comes with its description, tags and versions
    (tagged mlflow.version), their stages and aliases. Runs and versions imported before are
    skipped, so running it again doubles nothing. Whatever cannot be imported is listed and
    the rest go on; the exit status is then 1.
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
                        on_step=lambda: bar.advance(task),
                    )
            else:
                report = import_mlflow(tracking, source, project_prefix=project_prefix)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    for what, reason in report.failed:
        click.echo(f"Failed: {what}: {reason}", err=True)
    click.echo(_summary(report))
    if report.models_imported or report.models_skipped:
        click.echo(_registry_summary(report))
    if report.failed:
        raise click.exceptions.Exit(1)


def _summary(report: ImportReport) -> str:
    return (
        f"Imported {output.plural(report.imported, 'run')} from "
        f"{output.plural(report.experiments, 'experiment')}; skipped {report.skipped} already imported; "
        f"{len(report.failed)} failed."
    )


def _registry_summary(report: ImportReport) -> str:
    return (
        f"Registered models: {report.models_imported} imported, {report.models_skipped} already there; "
        f"versions: {report.versions_imported} imported, {report.versions_skipped} already imported."
    )
