"""--presign-uploads: the parts of a large file go from the client straight to S3 (moto's
server, over real HTTP), and the server still checks the digest before the blob exists."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.helpers import ThreadedServer, free_port

import cairn.client.http as http_module
from cairn.client.http import HttpTracking
from cairn.core.artifacts import ArtifactEntry
from cairn.core.errors import DigestMismatch
from cairn.settings import ServerSettings


class CountingTransport(httpx.HTTPTransport):
    """A real transport that remembers which paths the client sent to the Cairn server."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        return super().handle_request(request)


@pytest.fixture
def s3_server(tmp_path: Path, s3_endpoint: str, s3_bucket_uri: str) -> Iterator[ThreadedServer]:
    settings = ServerSettings(
        store_uri=str(tmp_path / "server.db"),
        blobs_uri=s3_bucket_uri,
        blobs_endpoint=s3_endpoint,
        presign_uploads=True,
        port=free_port(),
    )
    with ThreadedServer(settings) as running:
        yield running


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large-file handling from 1 MiB on, so a 20 MiB file takes the resumable path."""
    monkeypatch.setattr(http_module, "RESUMABLE_ABOVE_BYTES", 1 << 20)


def test_parts_go_straight_to_s3_and_the_digest_is_checked(s3_server: ThreadedServer, tmp_path: Path) -> None:
    content = os.urandom((20 << 20) + 12345)  # two full 8 MiB parts and a short one
    source = tmp_path / "model.bin"
    source.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    transport = CountingTransport()
    client = HttpTracking(s3_server.url, transport=transport)
    try:
        seen: list[int] = []
        client.upload_file(source, digest, len(content), seen.append)
        assert seen[-1] == len(content)
        # No part went through the server: only the start and the completion did.
        uploads = [(method, path) for method, path in transport.requests if "/blobs/uploads" in path]
        assert [method for method, _ in uploads] == ["POST", "POST"]
        run = client.create_run("p")
        client.log_artifacts(run.id, [ArtifactEntry("model.bin", digest, len(content))])
        assert b"".join(client.read_artifact(run.id, "model.bin")) == content
    finally:
        client.close()


def test_bytes_that_do_not_match_are_refused_and_nothing_is_kept(s3_server: ThreadedServer, tmp_path: Path) -> None:
    source = tmp_path / "corrupt.bin"
    source.write_bytes(os.urandom(3 << 20))
    claimed = hashlib.sha256(b"something else").hexdigest()
    client = HttpTracking(s3_server.url)
    try:
        with pytest.raises(DigestMismatch):
            client.upload_file(source, claimed, source.stat().st_size)
        assert client.missing_blobs([claimed]) == [claimed]
        blobs = s3_server.app.state.tracking.blobs
        assert list(blobs.list()) == [] and list(blobs.stage_list()) == []
    finally:
        client.close()
