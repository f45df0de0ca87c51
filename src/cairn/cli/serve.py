"""``cairn server`` and ``cairn ui``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import Any

import click

from cairn.cli.errors import CommandError
from cairn.cli.options import Duration, store_options
from cairn.core.addresses import bare_host
from cairn.core.errors import CairnError
from cairn.server.serve import serve
from cairn.settings import DEFAULT_PORT, ServerSettings, default_blobs_uri, default_store_uri


def _host_names(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """``--allowed-hosts a,b --allowed-hosts c`` as ``("a", "b", "c")``."""
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


allowed_hosts_option = click.option(
    "--allowed-hosts",
    metavar="NAMES",
    multiple=True,
    callback=_host_names,
    help=(
        "Host names to answer besides the listening address and localhost, comma-separated or "
        "repeated: a proxy's name, *.example.com for its subdomains, * for any. Requests for other "
        "hosts are refused (DNS rebinding)."
    ),
)


allow_private_webhooks_option = click.option(
    "--allow-private-webhooks",
    is_flag=True,
    envvar="CAIRN_ALLOW_PRIVATE_WEBHOOKS",
    help=(
        "Let webhooks deliver to loopback, private and link-local addresses (a receiver on this "
        "machine or network); refused otherwise, as a guard against requests to internal services. "
        "[env: CAIRN_ALLOW_PRIVATE_WEBHOOKS]"
    ),
)


def oidc_options(command: Callable[..., None]) -> Callable[..., None]:
    """Single sign-on with OpenID Connect (docs/access.md): the options, each also an
    environment variable, so the client secret need not appear in a process listing."""
    for option in reversed(
        [
            click.option(
                "--oidc-issuer",
                metavar="URL",
                envvar="CAIRN_OIDC_ISSUER",
                help=(
                    "Sign users in with this OpenID Connect provider (its issuer URL; discovery is read from "
                    "URL/.well-known/openid-configuration). [env: CAIRN_OIDC_ISSUER]"
                ),
            ),
            click.option(
                "--oidc-client-id",
                metavar="ID",
                envvar="CAIRN_OIDC_CLIENT_ID",
                help="This server's client id at the provider. [env: CAIRN_OIDC_CLIENT_ID]",
            ),
            click.option(
                "--oidc-client-secret",
                metavar="SECRET",
                envvar="CAIRN_OIDC_CLIENT_SECRET",
                help=(
                    "This server's client secret at the provider (better set by the variable). "
                    "[env: CAIRN_OIDC_CLIENT_SECRET]"
                ),
            ),
            click.option(
                "--oidc-groups-claim",
                metavar="CLAIM",
                envvar="CAIRN_OIDC_GROUPS_CLAIM",
                default="groups",
                show_default=True,
                help=(
                    "The claim listing a user's groups; a group named like a Cairn team joins it. "
                    "[env: CAIRN_OIDC_GROUPS_CLAIM]"
                ),
            ),
            click.option(
                "--public-url",
                metavar="URL",
                envvar="CAIRN_PUBLIC_URL",
                help=(
                    "The address users reach this server at, when a proxy in front changes it "
                    "(https://cairn.example.com): the provider sends them back to URL/auth/oidc/callback. "
                    "[env: CAIRN_PUBLIC_URL]"
                ),
            ),
        ]
    ):
        command = option(command)
    return command


def oidc_settings(
    issuer: str | None, client_id: str | None, client_secret: str | None, groups_claim: str, public_url: str | None
) -> dict[str, Any]:
    """The ServerSettings fields of :func:`oidc_options`; a usage error if the issuer comes
    without the client id it needs."""
    if issuer and not client_id:
        raise click.UsageError("--oidc-issuer needs --oidc-client-id (the id this server has at the provider)")
    if public_url and not public_url.startswith(("https://", "http://")):
        raise click.UsageError(f"--public-url must be an http:// or https:// address, not {public_url!r}")
    return {
        # Exactly as given: it must equal the issuer the provider's discovery document names.
        "oidc_issuer": issuer or None,
        "oidc_client_id": client_id,
        "oidc_client_secret": client_secret or None,
        "oidc_groups_claim": groups_claim,
        "public_url": public_url.rstrip("/") if public_url else None,
    }


def _announce(address: str) -> None:
    click.echo(f"Cairn is serving {address}  (API docs: {address}/api/v1/docs; Ctrl-C stops it)")


@click.command("server")
@store_options
@click.option(
    "--presign-downloads",
    is_flag=True,
    help="Redirect artifact downloads to presigned S3 URLs, so the bytes bypass the server.",
)
@click.option(
    "--presign-uploads",
    is_flag=True,
    help="Give clients presigned S3 URLs for large uploads; the server reads the bytes back once to check them.",
)
@click.option(
    "--host",
    metavar="ADDRESS",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on.",
)
@click.option(
    "--port",
    metavar="PORT",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--workers",
    metavar="N",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port.",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help=(
        "Turn sign-in off: everyone who reaches the port may do everything. Only behind a proxy that "
        "authenticates users; a warning is printed at every start."
    ),
)
@click.option(
    "--init-admin",
    "init_admin",
    metavar="NAME",
    default=None,
    help=(
        "Create the global admin NAME if no user has that name, with the password in "
        "$CAIRN_ADMIN_PASSWORD, else a generated one printed once."
    ),
)
@click.option(
    "--session-idle",
    type=Duration(),
    default="8h",
    show_default=True,
    metavar="DURATION",
    help="End a browser session unused this long (30m, 8h, 1d…).",
)
@click.option(
    "--session-max",
    type=Duration(),
    default="7d",
    show_default=True,
    metavar="DURATION",
    help="End a browser session this long after sign-in, used or not.",
)
@allowed_hosts_option
@allow_private_webhooks_option
@click.option(
    "--monitor-poll",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    envvar="CAIRN_MONITOR_POLL_SECONDS",
    metavar="SECONDS",
    help="Look for due monitors this often in each process (docs/monitoring.md); 0 leaves them to cron "
    "(cairn monitors run). [env: CAIRN_MONITOR_POLL_SECONDS]",
)
@oidc_options
@click.option("--debug", is_flag=True, help="Put tracebacks in error responses (never in production).")
def server_command(
    store_uri: str,
    blobs_uri: str,
    blobs_endpoint: str | None,
    presign_downloads: bool,
    presign_uploads: bool,
    host: str,
    port: int,
    workers: int,
    insecure_no_auth: bool,
    init_admin: str | None,
    session_idle: int,
    session_max: int,
    allowed_hosts: tuple[str, ...],
    allow_private_webhooks: bool,
    monitor_poll: float,
    oidc_issuer: str | None,
    oidc_client_id: str | None,
    oidc_client_secret: str | None,
    oidc_groups_claim: str,
    public_url: str | None,
    debug: bool,
) -> None:
    """Run the tracking server for a team.

    One process serves the REST API (/api/v1) and the dashboard from --store; clients reach it
    with CAIRN_URI=http://HOST:PORT and a token (cairn login, or CAIRN_TOKEN). Every request must
    be signed in; --init-admin NAME makes the first admin. --insecure-no-auth turns sign-in off
    for a server behind a proxy that authenticates users.
    """
    host = bare_host(host)  # --host [::1] as a URL writes it; the socket and checks take ::1
    if insecure_no_auth and init_admin is not None:
        raise click.UsageError(
            "--init-admin makes an admin to sign in with, and --insecure-no-auth turns sign-in off: "
            "choose one (start once with --init-admin to prepare users, then without it)."
        )
    if insecure_no_auth:
        click.echo(INSECURE_WARNING, err=True)
    settings = ServerSettings(
        store_uri=store_uri,
        blobs_uri=blobs_uri,
        blobs_endpoint=blobs_endpoint,
        presign_downloads=presign_downloads,
        presign_uploads=presign_uploads,
        host=host,
        port=port,
        workers=workers,
        allowed_hosts=allowed_hosts,
        allow_private_webhooks=allow_private_webhooks,
        evaluate_monitors=monitor_poll > 0,
        monitor_poll_interval_s=monitor_poll or 30.0,
        debug=debug,
        **oidc_settings(oidc_issuer, oidc_client_id, oidc_client_secret, oidc_groups_claim, public_url),
        require_auth=not insecure_no_auth,
        session_idle_s=session_idle,
        session_max_s=session_max,
    )
    # Without sign-in nothing listens beyond loopback unless --insecure-no-auth asked for it;
    # as that flag is the only way to turn sign-in off, any address may be bound with it on.
    if settings.require_auth:
        _prepare_users(settings, init_admin)
    _serve(settings)


INSECURE_WARNING = (
    "WARNING: sign-in is off (--insecure-no-auth): anyone who can reach this server may read, "
    "change and delete every run and model. Use it only behind a proxy that authenticates users."
)


def _prepare_users(settings: ServerSettings, init_admin: str | None) -> None:
    """Create the --init-admin user if asked; say so when nobody could sign in at all."""
    from cairn.core.errors import UserNotFound
    from cairn.service.policy import Principal
    from cairn.service.tracking import TrackingService
    from cairn.store.registry import open_store

    try:
        store = open_store(settings.store_uri)
    except CairnError as exc:
        raise CommandError.of(exc) from exc
    # The operator of the database acts: whoever may start the server on it may make its admin.
    service = TrackingService(store, Principal("cairn-server", is_admin=True, authenticated=True, via="local"))
    try:
        if init_admin is not None:
            try:
                service.get_user(init_admin)
                click.echo(f"The user {init_admin} exists: --init-admin left it as it is.", err=True)
            except UserNotFound:
                given = os.environ.get("CAIRN_ADMIN_PASSWORD") or None
                password = given or secrets.token_urlsafe(18)
                service.create_user(init_admin, password=password, is_admin=True)
                click.echo(f"Created the admin {init_admin}.")
                if given is None:
                    click.echo(f"  password: {password}  (shown once: sign in and keep it safe)")
        elif not store.list_users():
            click.echo(
                "No users yet, so nobody can sign in: start once with --init-admin NAME to create an admin.",
                err=True,
            )
    except CairnError as exc:
        raise CommandError.of(exc) from exc
    finally:
        store.close()


@click.command("ui")
@click.option(
    "--port",
    metavar="PORT",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on, on 127.0.0.1.",
)
@allowed_hosts_option
@allow_private_webhooks_option
def ui_command(port: int, allowed_hosts: tuple[str, ...], allow_private_webhooks: bool) -> None:
    """Serve the embedded store's dashboard on 127.0.0.1.

    The dashboard and API over the store in $CAIRN_HOME, where cairn.init() logs by default, at
    http://127.0.0.1:PORT and for this machine only.
    """
    _serve(
        ServerSettings(
            store_uri=default_store_uri(),
            blobs_uri=default_blobs_uri(),
            port=port,
            allowed_hosts=allowed_hosts,
            allow_private_webhooks=allow_private_webhooks,
        )
    )


def _serve(settings: ServerSettings) -> None:
    try:
        serve(settings, on_ready=_announce)
    except CairnError as exc:
        raise CommandError.of(exc) from exc
