"""MLflow's proxied artifacts (``mlflow-artifacts:`` URIs) through the real client's artifact
repository, against a Cairn server: what MLflow uploads is the Cairn run's artifacts, and what
Cairn logged downloads through MLflow."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import requests
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from tests.access_helpers import PASSWORD, Team
from tests.helpers import ThreadedServer

from cairn.client.http import HttpTracking
from cairn.core import limits
from cairn.core.access import Role
from cairn.core.artifacts import ArtifactEntry
from cairn.core.entities import Run

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def _run(api: Any, project: str = "mlflow-artifacts") -> Run:
    api.create_project(project)
    return api.create_run(project)


def _uri(server: ThreadedServer, run: Run) -> str:
    return f"mlflow-artifacts://{server.url.removeprefix('http://')}/{run.project_id}/{run.id}/artifacts"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fresh(folder: Path) -> str:
    """A new folder to download into (MLflow's client wants it to exist)."""
    folder.mkdir(exist_ok=True)
    return str(folder)


def _error_code(failure: pytest.ExceptionInfo[requests.HTTPError]) -> str:
    response = failure.value.response
    assert response is not None
    code: str = response.json()["error_code"]
    return code


def test_files_and_folders_round_trip_and_are_the_cairn_run_s_artifacts(
    mlflow_uri: str, mlflow_server: ThreadedServer, cairn_api: HttpTracking, tmp_path: Path
) -> None:
    run = _run(cairn_api)
    repo = get_artifact_repository(_uri(mlflow_server, run))
    single = tmp_path / "notes.txt"
    single.write_text("héllo, Cairn\n")
    repo.log_artifact(str(single))
    repo.log_artifact(str(single), "docs")
    folder = tmp_path / "model"
    (folder / "weights" / "layer1").mkdir(parents=True)
    contents = {
        "MLmodel": b"flavors: {}\n",
        "résumé des poids 1.txt": "ünïcode and spaces in the name".encode(),
        "weights/w.bin": os.urandom(3000),
        "weights/layer1/bias.npy": os.urandom(17),
        "empty.txt": b"",
    }
    for relative, data in contents.items():
        (folder / relative).write_bytes(data)
    repo.log_artifacts(str(folder), "model")

    top = repo.list_artifacts()
    assert [(f.path, f.is_dir, f.file_size) for f in top] == [
        ("docs", True, None),
        ("model", True, None),
        ("notes.txt", False, single.stat().st_size),
    ]
    weights = repo.list_artifacts("model/weights")
    assert [(f.path, f.is_dir, f.file_size) for f in weights] == [
        ("model/weights/layer1", True, None),
        ("model/weights/w.bin", False, 3000),
    ]
    assert repo.list_artifacts("model/MLmodel") == []  # a file, as MLflow's server answers
    assert repo.list_artifacts("no/such/folder") == []

    downloaded = Path(repo.download_artifacts("model", _fresh(tmp_path / "back")))
    for relative, data in contents.items():
        assert (downloaded / relative).read_bytes() == data
    assert Path(repo.download_artifacts("docs/notes.txt", _fresh(tmp_path / "one"))).read_text() == "héllo, Cairn\n"

    # Cairn's own client sees the same files, with their sizes and digests.
    seen = {a.path: a for a in cairn_api.list_artifacts(run.id)}
    expected = {"notes.txt": single.read_bytes(), "docs/notes.txt": single.read_bytes()}
    expected |= {f"model/{relative}": data for relative, data in contents.items()}
    assert sorted(seen) == sorted(expected)
    for path, data in expected.items():
        assert (seen[path].size, seen[path].digest) == (len(data), _sha256(data))
        assert b"".join(cairn_api.read_artifact(run.id, path)) == data
    assert seen["notes.txt"].media_type == "text/plain"


def test_a_large_file_round_trips_byte_exact(
    mlflow_uri: str, mlflow_server: ThreadedServer, cairn_api: HttpTracking, tmp_path: Path
) -> None:
    run = _run(cairn_api)
    repo = get_artifact_repository(_uri(mlflow_server, run))
    # Over the limit of any other request body: an artifact upload streams, so it is exempt.
    data = os.urandom(limits.MAX_REQUEST_BYTES + (1 << 20))
    big = tmp_path / "checkpoint.bin"
    big.write_bytes(data)
    # The server (a thread of this process) streams the body to the blob store: the upload's
    # peak is the pieces in flight (about 13 MB measured, for 20 MB and for 65 MB alike), never
    # the whole file.
    tracemalloc.start()
    try:
        repo.log_artifact(str(big), "ckpt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    (artifact,) = cairn_api.list_artifacts(run.id)
    assert (artifact.path, artifact.size, artifact.digest) == ("ckpt/checkpoint.bin", len(data), _sha256(data))
    back = Path(repo.download_artifacts("ckpt/checkpoint.bin", _fresh(tmp_path / "back")))
    assert back.stat().st_size == len(data)
    assert _sha256(back.read_bytes()) == _sha256(data)


def test_logging_a_path_again_replaces_the_file(
    mlflow_uri: str, mlflow_server: ThreadedServer, cairn_api: HttpTracking, tmp_path: Path
) -> None:
    run = _run(cairn_api)
    repo = get_artifact_repository(_uri(mlflow_server, run))
    file = tmp_path / "metrics.json"
    file.write_text('{"acc": 0.5}')
    repo.log_artifact(str(file))
    file.write_text('{"acc": 0.75}')
    repo.log_artifact(str(file))
    (artifact,) = cairn_api.list_artifacts(run.id)
    assert artifact.digest == _sha256(b'{"acc": 0.75}')


def test_what_cairn_logged_downloads_through_mlflow(
    mlflow_uri: str, mlflow_server: ThreadedServer, cairn_api: HttpTracking, tmp_path: Path
) -> None:
    run = _run(cairn_api)
    data = b"logged by Cairn's SDK\n" * 1000
    local = tmp_path / "report.txt"
    local.write_bytes(data)
    digest = _sha256(data)
    if cairn_api.missing_blobs([digest]):
        cairn_api.upload_file(local, digest, len(data))
    cairn_api.log_artifacts(run.id, [ArtifactEntry("eval/report.txt", digest, len(data))])

    # As a run's artifact_uri says it: no host, so the client goes to its tracking server.
    repo = get_artifact_repository(f"mlflow-artifacts:/{run.project_id}/{run.id}/artifacts")
    assert [(f.path, f.file_size) for f in repo.list_artifacts("eval")] == [("eval/report.txt", len(data))]
    back = Path(repo.download_artifacts("eval/report.txt", _fresh(tmp_path / "back")))
    assert back.read_bytes() == data


def test_multipart_forced_by_the_user_falls_back_to_one_streamed_upload(
    mlflow_uri: str,
    mlflow_server: ThreadedServer,
    cairn_api: HttpTracking,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    run = _run(cairn_api)
    repo = get_artifact_repository(_uri(mlflow_server, run))
    file = tmp_path / "data.bin"
    file.write_bytes(os.urandom(100_000))
    repo.log_artifact(str(file))
    (artifact,) = cairn_api.list_artifacts(run.id)
    assert artifact.digest == _sha256(file.read_bytes())

    target = f"{run.project_id}/{run.id}/artifacts/x"
    answer = httpx.post(f"{mlflow_server.url}/api/2.0/mlflow-artifacts/mpu/create/{target}")
    assert answer.status_code == 501
    assert answer.json()["error_code"] == "NOT_IMPLEMENTED"
    assert answer.json()["message"].startswith("Multipart upload is not supported for the current artifact repository")


def test_deleting_an_artifact_is_refused_clearly(
    mlflow_uri: str, mlflow_server: ThreadedServer, cairn_api: HttpTracking, tmp_path: Path
) -> None:
    run = _run(cairn_api)
    repo = get_artifact_repository(_uri(mlflow_server, run))
    file = tmp_path / "keep.txt"
    file.write_text("kept")
    repo.log_artifact(str(file))
    with pytest.raises(requests.HTTPError) as failure:
        repo.delete_artifacts("keep.txt")
    assert _error_code(failure) == "NOT_IMPLEMENTED"
    assert [a.path for a in cairn_api.list_artifacts(run.id)] == ["keep.txt"]


def test_unknown_runs_and_runs_of_another_experiment_do_not_exist(
    mlflow_uri: str, mlflow_server: ThreadedServer, cairn_api: HttpTracking, tmp_path: Path
) -> None:
    run = _run(cairn_api)
    other = _run(cairn_api, "another-project")
    file = tmp_path / "a.txt"
    file.write_text("a")
    for experiment, run_id in ((run.project_id, "0" * 32), (other.project_id, run.id)):
        uri = f"mlflow-artifacts://{mlflow_server.url.removeprefix('http://')}/{experiment}/{run_id}/artifacts"
        repo = get_artifact_repository(uri)
        with pytest.raises(requests.HTTPError) as failure:
            repo.log_artifact(str(file))
        assert _error_code(failure) == "RESOURCE_DOES_NOT_EXIST"
        with pytest.raises(requests.HTTPError) as failure:
            repo.list_artifacts()
        assert _error_code(failure) == "RESOURCE_DOES_NOT_EXIST"
        with pytest.raises(requests.HTTPError) as failure:
            repo.download_artifacts("a.txt", _fresh(tmp_path / "back"))
        assert _error_code(failure) == "RESOURCE_DOES_NOT_EXIST"
    assert cairn_api.list_artifacts(run.id) == []
    answer = httpx.get(f"{mlflow_server.url}{ARTIFACTS}/{run.project_id}/{run.id}/artifacts/missing.txt")
    assert (answer.status_code, answer.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    "path",
    [
        "{run}/artifacts/%2e%2e/%2e%2e/escape.txt",
        "{run}/artifacts/a/%2e%2e/%2e%2e/%2e%2e/escape.txt",
        "{run}/artifacts/nul%00.txt",
        "{run}/artifacts/back%5Cslash.txt",
        "/etc/passwd",
        "{run}/elsewhere/file.txt",
        "{run}",
    ],
)
def test_bad_paths_are_invalid_parameter_values(
    mlflow_server: ThreadedServer, cairn_api: HttpTracking, path: str
) -> None:
    run = _run(cairn_api)
    target = path.format(run=f"{run.project_id}/{run.id}")
    url = f"{mlflow_server.url}{ARTIFACTS}/{target}"
    for answer in (httpx.put(url, content=b"x"), httpx.get(url)):
        assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), target
    listing = httpx.get(f"{mlflow_server.url}{ARTIFACTS}", params={"path": unquote(target)})
    assert listing.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert cairn_api.list_artifacts(run.id) == []


def test_logged_model_paths_answer_that_they_are_not_served_yet(
    mlflow_server: ThreadedServer, cairn_api: HttpTracking
) -> None:
    run = _run(cairn_api)
    url = f"{mlflow_server.url}{ARTIFACTS}/{run.project_id}/models/m-0123/artifacts/MLmodel"
    answer = httpx.put(url, content=b"flavors: {}")
    assert (answer.status_code, answer.json()["error_code"]) == (501, "NOT_IMPLEMENTED")
    assert "logged models" in answer.json()["message"]


def test_with_authentication_a_viewer_reads_and_only_an_editor_writes(
    mlflow_auth_server: ThreadedServer, team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team.user("ada")
    team.user("vera")
    team.user("stranger")
    run = _run(team.admin, "guarded")
    team.grant("ada", Role.EDITOR, project="guarded")
    team.grant("vera", Role.VIEWER, project="guarded")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_auth_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = _uri(mlflow_auth_server, run)
    file = tmp_path / "plot.png"
    file.write_bytes(b"\x89PNG not really")

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", team.token("ada"))
    get_artifact_repository(uri).log_artifact(str(file))
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")  # HTTP Basic, with the password
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    get_artifact_repository(uri).log_artifact(str(file), "basic")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", team.token("vera"))
    repo = get_artifact_repository(uri)
    assert [f.path for f in repo.list_artifacts()] == ["basic", "plot.png"]
    assert Path(repo.download_artifacts("plot.png", _fresh(tmp_path / "back"))).read_bytes() == file.read_bytes()
    with pytest.raises(requests.HTTPError) as failure:
        repo.log_artifact(str(file), "overwritten")
    assert _error_code(failure) == "PERMISSION_DENIED"

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", team.token("stranger"))
    with pytest.raises(requests.HTTPError) as failure:
        get_artifact_repository(uri).list_artifacts()
    assert _error_code(failure) == "RESOURCE_DOES_NOT_EXIST"  # a project without a role is not there

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    with pytest.raises(requests.HTTPError) as failure:
        get_artifact_repository(uri).list_artifacts()
    assert _error_code(failure) == "UNAUTHENTICATED"
    assert [a.path for a in team.admin.list_artifacts(run.id)] == ["basic/plot.png", "plot.png"]


def test_only_artifact_uploads_are_exempt_from_the_body_limit(mlflow_server: ThreadedServer) -> None:
    too_big = b"{" + b" " * limits.MAX_REQUEST_BYTES + b"}"
    answer = httpx.post(f"{mlflow_server.url}/api/2.0/mlflow-artifacts/mpu/create/0/1/artifacts/x", content=too_big)
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"  # MLflow's envelope, not Cairn's
    assert "over the limit" in answer.json()["message"]
    answer = httpx.post(f"{mlflow_server.url}/api/v1/blobs/missing", content=too_big)
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "payload_too_large")
