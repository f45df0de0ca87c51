"""``cairn users`` and ``cairn teams``: accounts and the groups that hold roles together
(docs/access.md). Against a server they act as the signed-in user (an admin, mostly); on an
embedded store, whoever runs the command operates the database and may do everything.

A password is asked twice without echo (or read from standard input when it is not a
terminal), or made up with ``--generate-password`` and printed once.
"""

from __future__ import annotations

import secrets
import sys

import click
from rich.text import Text

from cairn.cli import output
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.core.access import User
from cairn.core.access_wire import team_to_wire, user_to_wire

#: A generated password: 24 URL-safe characters, 144 random bits.
GENERATED_PASSWORD_BYTES = 18


def ask_password(prompt: str = "Password") -> str:
    """A password from the terminal (asked twice, not echoed), or one line of piped input."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise click.UsageError("no password on standard input")
        return line.rstrip("\r\n")
    password: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return password


def generated_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def _show_password(username: str, password: str) -> None:
    click.echo(f"  password: {password}  (shown once: give it to {username} by a private channel)")


generate_password_option = click.option(
    "--generate-password",
    is_flag=True,
    help="Make up a strong password and print it once, instead of asking for one.",
)


@click.group("users")
def users_group() -> None:
    """Create, list and change user accounts (admins), and service accounts for CI."""


@users_group.command("create")
@click.argument("username")
@click.option("--display-name", metavar="TEXT", default="", help="The name shown in the dashboard. [default: USERNAME]")
@click.option("--email", metavar="ADDRESS", default="", help="The user's email address.")
@click.option("--admin", "is_admin", is_flag=True, help="Make a global admin, who may do everything.")
@click.option(
    "--service",
    "is_service",
    is_flag=True,
    help="A service account for CI and serving: no password, only tokens (cairn tokens create --user).",
)
@generate_password_option
@uri_option
@json_option
def create_command(
    username: str,
    display_name: str,
    email: str,
    is_admin: bool,
    is_service: bool,
    generate_password: bool,
    uri: str | None,
    as_json: bool,
) -> None:
    """Create a user, with a password asked for (or generated and printed once)."""
    password = None if is_service else (generated_password() if generate_password else ask_password())
    with open_tracking(uri) as tracking:
        user = tracking.create_user(
            username,
            password=password,
            display_name=display_name,
            email=email,
            is_admin=is_admin,
            is_service=is_service,
        )
    if as_json:
        output.print_json(user_to_wire(user))
    else:
        kind = "service account" if is_service else ("admin" if is_admin else "user")
        click.echo(f"Created {kind} {user.username}")
    if generate_password and password is not None:
        _show_password(user.username, password)


@users_group.command("list")
@uri_option
@json_option
def list_command(uri: str | None, as_json: bool) -> None:
    """List every user: name, display name, admin or not, enabled or not."""
    with open_tracking(uri) as tracking:
        users = tracking.list_users()
    if as_json:
        output.print_json([user_to_wire(u) for u in users])
        return
    if not users:
        click.echo("No users yet: cairn users create NAME adds one.")
        return
    table, _ = output.fitted_table(
        [
            output.Column("user", [Text(u.username, style="bold") for u in users]),
            output.Column("name", [Text(u.display_name) for u in users], max_width=40, squeeze=True),
            output.Column("kind", [Text(_kind(u)) for u in users]),
            output.Column("status", [Text("disabled", style="red") if u.disabled else Text("enabled") for u in users]),
            output.Column("email", [Text(u.email) for u in users], squeeze=True, priority=1),
            output.Column("source", [Text(u.source) for u in users], squeeze=True, priority=2),
        ],
        output.console().width,
    )
    output.show(table)


def _kind(user: User) -> str:
    return "admin" if user.is_admin else ("service" if user.is_service else "user")


@users_group.command("show")
@click.argument("username")
@uri_option
@json_option
def show_command(username: str, uri: str | None, as_json: bool) -> None:
    """Show one user (oneself; anyone for an admin)."""
    with open_tracking(uri) as tracking:
        user = tracking.get_user(username)
    if as_json:
        output.print_json(user_to_wire(user))
        return
    output.show(
        output.key_values(
            [
                ("user", Text(user.username, style="bold")),
                ("name", user.display_name),
                ("email", user.email or output.MISSING),
                ("kind", _kind(user)),
                ("status", "disabled" if user.disabled else "enabled"),
                ("source", user.source),
                ("created", output.timestamp(user.created_at)),
            ]
        )
    )


@users_group.command("disable")
@click.argument("username")
@uri_option
def disable_command(username: str, uri: str | None) -> None:
    """Disable a user: their sessions end and their tokens are refused at once."""
    with open_tracking(uri) as tracking:
        tracking.update_user(username, disabled=True)
    click.echo(f"Disabled {username}: their sessions ended and their tokens are refused")


@users_group.command("enable")
@click.argument("username")
@uri_option
def enable_command(username: str, uri: str | None) -> None:
    """Enable a disabled user again (their tokens that are not revoked work again)."""
    with open_tracking(uri) as tracking:
        tracking.update_user(username, disabled=False)
    click.echo(f"Enabled {username}")


@users_group.command("reset-password")
@click.argument("username")
@generate_password_option
@uri_option
def reset_password_command(username: str, generate_password: bool, uri: str | None) -> None:
    """Set a user's password (admins; anyone else changes their own in the dashboard)."""
    password = generated_password() if generate_password else ask_password("New password")
    with open_tracking(uri) as tracking:
        tracking.set_password(username, password)
    click.echo(f"Set the password of {username}; their browser sessions ended")
    if generate_password:
        _show_password(username, password)


