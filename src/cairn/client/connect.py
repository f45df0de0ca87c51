"""From ``CAIRN_URI`` (or an explicit URI) to an implementation of the tracking interface.

An ``http(s)://`` URI reaches a server; anything else (a path, ``sqlite:///…``,
``postgresql://…``) opens the store in this process. Unset, the embedded default under
``CAIRN_HOME`` is used.
"""

from __future__ import annotations

import os

from cairn.service.interface import Tracking
from cairn.settings import default_store_uri


def resolve_uri(uri: str | None = None) -> str:
    return uri or os.environ.get("CAIRN_URI") or default_store_uri()


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def connect(uri: str | None = None) -> Tracking:
    uri = resolve_uri(uri)
    if is_remote(uri):
        from cairn.client.http import HttpTracking

        return HttpTracking(uri, token=os.environ.get("CAIRN_TOKEN") or None)
    from cairn.service.policy import Principal
    from cairn.service.tracking import TrackingService
    from cairn.store.registry import open_store

    return TrackingService(open_store(uri), Principal.local_user())
