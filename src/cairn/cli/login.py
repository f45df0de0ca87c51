"""``cairn login``, ``cairn logout`` and ``cairn whoami`` (docs/access.md, "Signing in from the
CLI and SDK").

``login`` asks for a user name and password (the password not echoed; read from standard input
when that is not a terminal), trades them for a new personal API token and stores it for that
server in the user's config file (0600). With ``--browser`` (or Enter at an empty user name on a
terminal) it signs in through the dashboard instead (cli/browser_login.py), which works for
people who sign in only by single sign-on. Every later command and ``cairn.init`` against that
URL sends it, unless ``CAIRN_TOKEN`` names another. ``logout`` revokes the token on the server
and forgets it.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import TYPE_CHECKING

import click

from cairn.cli.browser_login import DEFAULT_TIMEOUT_S, sign_in_in_browser
from cairn.cli.errors import CommandError
from cairn.cli.options import open_tracking, uri_option
from cairn.client.connect import is_remote
from cairn.client.credentials import StoredToken, forget_token, server_key, store_token, stored_token
from cairn.core.errors import CairnError, Unauthenticated, Unavailable

if TYPE_CHECKING:
    from cairn.client.http import HttpTracking

URL_ARGUMENT = click.argument("url", required=False, metavar="[URL]")


def _server_url(url: str | None) -> str:
    found = url or os.environ.get("CAIRN_URI", "")
    if not found or not is_remote(found):
        raise click.UsageError("name the server: cairn login http(s)://HOST:PORT (or set CAIRN_URI to it)")
    return server_key(found)


def _http(url: str, token: str | None = None) -> HttpTracking:
    from cairn.client.http import HttpTracking

    return HttpTracking(url, token=token)


@click.command("login")
@URL_ARGUMENT
@click.option("-u", "--username", metavar="NAME", default=None, help="Who signs in. [default: asked]")
@click.option(
    "--browser",
    is_flag=True,
    help="Sign in through the dashboard in a web browser (for single sign-on: no password asked).",
)
@click.option(
    "--browser-timeout",
    metavar="SECONDS",
    type=click.FloatRange(min=1),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="How long --browser waits for the browser to come back.",
)
@click.option(
    "--token-name",
    metavar="TEXT",
    default=None,
    help="The new token's name, as `cairn tokens list` shows it. [default: cairn login on HOSTNAME]",
)
def login_command(
    url: str | None, username: str | None, browser: bool, browser_timeout: float, token_name: str | None
) -> None:
    """Sign in to the server at URL (default: $CAIRN_URI) and keep a personal API token for it."""
    url = _server_url(url)
    name = token_name or f"cairn login on {socket.gethostname()}"[:200]
    if not browser and username is None:
        username = _ask_username()
        browser = not username
    if browser:
        _browser_login(url, name, browser_timeout)
        return
    assert username is not None
    password = _read_password()
    tracking = _http(url)
    try:
        token, secret = tracking.sign_in_for_token(username, password, name)
    finally:
        tracking.close()
    path = store_token(url, StoredToken(secret, token.id, token.username))
    click.echo(f"Signed in to {url} as {token.username}; the token ({token.hint}…) is kept in {path}")


def _ask_username() -> str:
    """The user name; on a terminal, empty (just Enter) means: sign in with a browser."""
    if not sys.stdin.isatty():
        username: str = click.prompt("User name", err=True)
        return username
    answer: str = click.prompt(
        "User name (or Enter to sign in with a browser)", default="", show_default=False, err=True
    )
    return answer.strip()


def _browser_login(url: str, name: str, timeout_s: float) -> None:
    handed = sign_in_in_browser(url, name, timeout_s)
    # Checked before it is kept: only a token the server knows is stored.
    tracking = _http(url, handed.token)
    try:
        me = tracking.whoami()
    except CairnError as exc:
        raise CommandError.of(exc, f"the browser handed back a token the server refuses: {exc.message}") from exc
    finally:
        tracking.close()
    path = store_token(url, StoredToken(handed.token, handed.token_id, me.username))
    click.echo(f"Signed in to {url} as {me.username} through the browser; the token is kept in {path}")


def _read_password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise click.UsageError("no password on standard input")
        return line.rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, err=True)
    return password


@click.command("logout")
@URL_ARGUMENT
def logout_command(url: str | None) -> None:
    """Revoke the token `cairn login` stored for URL (default: $CAIRN_URI), and forget it."""
    url = _server_url(url)
    stored = stored_token(url)
    if stored is None:
        raise click.ClickException(f"not signed in to {url}")
    tracking = _http(url, stored.token)
    try:
        tracking.revoke_token(stored.token_id)
        outcome = "revoked the token"
    except Unauthenticated:
        outcome = "the token was no longer valid"
    except Unavailable as exc:
        forget_token(url)
        raise CommandError.of(
            exc, f"forgot the token, but could not revoke it: {exc.message}; revoke {stored.token_id} later"
        ) from exc
    except CairnError as exc:
        raise CommandError.of(exc) from exc
    finally:
        tracking.close()
    forget_token(url)
    click.echo(f"Signed out of {url}: {outcome}")


@click.command("whoami")
@uri_option
def whoami_command(uri: str | None) -> None:
    """Who the CLI and SDK act as against --uri (default: $CAIRN_URI, else the embedded store)."""
    with open_tracking(uri) as tracking:
        me = tracking.whoami()
    facts = ["admin" if me.is_admin else "not an admin"]
    facts.append(f"signed in by {me.via}" if me.authenticated else "no sign-in")
    if me.teams:
        facts.append(f"teams: {', '.join(me.teams)}")
    click.echo(f"{me.username} ({'; '.join(facts)})")
