"""Settings, read once (from the CLI or the environment) and passed down explicitly."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 5055


def cairn_home() -> Path:
    """``CAIRN_HOME``, by default ``~/.cairn``: the embedded store, blobs and spool live here."""
    return Path(os.environ.get("CAIRN_HOME") or Path.home() / ".cairn").expanduser()


def default_project(project: str | None = None) -> str:
    """``project``, else ``CAIRN_PROJECT``, else the name of the folder of the script that is
    running (the working folder in a notebook or a REPL): where a run goes when no one said.
    An empty ``project`` is kept, for the caller's check to refuse it."""
    if project is not None:
        return project
    if os.environ.get("CAIRN_PROJECT"):
        return os.environ["CAIRN_PROJECT"]
    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else ""
    folder = Path(script).resolve().parent if script and Path(script).is_file() else Path.cwd()
    return folder.name or "default"


def default_store_uri() -> str:
    return str(cairn_home() / "cairn.db")


def default_blobs_uri() -> str:
    """``CAIRN_BLOBS``, or the ``blobs`` folder under ``CAIRN_HOME``."""
    return os.environ.get("CAIRN_BLOBS") or str(cairn_home() / "blobs")


def allow_private_webhooks_from_env() -> bool:
    """``CAIRN_ALLOW_PRIVATE_WEBHOOKS`` (1, true, yes): embedded mode's
    ``--allow-private-webhooks``, for webhooks created without a server."""
    return os.environ.get("CAIRN_ALLOW_PRIVATE_WEBHOOKS", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ServerSettings:
    """What ``cairn server`` and ``cairn ui`` run with."""

    store_uri: str
    blobs_uri: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    #: Tracebacks in error responses; never on in production.
    debug: bool = False
    #: An S3-compatible endpoint for ``s3://`` blobs (MinIO, moto…); boto3's usual settings
    #: (AWS_ENDPOINT_URL, AWS_REGION, credentials) apply otherwise.
    blobs_endpoint: str | None = None
    #: Answer artifact downloads with a redirect to a presigned S3 URL, so the bytes go
    #: between client and S3 without passing through the server.
    presign_downloads: bool = False
    #: Hand clients presigned S3 URLs for the parts of large uploads, so the bytes go straight
    #: to S3; the server then reads them back once to check their digest.
    presign_uploads: bool = False
    #: Host names the server answers to besides the address it listens on and loopback (a
    #: proxy's name; ``*.example.com`` for subdomains, ``*`` for any): see server/hosts.py.
    allowed_hosts: tuple[str, ...] = ()
    #: Let webhooks name loopback, private and link-local addresses (tests, one machine).
    allow_private_webhooks: bool = False
    #: Run a webhook delivery worker in this process (each worker process runs one).
    deliver_webhooks: bool = True
    #: Seconds each step of a delivery attempt may take.
    webhook_timeout_s: float = 10.0
    #: Seconds before the 2nd, 3rd… attempt of a delivery; None is the default schedule of
    #: docs/webhooks.md (8 attempts over about 22 hours).
    webhook_retry_delays_s: tuple[float, ...] | None = None
    #: Seconds between two looks for due deliveries when there was nothing to send.
    webhook_poll_interval_s: float = 1.0
    #: Evaluate due monitors in this process (docs/monitoring.md), looking every so many seconds.
    evaluate_monitors: bool = True
    monitor_poll_interval_s: float = 30.0
    #: Every request must carry a signed-in user's session or token, and roles decide what
    #: each may do (docs/access.md). ``cairn server`` turns it on unless --insecure-no-auth;
    #: ``cairn ui``, one person's tool on loopback, leaves it off.
    require_auth: bool = False
    #: A browser session unused this long ends; one this old ends anyway (seconds).
    session_idle_s: int = 8 * 3600
    session_max_s: int = 7 * 86400
    #: Single sign-on with OpenID Connect: the provider's issuer URL, and this server's client
    #: id and secret there (docs/access.md, "Single sign-on"). Off while the issuer is None.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    #: The claim that lists the user's groups; groups named like a Cairn team join it.
    oidc_groups_claim: str = "groups"
    #: What the provider shows on the sign-in button.
    oidc_display_name: str = "single sign-on"
    #: The address users reach this server at (``https://cairn.example.com``), when a proxy
    #: in front of it changes it: the redirect address given to the identity provider.
    public_url: str | None = None
