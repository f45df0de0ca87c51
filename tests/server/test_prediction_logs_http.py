"""Prediction logs on the wire: raw HTTP against the real server on a loopback port, with and
without sign-in (docs/api.md, "Prediction logs")."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
from tests.access_helpers import Team
from tests.contract.test_prediction_logs import HOUR, log_file
from tests.contract.test_registry import trained_run
from tests.helpers import ThreadedServer

from cairn.client.http import HttpTracking
from cairn.core.access import Role
from cairn.core.errors import PermissionDenied
from cairn.core.limits import MAX_REQUEST_BYTES
from cairn.core.prediction_logs import MEDIA_TYPE

API = "/api/v1"
PARQUET = {"content-type": MEDIA_TYPE}


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = orjson.loads(response.content)
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def http(server: ThreadedServer, tmp_path: Path) -> Iterator[httpx.Client]:
    """A client of a server holding model "served" with one version."""
    tracking = HttpTracking(server.url)
    tracking.register_model(f"runs:/{trained_run(tracking, tmp_path)}/model", "served")
    tracking.close()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _post(client: httpx.Client, data: bytes, **headers: str) -> httpx.Response:
    url = f"{API}/models/served/versions/1/prediction-logs"
    return client.post(url, params={"hour_ms": HOUR}, content=data, headers={**PARQUET, **headers})


def test_a_file_goes_up_and_comes_back_as_parquet(http: httpx.Client) -> None:
    created = _post(http, log_file())
    assert created.status_code == 201, created.text
    file = created.json()
    assert set(file) == {
        "id",
        "model",
        "version",
        "hour_ms",
        "rows",
        "first_ms",
        "last_ms",
        "size",
        "digest",
        "created_by",
        "created_at",
        "mismatches",
        "mismatched_rows",
    }
    listed = http.get(f"{API}/models/served/prediction-logs", params={"version": 1, "since_ms": HOUR})
    assert listed.json() == {"files": [file], "next_page_token": None}
    back = http.get(f"{API}/models/served/versions/1/prediction-logs/{file['id']}")
    assert back.status_code == 200 and back.headers["content-type"] == MEDIA_TYPE
    assert back.content == log_file()
    assert list(pd.read_parquet(io.BytesIO(back.content))["prediction"]) == [0, 1, 0]


def test_a_gzipped_file_is_taken(http: httpx.Client) -> None:
    created = _post(http, gzip.compress(log_file()), **{"content-encoding": "gzip"})
    assert created.status_code == 201, created.text
    assert created.json()["size"] == len(log_file())


def test_bad_files_and_unknown_ones_get_the_envelope(http: httpx.Client) -> None:
    error = _error(_post(http, b"not parquet"), 400, "invalid_prediction_log")
    assert error["details"] == {}
    error = _error(_post(http, log_file(model_version=[2, 2, 2])), 400, "invalid_prediction_log")
    assert error["details"] == {"column": "model_version"}
    _error(_post(http, log_file(), **{"content-encoding": "br"}), 400, "invalid_request")
    too_big = http.post(
        f"{API}/models/served/versions/1/prediction-logs",
        params={"hour_ms": HOUR},
        content=b"\0" * (MAX_REQUEST_BYTES + 1),
        headers=PARQUET,
    )
    _error(too_big, 413, "payload_too_large")
    _error(http.get(f"{API}/models/served/versions/1/prediction-logs/{'0' * 32}"), 404, "prediction_log_not_found")
    _error(http.get(f"{API}/models/served/versions/7/prediction-logs/{'0' * 32}"), 404, "model_version_not_found")
    _error(http.get(f"{API}/models/nobody/prediction-logs"), 404, "model_not_found")
    _error(
        http.post(f"{API}/models/served/versions/1/prediction-logs", params={"hour_ms": HOUR + 1}, content=log_file()),
        400,
        "invalid_request",
    )
    assert http.get(f"{API}/models/served/prediction-logs").json()["files"] == []


def test_a_viewer_reads_but_may_not_write(auth_server: ThreadedServer, tmp_path: Path) -> None:
    team = Team(auth_server.app.state.tracking.store)
    admin = HttpTracking(auth_server.url, token=team.user("ada", is_admin=True, password=None))
    admin.register_model(f"runs:/{trained_run(admin, tmp_path)}/model", "served")
    logged = admin.log_predictions("served", 1, HOUR, log_file())
    team.user("vic", password=None)
    team.user("eda", password=None)
    team.grant("vic", Role.VIEWER, model="served")
    team.grant("eda", Role.EDITOR, model="served")
    viewer = HttpTracking(auth_server.url, token=team.token("vic"))
    editor = HttpTracking(auth_server.url, token=team.token("eda"))
    try:
        with pytest.raises(PermissionDenied):
            viewer.log_predictions("served", 1, HOUR, log_file())
        assert viewer.read_prediction_log("served", 1, logged.id) == log_file()
        assert viewer.list_prediction_logs("served").items == [logged]
        assert editor.log_predictions("served", 1, HOUR, log_file()).created_by == "eda"
    finally:
        for client in (admin, viewer, editor):
            client.close()
