"""An HTTP client to a real server over each store, for what must be a 400 and never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.helpers import ThreadedServer, free_port

from cairn.settings import ServerSettings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    """A client of ``/api/v1`` on a server whose store is SQLite or PostgreSQL."""
    if request.param == "sqlite":
        store_uri = str(tmp_path / "server.db")
    else:
        request.getfixturevalue("postgres_store")  # empties the session's database afterwards
        store_uri = request.getfixturevalue("postgres_url")
    settings = ServerSettings(store_uri=store_uri, blobs_uri=str(tmp_path / "blobs"), port=free_port())
    with ThreadedServer(settings) as server, httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as client:
        yield client
