"""``cairn import``: bring another tool's tracking data into Cairn."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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


@import_group.command("tensorboard")
@click.argument("logdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--project",
    metavar="P",
    default=None,
    help="The project of the runs. [default: $CAIRN_PROJECT, else LOGDIR's folder name]",
)
@uri_option
def import_tensorboard_command(logdir: Path, project: str | None, uri: str | None) -> None:
    """Import TensorBoard event files: every folder under LOGDIR (LOGDIR too) that holds event
    files becomes a run named by its path under LOGDIR.

    Scalars become metrics with their steps and wall times, HParams-plugin hyperparameters
    params, images artifacts images/TAG/step-STEP.png, text summaries artifacts
    text/TAG/step-STEP.txt; other plugins (histograms, graphs, audio...) are counted, not
    imported. Each run is tagged tensorboard.source and tensorboard.digest: importing again
    skips unchanged folders and re-imports changed ones in place of their old run. A folder
    with an event file that cannot be read to its end is listed with [invalid_event_file] and
    nothing of it is written; the rest go on and the exit status is then 1.
    """
    from cairn.client.tensorboard_import import import_tensorboard

    target = project or os.environ.get("CAIRN_PROJECT") or logdir.resolve().name
    with open_tracking(uri) as tracking:
        if sys.stderr.isatty():
            with output.progress_bar("Importing") as bar:
                task = bar.add_task("import", total=None)
                report = import_tensorboard(
                    tracking,
                    logdir,
                    project=target,
                    on_total=lambda total: bar.update(task, total=total),
                    on_step=lambda: bar.advance(task),
                )
        else:
            report = import_tensorboard(tracking, logdir, project=target)
    for what, reason in report.failed:
        click.echo(f"Failed: {what}: {reason}", err=True)
    left_out = ", ".join(f"{plugin} ({count})" for plugin, count in sorted(report.left_out.items()))
    if left_out:
        click.echo(f"Not imported: {left_out}", err=True)
    click.echo(
        f"Imported {output.plural(report.imported, 'run')} into project {target!r}; "
        f"skipped {report.skipped} unchanged; replaced {report.replaced} changed; {len(report.failed)} failed."
    )
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
