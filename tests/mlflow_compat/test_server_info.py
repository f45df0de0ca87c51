"""``server-info``: MLflow's client asks it before uploading or downloading an artifact large
enough for parts, and Cairn must say no to parts (its proxy answers them NOT_IMPLEMENTED)."""

from __future__ import annotations

from pathlib import Path

import httpx
import mlflow
import pytest
from mlflow.utils.rest_utils import MlflowHostCreds
from mlflow.utils.server_info import fetch_server_info
from tests.helpers import ThreadedServer

from cairn.client.http import HttpTracking
from cairn.server.mlflow.paths import API_PREFIXES


def test_server_info_answers_under_every_prefix(mlflow_uri: str) -> None:
    for prefix in API_PREFIXES:
        answer = httpx.get(f"{mlflow_uri}{prefix}/server-info")
        assert answer.status_code == 200, (prefix, answer.text)
        info = answer.json()
        assert info["multipart_uploads_enabled"] is False
        assert info["multipart_downloads_enabled"] is False
        assert info["workspaces_enabled"] is False


def test_a_large_artifact_goes_in_one_upload(
    mlflow_uri: str, cairn_api: HttpTracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every file counts as large, so the client asks server-info whether to send it in parts.
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_MINIMUM_FILE_SIZE", "1")
    response = fetch_server_info(MlflowHostCreds(mlflow_uri))
    assert response.status_code == 200  # read, not defaulted after a failure
    assert response.data is not None and response.data["multipart_uploads_enabled"] is False

    weights = tmp_path / "weights.bin"
    weights.write_bytes(bytes(range(256)) * 4096)
    mlflow.set_experiment("large")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(weights), artifact_path="model")
    back = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(tmp_path / "back")))
    assert (back / "model" / "weights.bin").read_bytes() == weights.read_bytes()
    assert [a.path for a in cairn_api.list_artifacts(run.info.run_id)] == ["model/weights.bin"]


def test_server_info_asks_for_sign_in(mlflow_auth_server: ThreadedServer) -> None:
    answer = httpx.get(f"{mlflow_auth_server.url}/api/3.0/mlflow/server-info")
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "UNAUTHENTICATED"
