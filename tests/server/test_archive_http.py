"""A run's folder in one response, GET /api/v1/runs/{id}/artifacts/archive: a tar that any tar
reader unpacks, small ones sent whole and big ones streamed with their length; what cannot be
sent whole is refused before the first byte; a member whose bytes changed in the blob store is
refused by the client. A model version's folder comes the same way, with the version in headers.
Against the real server on a loopback port, its blobs in a folder."""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from tests.contract.helpers import manifest_json
from tests.helpers import ThreadedServer

from cairn.client.artifacts import download_folder
from cairn.client.http import HttpTracking
from cairn.core import limits
from cairn.core.archive import DIGEST_KEYWORD
from cairn.core.artifacts import ArtifactEntry
from cairn.core.errors import DigestMismatch

API = "/api/v1"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def client(server: ThreadedServer) -> Iterator[HttpTracking]:
    tracking = HttpTracking(server.url)
    yield tracking
    tracking.close()


@pytest.fixture
def http(server: ThreadedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def log_files(client: HttpTracking, tmp_path: Path, files: dict[str, bytes]) -> str:
    run = client.create_run("p")
    for data in files.values():
        source = tmp_path / _sha(data)
        source.write_bytes(data)
        client.upload_file(source, _sha(data), len(data))
    client.log_artifacts(run.id, [ArtifactEntry(path, _sha(data), len(data)) for path, data in files.items()])
    return run.id


@pytest.fixture
def folder(client: HttpTracking, tmp_path: Path) -> SimpleNamespace:
    files = {
        "model/cairn-model.json": b'{"format": 1}',
        "model/model.skops": random.Random(1).randbytes(5000),
        "model/extra/notes – ü.txt": b"",
        "elsewhere.txt": b"not in the folder",
    }
    return SimpleNamespace(run_id=log_files(client, tmp_path, files), files=files)


def _members(body: bytes) -> dict[str, tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:") as archive:
        return {
            m.name: (m.pax_headers[DIGEST_KEYWORD], archive.extractfile(m).read())  # type: ignore[union-attr]
            for m in archive.getmembers()
        }


def test_a_folder_comes_as_one_tar_of_its_files_with_their_digests(http: httpx.Client, folder: SimpleNamespace) -> None:
    answer = http.get(f"{API}/runs/{folder.run_id}/artifacts/archive", params={"path": "model/"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/x-tar"
    assert answer.headers["content-disposition"] == "attachment; filename*=UTF-8''model.tar"
    assert answer.headers["content-length"] == str(len(answer.content))
    expected = {path: (_sha(data), data) for path, data in folder.files.items() if path.startswith("model/")}
    assert _members(answer.content) == expected

    whole_run = http.get(f"{API}/runs/{folder.run_id}/artifacts/archive")
    assert whole_run.headers["content-disposition"] == f"attachment; filename*=UTF-8''{folder.run_id}.tar"
    assert set(_members(whole_run.content)) == set(folder.files)


def test_a_big_folder_is_streamed_with_its_length(http: httpx.Client, client: HttpTracking, tmp_path: Path) -> None:
    files = {f"big/part-{n}.bin": random.Random(n).randbytes(700_000 + n) for n in range(3)}
    run_id = log_files(client, tmp_path, files)
    with http.stream("GET", f"{API}/runs/{run_id}/artifacts/archive", params={"path": "big"}) as answer:
        assert answer.status_code == 200
        declared = int(answer.headers["content-length"])
        body = answer.read()
    assert declared == len(body) > sum(map(len, files.values()))
    assert _members(body) == {path: (_sha(data), data) for path, data in files.items()}
    # The client reads the stream as it comes, each file checked and written whole.
    written = download_folder(client, run_id, "big", tmp_path / "out")
    assert {p.relative_to(tmp_path / "out").as_posix(): p.read_bytes() for p in written} == files


def test_what_cannot_be_sent_whole_is_an_error_before_any_byte(
    http: httpx.Client, server: ThreadedServer, folder: SimpleNamespace
) -> None:
    def error(response: httpx.Response) -> tuple[int, str]:
        assert response.headers["content-type"].startswith("application/json")
        return response.status_code, response.json()["error"]["code"]

    base = f"{API}/runs/{folder.run_id}/artifacts/archive"
    assert error(http.get(base, params={"path": "nothing"})) == (404, "artifact_not_found")
    assert error(http.get(base, params={"path": "mod"})) == (404, "artifact_not_found")  # a prefix is no folder
    assert error(http.get(base, params={"path": "../model"})) == (400, "invalid_artifact_path")
    assert error(http.get(f"{API}/runs/{'0' * 32}/artifacts/archive")) == (404, "run_not_found")

    blobs = Path(server.app.state.settings.blobs_uri)
    (stored,) = [p for p in blobs.rglob("*") if p.name.startswith(_sha(folder.files["model/model.skops"]))]
    stored.unlink()
    assert error(http.get(base, params={"path": "model"})) == (404, "blob_not_found")


def test_a_folder_of_more_files_than_an_archive_holds_is_refused(
    http: httpx.Client, client: HttpTracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = log_files(client, tmp_path, {f"many/{n}.txt": b"same bytes" for n in range(4)})
    monkeypatch.setattr(limits, "MAX_ARCHIVE_FILES", 3)  # the server runs in this process
    answer = http.get(f"{API}/runs/{run_id}/artifacts/archive", params={"path": "many"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"
    assert "more than 3 files" in answer.json()["error"]["message"]


def test_the_client_refuses_a_member_whose_bytes_changed_in_the_blob_store(
    client: HttpTracking, server: ThreadedServer, folder: SimpleNamespace, tmp_path: Path
) -> None:
    assert sorted(p.name for p in download_folder(client, folder.run_id, "model", tmp_path / "ok")) == [
        "cairn-model.json",
        "model.skops",
        "notes – ü.txt",
    ]
    blobs = Path(server.app.state.settings.blobs_uri)
    original = folder.files["model/model.skops"]
    (stored,) = [p for p in blobs.rglob("*") if p.name.startswith(_sha(original))]
    stored.chmod(0o644)
    stored.write_bytes(bytes(len(original)))  # the same size, other bytes: only the digest tells
    with pytest.raises(DigestMismatch) as caught:
        download_folder(client, folder.run_id, "model", tmp_path / "changed")
    assert caught.value.details["path"] == "model/model.skops"
    assert not (tmp_path / "changed" / "model" / "model.skops").exists()


def test_a_version_s_folder_comes_with_where_it_was_logged_and_its_tree_digest(
    http: httpx.Client, client: HttpTracking, tmp_path: Path
) -> None:
    weights = b"weights"
    manifest = manifest_json({"model.bin": _sha(weights)})
    run_id = log_files(client, tmp_path, {"clf/model.bin": weights, "clf/cairn-model.json": manifest})
    version = client.register_model(f"runs:/{run_id}/clf", "iris classifier")
    client.set_model_alias("iris classifier", "champion", 1)

    for url in ("models/iris%20classifier/versions/1/archive", "models/iris%20classifier/aliases/champion/archive"):
        answer = http.get(f"{API}/{url}")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/x-tar"
        assert answer.headers["content-disposition"] == "attachment; filename*=UTF-8''iris%20classifier-1.tar"
        assert answer.headers["x-cairn-model-version"] == "1"
        assert answer.headers["x-cairn-run-id"] == run_id
        assert answer.headers["x-cairn-source-path"] == "clf"
        assert answer.headers["x-cairn-tree-digest"] == version.tree_digest
        assert _members(answer.content) == {
            "clf/cairn-model.json": (_sha(manifest), manifest),
            "clf/model.bin": (_sha(weights), weights),
        }

    def error(url: str) -> tuple[int, str]:
        answer = http.get(f"{API}/{url}")
        assert answer.headers["content-type"].startswith("application/json")
        return answer.status_code, answer.json()["error"]["code"]

    assert error("models/nope/versions/1/archive") == (404, "model_not_found")
    assert error("models/iris%20classifier/versions/2/archive") == (404, "model_version_not_found")
    assert error("models/iris%20classifier/aliases/challenger/archive") == (404, "alias_not_found")
    assert error("models/iris%20classifier/aliases/Bad/archive")[0] == 400