@users_group.command("make-admin")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Take the admin flag away instead (never from the last admin).")
@uri_option
def make_admin_command(username: str, revoke: bool, uri: str | None) -> None:
    """Make a user a global admin, who may do everything (or, with --revoke, no longer)."""
    with open_tracking(uri) as tracking:
        tracking.update_user(username, is_admin=not revoke)
    click.echo(f"{username} is {'no longer' if revoke else 'now'} an admin")


# -- teams ---------------------------------------------------------------------------------------


@click.group("teams")
def teams_group() -> None:
    """Groups of users that hold roles together (admins change them; anyone lists them)."""


@teams_group.command("create")
@click.argument("name")
@click.option("--description", metavar="TEXT", default="", help="What the team is.")
@uri_option
def team_create_command(name: str, description: str, uri: str | None) -> None:
    """Create an empty team."""
    with open_tracking(uri) as tracking:
        tracking.create_team(name, description)
    click.echo(f"Created team {name}")


@teams_group.command("list")
@uri_option
@json_option
def team_list_command(uri: str | None, as_json: bool) -> None:
    """List the teams with their members."""
    with open_tracking(uri) as tracking:
        teams = tracking.list_teams()
    if as_json:
        output.print_json([team_to_wire(t) for t in teams])
        return
    if not teams:
        click.echo("No teams yet: cairn teams create NAME adds one.")
        return
    table, _ = output.fitted_table(
        [
            output.Column("team", [Text(t.name, style="bold") for t in teams]),
            output.Column("members", [Text(", ".join(t.members) or output.MISSING) for t in teams], squeeze=True),
            output.Column("description", [Text(t.description) for t in teams], squeeze=True, priority=1),
        ],
        output.console().width,
    )
    output.show(table)


@teams_group.command("delete")
@click.argument("name")
@uri_option
def team_delete_command(name: str, uri: str | None) -> None:
    """Delete a team; the roles it held go with it."""
    with open_tracking(uri) as tracking:
        tracking.delete_team(name)
    click.echo(f"Deleted team {name}")


@teams_group.command("add")
@click.argument("team")
@click.argument("usernames", nargs=-1, required=True, metavar="USER...")
@uri_option
def team_add_command(team: str, usernames: tuple[str, ...], uri: str | None) -> None:
    """Add users to a team."""
    with open_tracking(uri) as tracking:
        for username in usernames:
            changed = tracking.set_team_member(team, username, True)
    click.echo(f"{team}: {', '.join(changed.members)}")


@teams_group.command("remove")
@click.argument("team")
@click.argument("usernames", nargs=-1, required=True, metavar="USER...")
@uri_option
def team_remove_command(team: str, usernames: tuple[str, ...], uri: str | None) -> None:
    """Take users out of a team."""
    with open_tracking(uri) as tracking:
        for username in usernames:
            changed = tracking.set_team_member(team, username, False)
    click.echo(f"{team}: {', '.join(changed.members) or 'no members'}")
