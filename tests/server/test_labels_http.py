"""Labels on the wire: raw HTTP against the real server on a loopback port (docs/api.md,
"Labels and performance"): JSON, gzipped JSON (what the client sends a distant server) and
Parquet bodies, and the refusals of each, every one the error envelope."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.contract.test_prediction_logs import HOUR, log_file
from tests.contract.test_registry import trained_run
from tests.helpers import ThreadedServer

from cairn.client.http import HttpTracking
from cairn.core.prediction_logs import MEDIA_TYPE

URL = "/api/v1/models/served/versions/1/labels"


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = orjson.loads(response.content)
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def http(server: ThreadedServer, tmp_path: Path) -> Iterator[httpx.Client]:
    """A client of a server holding model "served" with three logged predictions, r0 … r2."""
    tracking = HttpTracking(server.url)
    tracking.register_model(f"runs:/{trained_run(tracking, tmp_path)}/model", "served")
    tracking.log_predictions("served", 1, HOUR, log_file())
    tracking.close()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _kept(client: httpx.Client, file_id: str) -> dict[str, list[Any]]:
    answer = client.get(f"{URL}/{file_id}")
    assert answer.status_code == 200 and answer.headers["content-type"] == MEDIA_TYPE
    return pq.read_table(io.BytesIO(answer.content)).to_pydict()  # type: ignore[no-any-return]


def test_json_gzipped_json_and_parquet_bodies_are_kept_alike(http: httpx.Client) -> None:
    plain = http.post(URL, json={"ids": ["r0", "r1"], "labels": [1, 0], "timestamps": [7, 8]})
    assert plain.status_code == 201, plain.text
    assert set(plain.json()) == {
        "id", "model", "version", "rows", "first_ms", "last_ms", "size", "digest", "created_by", "created_at"
    }  # fmt: skip
    assert _kept(http, plain.json()["id"]) == {"request_id": ["r0", "r1"], "label": [1, 0], "timestamp_ms": [7, 8]}

    body = gzip.compress(orjson.dumps({"ids": ["r2"], "labels": [0.5], "timestamps": [9]}))
    zipped = http.post(URL, content=body, headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert zipped.status_code == 201, zipped.text
    assert _kept(http, zipped.json()["id"])["label"] == [0.5]

    table = pa.table({"request_id": ["r0", "r2"], "label": ["yes", "no"]})
    sent = http.post(URL, content=_parquet(table), headers={"content-type": MEDIA_TYPE})
    assert sent.status_code == 201, sent.text
    assert (sent.json()["rows"], sent.json()["first_ms"], sent.json()["last_ms"]) == (2, HOUR, HOUR + 2000)
    assert _kept(http, sent.json()["id"])["label"] == ["yes", "no"]
    assert len(http.get(URL).json()["files"]) == 3


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"ids": ["r0"], "labels": [1, 2]}, "invalid_prediction_labels", "labels"),
        ({"ids": ["r0", "r1"], "labels": [1, "one"]}, "invalid_prediction_labels", "labels"),
        ({"ids": [], "labels": []}, "invalid_request", "ids"),
        ({"ids": ["r0"], "labels": [True]}, "invalid_request", "labels"),
        ({"ids": ["r0"], "labels": [{"a": 1}]}, "invalid_request", "labels"),
        ({"ids": ["r\\u0000"], "labels": [1]}, "invalid_request", "ids"),
        ({"ids": ["r0"], "labels": [1], "extra": 1}, "invalid_request", "extra"),
        ({"labels": [1]}, "invalid_request", "ids"),
        ({"ids": ["r0", "zz"], "labels": [1, 1]}, "unknown_prediction_ids", None),
    ],
)
def test_bad_json_bodies_are_refused_with_the_envelope(
    http: httpx.Client, body: dict[str, Any], code: str, field: str | None
) -> None:
    raw = orjson.dumps(body).replace(b"\\\\u0000", b"\\u0000")
    error = _error(http.post(URL, content=raw, headers={"content-type": "application/json"}), 400, code)
    if field is not None:
        assert error["details"]["field"] == field
    assert http.get(URL).json()["files"] == []


def test_bad_parquet_bodies_are_refused_with_the_envelope(http: httpx.Client) -> None:
    parquet = {"content-type": MEDIA_TYPE}
    assert _error(http.post(URL, content=b"not parquet", headers=parquet), 400, "invalid_prediction_labels")[
        "details"
    ] == {"field": "file"}
    no_label = _parquet(pa.table({"request_id": ["r0"], "value": [1]}))
    assert _error(http.post(URL, content=no_label, headers=parquet), 400, "invalid_prediction_labels")["details"] == {
        "field": "label"
    }
    missing = _parquet(pa.table({"request_id": ["r0", "r1"], "label": [1, None]}))
    _error(http.post(URL, content=missing, headers=parquet), 400, "invalid_prediction_labels")
    unknown = _parquet(pa.table({"request_id": ["nope"], "label": [1]}))
    assert _error(http.post(URL, content=unknown, headers=parquet), 400, "unknown_prediction_ids")["details"] == {
        "unknown": ["nope"],
        "count": 1,
    }
    corrupt = http.post(URL, content=b"\x1f\x8b junk", headers={**parquet, "content-encoding": "gzip"})
    _error(corrupt, 400, "invalid_request")
    assert http.get(URL).json()["files"] == []


def test_the_performance_report_takes_windows_of_hours_and_days(http: httpx.Client) -> None:
    http.post(URL, json={"ids": ["r0", "r1", "r2"], "labels": [0, 1, 1]})
    url = "/api/v1/models/served/versions/1/performance"
    report = http.get(url, params={"window": "1h", "start_ms": HOUR, "end_ms": HOUR + 3_600_000}).json()
    assert report["kind"] == "classifier"
    assert report["windows"] == [
        {
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T01:00:00Z",
            "rows": 3,
            "labelled": 3,
            "metrics": {"accuracy": pytest.approx(2 / 3), "f1": pytest.approx(2 / 3)},
        }
    ]
    for window in ("30m", "0h", "745h", "32d", "1w"):
        _error(http.get(url, params={"window": window}), 400, "invalid_request")
    _error(http.get("/api/v1/models/served/versions/9/performance"), 404, "model_version_not_found")
