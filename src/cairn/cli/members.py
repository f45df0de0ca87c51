"""``cairn members``: who holds which role on a project or registered model, and granting and
revoking them (docs/access.md, "Roles"). Granting needs the admin role there, or a global admin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.text import Text

from cairn.cli import output
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.core.access import ResourceKind, Role
from cairn.core.access_wire import grant_to_wire

F = TypeVar("F", bound=Callable[..., Any])


def resource_options(command: F) -> F:
    command = click.option("--model", metavar="NAME", default=None, help="A registered model.")(command)
    return click.option("--project", metavar="NAME", default=None, help="A project.")(command)


def _resource(project: str | None, model: str | None) -> tuple[ResourceKind, str]:
    if (project is None) == (model is None):
        raise click.UsageError("name one of --project NAME or --model NAME")
    return (ResourceKind.PROJECT, project) if project is not None else (ResourceKind.MODEL, model)  # type: ignore[return-value]


@click.group("members")
def members_group() -> None:
    """Roles on a project or registered model: viewer, editor, maintainer, admin."""


@members_group.command("list")
@resource_options
@uri_option
@json_option
def list_command(project: str | None, model: str | None, uri: str | None, as_json: bool) -> None:
    """List the users and teams holding a role on --project or --model."""
    kind, resource = _resource(project, model)
    with open_tracking(uri) as tracking:
        grants = tracking.list_grants(kind, resource)
    if as_json:
        output.print_json([grant_to_wire(g) for g in grants])
        return
    if not grants:
        click.echo(f"Nobody holds a role on {kind.value} {resource} (global admins may do everything).")
        return
    table, _ = output.fitted_table(
        [
            output.Column("member", [Text(g.subject, style="bold") for g in grants]),
            output.Column("kind", [Text(g.subject_kind.value) for g in grants]),
            output.Column("role", [Text(g.role.value) for g in grants]),
            output.Column("granted by", [Text(g.granted_by) for g in grants], priority=1),
            output.Column("when", [Text(output.ago(g.granted_at)) for g in grants], priority=2),
        ],
        output.console().width,
    )
    output.show(table)


@members_group.command("grant")
@click.argument("subject", metavar="USER")
@click.argument("role", metavar="ROLE", type=click.Choice([r.value for r in Role]))
@resource_options
@click.option("--team", is_flag=True, help="USER names a team.")
@uri_option
def grant_command(subject: str, role: str, project: str | None, model: str | None, team: bool, uri: str | None) -> None:
    """Give USER (or, with --team, a team) ROLE on --project or --model, replacing the one held."""
    kind, resource = _resource(project, model)
    with open_tracking(uri) as tracking:
        grant = tracking.grant_role(kind, resource, subject, Role(role), team=team)
    click.echo(f"{grant.subject_kind.value} {grant.subject} is {grant.role.value} on {kind.value} {resource}")


@members_group.command("revoke")
@click.argument("subject", metavar="USER")
@resource_options
@click.option("--team", is_flag=True, help="USER names a team.")
@uri_option
def revoke_command(subject: str, project: str | None, model: str | None, team: bool, uri: str | None) -> None:
    """Take USER's (or a team's) role on --project or --model away."""
    kind, resource = _resource(project, model)
    with open_tracking(uri) as tracking:
        tracking.revoke_role(kind, resource, subject, team=team)
    click.echo(f"{'team' if team else 'user'} {subject} no longer holds a role on {kind.value} {resource}")
