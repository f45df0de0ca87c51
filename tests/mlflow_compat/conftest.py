"""The real MLflow client (the test extra pins it) against a real Cairn server.

``mlflow_server`` is a Cairn server in a thread of this process; ``mlflow_uri`` points the
MLflow client at it through ``MLFLOW_TRACKING_URI``, exactly as a user would, and leaves no
active run or cached client behind. ``cairn_api`` reads the same server through Cairn's own
client, so every test can check what MLflow logged the way Cairn's users will see it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.access_helpers import Team
from tests.helpers import ThreadedServer, free_port

from cairn.client.http import HttpTracking
from cairn.settings import ServerSettings

mlflow = pytest.importorskip("mlflow", reason="the MLflow client is in the test extra")


def _settings(tmp_path: Path, *, require_auth: bool = False) -> ServerSettings:
    return ServerSettings(
        store_uri=str(tmp_path / "server.db"),
        blobs_uri=str(tmp_path / "blobs"),
        port=free_port(),
        require_auth=require_auth,
    )


@pytest.fixture(autouse=True)
def _restore_mlflow_uris() -> Iterator[None]:
    """``mlflow.set_tracking_uri`` is process-wide (it also sets ``MLFLOW_TRACKING_URI`` in the
    environment) and outlives the test: put both back as they were, or a later test, of any
    folder, talks to a server that has stopped."""
    from mlflow.tracking._model_registry import utils as registry_uris
    from mlflow.tracking._tracking_service import utils as tracking_uris

    saved = tracking_uris._tracking_uri, registry_uris._registry_uri
    saved_env = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    tracking_uris._tracking_uri, registry_uris._registry_uri = saved
    for key, value in saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[ThreadedServer]:
    with ThreadedServer(_settings(tmp_path)) as running:
        yield running


@pytest.fixture
def mlflow_auth_server(tmp_path: Path) -> Iterator[ThreadedServer]:
    with ThreadedServer(_settings(tmp_path, require_auth=True)) as running:
        yield running


@pytest.fixture
def team(mlflow_auth_server: ThreadedServer) -> Team:
    return Team(mlflow_auth_server.app.state.tracking.store)


def _point_mlflow_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", url)
    # Fail fast: MLflow's client retries refused requests for minutes by default.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)


@pytest.fixture
def mlflow_uri(mlflow_server: ThreadedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The MLflow client pointed at a Cairn server without authentication."""
    _point_mlflow_at(mlflow_server.url, monkeypatch)
    yield mlflow_server.url
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def cairn_api(mlflow_server: ThreadedServer) -> Iterator[HttpTracking]:
    """Cairn's own client of the same server: what Cairn's users see of MLflow's writes."""
    client = HttpTracking(mlflow_server.url)
    yield client
    client.close()
