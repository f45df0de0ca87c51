"""``cairn artifacts`` and ``cairn datasets``: what runs kept, downloaded; the data they used."""

from __future__ import annotations

import click
from rich.text import Text

from cairn.cli import output
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.client.artifacts import download
from cairn.core.wire import artifact_to_wire, dataset_version_to_wire


@click.group("artifacts")
def artifacts_group() -> None:
    """List and download the files runs kept (models, plots, tables…)."""


@artifacts_group.command("list")
@click.argument("run_id", metavar="RUN")
@click.argument("path", required=False, default="")
@uri_option
@json_option
def list_command(run_id: str, path: str, uri: str | None, as_json: bool) -> None:
    """List the files of RUN, or those at PATH (a file or a folder) and below."""
    with open_tracking(uri) as tracking:
        artifacts = tracking.list_artifacts(run_id, path)
    if as_json:
        output.print_json([artifact_to_wire(a) for a in artifacts])
        return
    if not artifacts:
        click.echo(f"Run {run_id} has no artifacts" + (f" at {path!r}." if path else "."))
        return
    table = output.table("path", "size", "kind", "sha256")
    for artifact in artifacts:
        table.add_row(Text(artifact.path), output.size(artifact.size), artifact.kind, artifact.digest[:12])
    output.show(table)
    total = sum(a.size for a in artifacts)
    click.echo(f"{output.plural(len(artifacts), 'file')}, {output.size(total)}")


@artifacts_group.command("get")
@click.argument("run_id", metavar="RUN")
@click.argument("path")
@click.option(
    "-o",
    "--output",
    "destination",
    metavar="DIR",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to download into.",
)
@uri_option
def get_command(run_id: str, path: str, destination: str, uri: str | None) -> None:
    """Download the file or folder at PATH of RUN into DIR.

    A file lands as DIR/NAME, a folder as DIR/FOLDER/…; every file is checked against its
    SHA-256 before it takes its name.
    """
    with open_tracking(uri) as tracking:
        written = download(tracking, run_id, path, destination)
    total = sum(p.stat().st_size for p in written)
    for file in written:
        click.echo(str(file))
    click.echo(f"{output.plural(len(written), 'file')}, {output.size(total)}, checksums verified", err=True)


@click.group("datasets")
def datasets_group() -> None:
    """The dataset versions a project's runs used."""


@datasets_group.command("list")
@click.argument("project")
@click.option("--name", default=None, metavar="NAME", help="Only the versions of this dataset.")
@uri_option
@json_option
def datasets_list_command(project: str, name: str | None, uri: str | None, as_json: bool) -> None:
    """List the dataset versions of PROJECT, newest first per name, with the runs that used them."""
    with open_tracking(uri) as tracking:
        versions = tracking.list_datasets(project, name)
    if as_json:
        output.print_json([dataset_version_to_wire(v) for v in versions])
        return
    if not versions:
        click.echo(f"No datasets in project {project!r}.")
        return
    table = output.table("name", "digest", "source", "rows", "cols", "stored", "runs")
    for version in versions:
        table.add_row(
            Text(version.name),
            version.digest[:12],
            Text(version.source_uri or version.source_kind),
            "" if version.rows is None else str(version.rows),
            "" if version.columns is None else str(version.columns),
            "yes" if version.stored else "no",
            Text(", ".join(f"{run_id[:8]} ({context})" for run_id, context in version.used_by)),
        )
    output.show(table)
