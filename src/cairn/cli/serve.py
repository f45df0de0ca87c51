"""``cairn server`` and ``cairn ui``."""

from __future__ import annotations

import click

from cairn.cli.errors import CommandError
from cairn.cli.options import store_options
from cairn.core.addresses import bare_host, is_loopback
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
    help="Allow listening on a non-loopback address although authentication is not enabled.",
)
@allowed_hosts_option
@allow_private_webhooks_option
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
    allowed_hosts: tuple[str, ...],
    allow_private_webhooks: bool,
    debug: bool,
) -> None:
    """Run the tracking server for a team.

    One process serves the REST API (/api/v1) and the dashboard from --store; clients reach it
    with CAIRN_URI=http://HOST:PORT. Until authentication exists it listens on loopback only,
    unless --insecure-no-auth says a proxy in front of it authenticates users.
    """
    host = bare_host(host)  # --host [::1] as a URL writes it; the socket and checks take ::1
    if not is_loopback(host) and not insecure_no_auth:
        raise click.UsageError(
            f"refusing to listen on {host} without authentication: anyone who can reach it could "
            "read and change every run. Bind to 127.0.0.1, or pass --insecure-no-auth if a proxy "
            "in front of Cairn authenticates users."
        )
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
        debug=debug,
    )
    _serve(settings)


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
