"""``cairn tokens``: API tokens for scripts, CI and the SDK (docs/access.md). ``create`` prints
the token once; later listings show only its first characters and when it was last used."""

from __future__ import annotations

import click
from rich.text import Text

from cairn.cli import output
from cairn.cli.options import Duration, json_option, open_tracking, uri_option
from cairn.core.access import ApiToken
from cairn.core.access_wire import token_to_wire
from cairn.core.clock import now_ms


@click.group("tokens")
def tokens_group() -> None:
    """Create, list and revoke API tokens (send one as CAIRN_TOKEN)."""


@tokens_group.command("create")
@click.argument("name")
@click.option("--user", "username", metavar="NAME", default=None, help="Admins: make it for this service account.")
@click.option(
    "--expires-in",
    type=Duration(),
    default=None,
    metavar="DURATION",
    help="Let it expire after 90m, 12h, 30d, 2w… (at most a year). [default: never]",
)
@uri_option
@json_option
def create_command(name: str, username: str | None, expires_in: int | None, uri: str | None, as_json: bool) -> None:
    """Create an API token named NAME and print it, once."""
    expires_at = None if expires_in is None else now_ms() + expires_in * 1000
    with open_tracking(uri) as tracking:
        token, secret = tracking.create_token(name, username=username, expires_at=expires_at)
    if as_json:
        output.print_json({"token": token_to_wire(token), "secret": secret})
        return
    click.echo(f"Created token {token.id} ({token.name}) for {token.username}")
    if token.expires_at is not None:
        click.echo(f"  expires: {output.timestamp(token.expires_at)}")
    click.echo(f"  token:   {secret}")
    click.echo("  (shown once: keep it in a secret store; send it as CAIRN_TOKEN)")


@tokens_group.command("list")
@click.option("--user", "username", metavar="NAME", default=None, help="Admins: this user's tokens.")
@click.option("--all", "everyone", is_flag=True, help="Admins: everyone's tokens.")
@uri_option
@json_option
def list_command(username: str | None, everyone: bool, uri: str | None, as_json: bool) -> None:
    """List API tokens (one's own by default): never the tokens themselves."""
    with open_tracking(uri) as tracking:
        tokens = tracking.list_tokens("*" if everyone else username)
    if as_json:
        output.print_json([token_to_wire(t) for t in tokens])
        return
    if not tokens:
        click.echo("No tokens: cairn tokens create NAME makes one.")
        return
    now = now_ms()
    table, _ = output.fitted_table(
        [
            output.Column("id", [Text(t.id) for t in tokens]),
            output.Column("name", [Text(t.name, style="bold") for t in tokens], max_width=40, squeeze=True),
            output.Column("user", [Text(t.username) for t in tokens]),
            output.Column("starts", [Text(t.hint + "…") for t in tokens]),
            output.Column("status", [_status(t, now) for t in tokens]),
            output.Column("last used", [Text(output.ago(t.last_used_at, now=now)) for t in tokens], priority=1),
            output.Column("created", [Text(output.ago(t.created_at, now=now)) for t in tokens], priority=2),
        ],
        output.console().width,
    )
    output.show(table)


def _status(token: ApiToken, now: int) -> Text:
    if token.revoked_at is not None:
        return Text("revoked", style="red")
    if token.expires_at is not None and token.expires_at <= now:
        return Text("expired", style="dim")
    if token.expires_at is not None:
        return Text(f"until {output.timestamp(token.expires_at)}")
    return Text("active", style="green")


@tokens_group.command("revoke")
@click.argument("token_ids", nargs=-1, required=True, metavar="ID...")
@uri_option
def revoke_command(token_ids: tuple[str, ...], uri: str | None) -> None:
    """Revoke API tokens at once (one's own; anyone's for an admin)."""
    with open_tracking(uri) as tracking:
        for token_id in token_ids:
            token = tracking.revoke_token(token_id)
            click.echo(f"Revoked token {token.id} ({token.name}) of {token.username}")
