"""What every MLflow route shares: MLflow's error envelope, unknown endpoints, and signing in
the ways MLflow's client does (``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_USERNAME`` and
``_PASSWORD``)."""

from __future__ import annotations

import httpx
from tests.access_helpers import PASSWORD, Team
from tests.helpers import ThreadedServer


def test_an_unknown_endpoint_is_mlflow_s_endpoint_not_found(mlflow_server: ThreadedServer) -> None:
    for path in ("/api/2.0/mlflow/no-such/thing", "/ajax-api/2.0/mlflow/runs/nothing", "/api/2.0/mlflow-artifacts/x"):
        answer = httpx.post(f"{mlflow_server.url}{path}", json={})
        assert answer.status_code == 404
        body = answer.json()
        assert body["error_code"] == "ENDPOINT_NOT_FOUND"
        assert path in body["message"]


def test_credentials_as_the_mlflow_client_sends_them(mlflow_auth_server: ThreadedServer, team: Team) -> None:
    token = team.user("ada")
    url = f"{mlflow_auth_server.url}/api/2.0/mlflow/no-such/thing"
    assert httpx.get(url).json()["error_code"] == "UNAUTHENTICATED"
    assert httpx.get(url).status_code == 401
    for auth in ({"Authorization": f"Bearer {token}"},):
        assert httpx.get(url, headers=auth).json()["error_code"] == "ENDPOINT_NOT_FOUND"
    # MLFLOW_TRACKING_USERNAME and _PASSWORD: the password may be a token or the password.
    projects = f"{mlflow_auth_server.url}/api/v1/projects"
    assert httpx.get(projects, auth=("ada", token)).status_code == 200
    assert httpx.get(projects, auth=("ada", PASSWORD)).status_code == 200
    assert httpx.get(projects, auth=("ada", PASSWORD)).status_code == 200  # the second from the cache
    assert httpx.get(projects, auth=("ada", "wrong password")).status_code == 401
    assert httpx.get(projects, auth=("grace", token)).status_code == 401  # another user's token
    assert httpx.get(projects, headers={"Authorization": "Basic !!not-base64"}).status_code == 401
