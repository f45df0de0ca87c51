"""From ``CAIRN_URI`` (or an explicit URI) to an implementation of the tracking interface.

An ``http(s)://`` URI reaches a server; anything else (a path, ``sqlite:///…``,
``postgresql://…``) opens the store in this process, with the blob store ``CAIRN_BLOBS`` names
(the ``blobs`` folder under ``CAIRN_HOME`` by default). Unset, the embedded default under
``CAIRN_HOME`` is used. Either way the acting user is ``CAIRN_USER``, else the
operating-system user (:meth:`Principal.local_user`); a server that requires sign-in is sent a
token instead: ``CAIRN_TOKEN`` if set, else the one ``cairn login`` stored for that server.
"""

from __future__ import annotations

import os

from cairn.service.interface import Tracking
from cairn.settings import default_store_uri


def resolve_uri(uri: str | None = None) -> str:
    return uri or os.environ.get("CAIRN_URI") or default_store_uri()


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def token_for(uri: str) -> str | None:
    """The API token to send to the server at ``uri``: ``CAIRN_TOKEN``, else the stored one."""
    configured = os.environ.get("CAIRN_TOKEN", "").strip()
    if configured:
        return configured
    from cairn.client.credentials import stored_token

    stored = stored_token(uri)
    return None if stored is None else stored.token


def connect(uri: str | None = None, *, blobs_uri: str | None = None) -> Tracking:
    """``blobs_uri`` overrides ``CAIRN_BLOBS`` for an embedded store: a process started
    elsewhere (a Dask worker) is told where the blobs are rather than reading its own
    environment."""
    uri = resolve_uri(uri)
    from cairn.service.policy import Principal

    if is_remote(uri):
        from cairn.client.http import HttpTracking

        return HttpTracking(uri, token=token_for(uri), user=Principal.local_user().name)
    from cairn.blobs.registry import open_blobs
    from cairn.service.tracking import TrackingService
    from cairn.settings import allow_private_webhooks_from_env, default_blobs_uri
    from cairn.store.registry import open_store

    blobs = open_blobs(blobs_uri or default_blobs_uri(), endpoint_url=os.environ.get("CAIRN_BLOBS_ENDPOINT") or None)
    return TrackingService(
        open_store(uri),
        Principal.local_user(),
        blobs=blobs,
        allow_private_webhooks=allow_private_webhooks_from_env(),
    )
