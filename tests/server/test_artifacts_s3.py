"""The server with its blobs in S3 (moto's server over real HTTP): uploads, downloads (also by a
redirect to a presigned URL), and a bucket that cannot be used stopping the server at start."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from tests.helpers import ThreadedServer, free_port

import cairn.client.http as http_client
from cairn.client.http import HttpTracking
from cairn.core.artifacts import ArtifactEntry
from cairn.core.errors import BlobStoreUnavailable
from cairn.server.app import create_app
from cairn.settings import ServerSettings

API = "/api/v1"
MiB = 1 << 20


def _bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=[False, True], ids=["proxied", "presigned"])
def server(
    request: pytest.FixtureRequest, tmp_path: Path, s3_bucket_uri: str, s3_endpoint: str
) -> Iterator[ThreadedServer]:
    """A server on a fresh bucket; downloads go through it, or are redirected to S3."""
    settings = ServerSettings(
        store_uri=str(tmp_path / "server.db"),
        blobs_uri=s3_bucket_uri,
        blobs_endpoint=s3_endpoint,
        presign_downloads=request.param,
        port=free_port(),
    )
    with ThreadedServer(settings) as running:
        yield running


class _Recording(httpx.HTTPTransport):
    """A real transport that notes every request it sends."""

    def __init__(self) -> None:
        super().__init__(retries=0)
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


def _log_file(client: HttpTracking, run_id: str, path: str, data: bytes, file: Path) -> None:
    file.write_bytes(data)
    assert client.missing_blobs([_sha(data)]) == [_sha(data)]
    client.upload_file(file, _sha(data), len(data))
    assert client.missing_blobs([_sha(data)]) == []
    (artifact,) = client.log_artifacts(run_id, [ArtifactEntry(path, _sha(data), len(data), media_type="text/x-test")])
    assert (artifact.path, artifact.digest, artifact.size) == (path, _sha(data), len(data))


def test_an_artifact_goes_up_and_comes_back(server: ThreadedServer, tmp_path: Path, s3_endpoint: str) -> None:
    transport = _Recording()
    client = HttpTracking(server.url, token="secret", transport=transport)
    try:
        run_id = client.create_run("p").id
        data = _bytes(3 * MiB + 5, seed=1)
        _log_file(client, run_id, "models/model.bin", data, tmp_path / "model.bin")
        assert [a.path for a in client.list_artifacts(run_id, "models")] == ["models/model.bin"]
        stored = server.app.state.tracking.blobs.stat(_sha(data))  # in the bucket, not on disk
        assert stored is not None and stored.size == len(data)

        assert b"".join(client.read_artifact(run_id, "models/model.bin")) == data
        assert b"".join(client.read_artifact(run_id, "models/model.bin", 10, 20)) == data[10:20]
        assert b"".join(client.read_artifact(run_id, "models/model.bin", len(data) - 5)) == data[-5:]
        # Whoever holds the bytes, the server's token never goes to S3.
        to_s3 = [r for r in transport.sent if str(r.url).startswith(s3_endpoint)]
        assert len(to_s3) == (3 if server.app.state.settings.presign_downloads else 0)
        assert all("authorization" not in r.headers for r in to_s3)
        assert all(r.headers["authorization"] == "Bearer secret" for r in transport.sent if r not in to_s3)
    finally:
        client.close()


def test_a_download_may_be_redirected_to_s3(server: ThreadedServer, tmp_path: Path, s3_endpoint: str) -> None:
    client = HttpTracking(server.url)
    try:
        run_id = client.create_run("p").id
        data = _bytes(1000, seed=2)
        _log_file(client, run_id, "plots/loss curve.png", data, tmp_path / "plot.png")
    finally:
        client.close()
    url = f"{server.url}{API}/runs/{run_id}/artifacts/files/plots/loss%20curve.png"
    answer = httpx.get(url)
    if not server.app.state.settings.presign_downloads:
        assert answer.status_code == 200 and answer.content == data
        assert answer.headers["x-cairn-digest"] == _sha(data)
        return
    assert answer.status_code == 307
    location = answer.headers["location"]
    assert location.startswith(f"{s3_endpoint}/")
    assert "X-Amz-Signature=" in location
    followed = httpx.get(location)
    assert followed.status_code == 200 and followed.content == data
    assert "filename*=UTF-8''loss%20curve.png" in followed.headers["content-disposition"]
    ranged = httpx.get(url, headers={"range": "bytes=0-9"}, follow_redirects=True)
    assert ranged.status_code == 206 and ranged.content == data[:10]
    # Redirected or not, what is missing is missing.
    gone = httpx.get(f"{server.url}{API}/runs/{run_id}/artifacts/files/plots/other.png")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "artifact_not_found"


@pytest.mark.parametrize("server", [False], ids=["proxied"], indirect=True)
def test_a_large_file_goes_up_in_parts_and_after_a_dropped_part(
    server: ThreadedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_client, "RESUMABLE_ABOVE_BYTES", 10 * MiB)
    monkeypatch.setattr(http_client, "RESUMABLE_PART_BYTES", 8 * MiB)
    monkeypatch.setattr(http_client, "time", SimpleNamespace(sleep=lambda seconds: None))

    class Refusing(_Recording):
        refused = False

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PUT" and request.url.params.get("offset") == str(8 * MiB) and not self.refused:
                self.refused = True
                raise httpx.ConnectError("refused for the test", request=request)
            return super().handle_request(request)

    transport = Refusing()
    client = HttpTracking(server.url, transport=transport)
    try:
        run_id = client.create_run("p").id
        data = _bytes(20 * MiB + 3, seed=3)
        _log_file(client, run_id, "big.bin", data, tmp_path / "big.bin")
        assert transport.refused
        offsets = [r.url.params.get("offset") for r in transport.sent if r.method == "PUT"]
        assert offsets == ["0", str(8 * MiB), str(16 * MiB)]  # the refused one never left
        assert b"".join(client.read_artifact(run_id, "big.bin")) == data
        assert list(server.app.state.tracking.blobs.stage_list()) == []  # no multipart upload left open
    finally:
        client.close()


# -- a blob store that cannot be used stops the server at start ------------------------------


@pytest.mark.parametrize("where", ["closed-port", "missing-bucket"])
def test_create_app_fails_fast_on_a_bucket_it_cannot_use(tmp_path: Path, s3_endpoint: str, where: str) -> None:
    if where == "closed-port":
        uri, endpoint = "s3://nope-bucket/x", f"http://127.0.0.1:{free_port()}"
    else:
        uri, endpoint = "s3://no-such-bucket-for-cairn/x", s3_endpoint
    settings = ServerSettings(store_uri=str(tmp_path / "server.db"), blobs_uri=uri, blobs_endpoint=endpoint)
    started = time.monotonic()
    with pytest.raises(BlobStoreUnavailable) as raised:
        create_app(settings)
    assert time.monotonic() - started < 15
    assert uri in raised.value.message
    if where == "missing-bucket":
        assert "does not exist" in raised.value.message


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_cairn_server_says_why_it_cannot_start_on_such_a_bucket(tmp_path: Path, workers: str) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    aws = tmp_path / "aws"
    aws.mkdir()
    env = {
        **os.environ,
        "CAIRN_HOME": str(tmp_path / "home"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        env.pop(name, None)
    command = [
        str(Path(sys.executable).parent / "cairn"), "server",
        "--store", str(tmp_path / "cairn.db"),
        "--blobs", "s3://nope-bucket/x",
        "--blobs-endpoint", endpoint,
        "--port", "0",
        "--workers", workers,
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env)
    assert time.monotonic() - started < 20
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert "Error:" in result.stderr
    assert "s3://nope-bucket/x" in result.stderr and endpoint in result.stderr
    assert "serving" not in result.stdout + result.stderr  # it stopped before it listened
