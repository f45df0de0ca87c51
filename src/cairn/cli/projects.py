"""``cairn projects``: the projects of a store."""

from __future__ import annotations

import click
from rich.text import Text

from cairn.cli import output
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.core.clock import now_ms
from cairn.core.wire import project_to_wire


@click.group("projects")
def projects_group() -> None:
    """List the projects of a store."""


@projects_group.command("list")
@uri_option
@json_option
def list_command(uri: str | None, as_json: bool) -> None:
    """List the projects, with their run counts and last activity.

    Newest projects first. Last activity is when a run last started or ended.
    """
    with open_tracking(uri) as tracking:
        projects = tracking.list_projects()
    if as_json:
        output.print_json([project_to_wire(p) for p in projects])
        return
    if not projects:
        click.echo("No projects yet: a run logged with cairn.init(project=...) creates one.")
        return
    described = any(p.description for p in projects)
    headers = ["name", "runs", "last activity", "created"] + (["description"] if described else [])
    table = output.table(*headers)
    table.columns[1].justify = "right"
    now = now_ms()
    for project in projects:
        row = [
            Text(project.name, style="bold"),
            Text(str(project.run_count)),
            Text(output.ago(project.last_activity, now=now)),
            Text(output.timestamp(project.created_at)),
        ]
        if described:
            first_line = next(iter(project.description.splitlines()), "")
            row.append(Text(output.truncate(first_line, 60)))
        table.add_row(*row)
    output.show(table)
