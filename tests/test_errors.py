"""The error contract: stable codes and statuses, one JSON envelope, one class on both sides."""

from __future__ import annotations

import asyncio
import gzip
import inspect
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from tests.helpers import ThreadedServer, free_port

import cairn.core.errors as errors_module
from cairn.client.http import HttpTracking
from cairn.core.binary_batch import MEDIA_TYPE as PACKED
from cairn.core.binary_batch import encode_batch
from cairn.core.errors import (
    AlertNotFound,
    AliasNotFound,
    AlreadyExists,
    ArtifactNotFound,
    BlobNotFound,
    BlobStoreUnavailable,
    CairnError,
    CommandNotFound,
    CommentNotFound,
    Conflict,
    DatasetNotFound,
    DeliveryNotFound,
    DigestMismatch,
    DuplicateRun,
    FlavorError,
    FrameworkNotInstalled,
    GrantNotFound,
    InvalidArtifactPath,
    InvalidBatchInput,
    InvalidEventFile,
    InvalidHost,
    InvalidInput,
    InvalidKey,
    InvalidManifest,
    InvalidModelUri,
    InvalidPageToken,
    InvalidPredictionLabels,
    InvalidPredictionLog,
    InvalidPredictionTime,
    InvalidQuery,
    InvalidRequest,
    InvalidValue,
    LoggedModelNotFound,
    ModelNotFound,
    ModelTampered,
    ModelVersionNotFound,
    MonitorNotFound,
    NotFound,
    ParamConflict,
    PayloadTooLarge,
    PermissionDenied,
    PredictionLabelsNotFound,
    PredictionLogNotFound,
    ProjectNotFound,
    ProtectionNotFound,
    ReferenceUnavailable,
    ReviewNotFound,
    ReviewNotMergeable,
    ReviewNotOpen,
    ReviewRequired,
    RunNotActive,
    RunNotFound,
    SchemaOutOfDate,
    SelfApproval,
    SignatureMismatch,
    SignInFailed,
    SingleSignOnFailed,
    StoreUnreadable,
    TeamNotFound,
    TokenNotFound,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
    UnknownPredictionIds,
    UnsupportedMediaType,
    UploadNotFound,
    UploadOffsetMismatch,
    UserNotFound,
    ViewNotFound,
    WebhookNotFound,
    WebhookUrlRefused,
    all_error_classes,
    error_class_for_code,
)
from cairn.core.limits import MAX_REQUEST_BYTES
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.server.app import create_app
from cairn.server.errors import HTTP_CODES
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

# Codes and statuses are public API: renaming a code or moving a class must fail this table.
ERROR_TABLE: list[tuple[type[CairnError], type[Exception], str, int]] = [
    (CairnError, Exception, "internal_error", 500),
    (InvalidInput, CairnError, "invalid_input", 400),
    (InvalidKey, InvalidInput, "invalid_key", 400),
    (InvalidValue, InvalidInput, "invalid_value", 400),
    (WebhookUrlRefused, InvalidValue, "webhook_url_refused", 400),
    (InvalidRequest, InvalidInput, "invalid_request", 400),
    (InvalidPageToken, InvalidRequest, "invalid_page_token", 400),
    (InvalidHost, InvalidInput, "invalid_host", 400),
    (InvalidQuery, InvalidInput, "invalid_query", 400),
    (InvalidArtifactPath, InvalidInput, "invalid_artifact_path", 400),
    (DigestMismatch, InvalidInput, "digest_mismatch", 400),
    (ModelTampered, DigestMismatch, "model_tampered", 400),
    (PayloadTooLarge, InvalidInput, "payload_too_large", 413),
    (InvalidManifest, InvalidInput, "invalid_manifest", 400),
    (InvalidModelUri, InvalidInput, "invalid_model_uri", 400),
    (SignatureMismatch, InvalidInput, "signature_mismatch", 400),
    (FlavorError, InvalidInput, "flavor_error", 400),
    (FrameworkNotInstalled, FlavorError, "framework_not_installed", 400),
    (UnsupportedMediaType, InvalidInput, "unsupported_media_type", 415),
    (InvalidBatchInput, InvalidInput, "invalid_batch_input", 400),
    (InvalidPredictionLog, InvalidInput, "invalid_prediction_log", 400),
    (InvalidPredictionLabels, InvalidInput, "invalid_prediction_labels", 400),
    (UnknownPredictionIds, InvalidInput, "unknown_prediction_ids", 400),
    (InvalidEventFile, InvalidInput, "invalid_event_file", 400),
    (InvalidPredictionTime, InvalidPredictionLog, "invalid_prediction_time", 400),
    (NotFound, CairnError, "not_found", 404),
    (ProjectNotFound, NotFound, "project_not_found", 404),
    (RunNotFound, NotFound, "run_not_found", 404),
    (ArtifactNotFound, NotFound, "artifact_not_found", 404),
    (BlobNotFound, NotFound, "blob_not_found", 404),
    (UploadNotFound, NotFound, "upload_not_found", 404),
    (DatasetNotFound, NotFound, "dataset_not_found", 404),
    (CommentNotFound, NotFound, "comment_not_found", 404),
    (ViewNotFound, NotFound, "view_not_found", 404),
    (ModelNotFound, NotFound, "model_not_found", 404),
    (ModelVersionNotFound, NotFound, "model_version_not_found", 404),
    (AliasNotFound, NotFound, "alias_not_found", 404),
    (ProtectionNotFound, NotFound, "protection_not_found", 404),
    (ReviewNotFound, NotFound, "review_not_found", 404),
    (WebhookNotFound, NotFound, "webhook_not_found", 404),
    (DeliveryNotFound, NotFound, "delivery_not_found", 404),
    (Conflict, CairnError, "conflict", 409),
    (AlreadyExists, Conflict, "already_exists", 409),
    (ParamConflict, Conflict, "param_conflict", 409),
    (RunNotActive, Conflict, "run_not_active", 409),
    (DuplicateRun, Conflict, "duplicate_run", 409),
    (UploadOffsetMismatch, Conflict, "upload_offset_mismatch", 409),
    (ReviewRequired, Conflict, "review_required", 409),
    (ReviewNotOpen, Conflict, "review_not_open", 409),
    (ReviewNotMergeable, Conflict, "review_not_mergeable", 409),
    (PermissionDenied, CairnError, "permission_denied", 403),
    (SelfApproval, PermissionDenied, "self_approval", 403),
    (Unauthenticated, CairnError, "unauthenticated", 401),
    (SignInFailed, Unauthenticated, "sign_in_failed", 401),
    (SingleSignOnFailed, Unauthenticated, "sso_failed", 401),
    (TooManyAttempts, CairnError, "too_many_attempts", 429),
    (UserNotFound, NotFound, "user_not_found", 404),
    (TeamNotFound, NotFound, "team_not_found", 404),
    (TokenNotFound, NotFound, "token_not_found", 404),
    (GrantNotFound, NotFound, "grant_not_found", 404),
    (PredictionLogNotFound, NotFound, "prediction_log_not_found", 404),
    (PredictionLabelsNotFound, NotFound, "prediction_labels_not_found", 404),
    (LoggedModelNotFound, NotFound, "logged_model_not_found", 404),
    (MonitorNotFound, NotFound, "monitor_not_found", 404),
    (AlertNotFound, NotFound, "alert_not_found", 404),
    (CommandNotFound, NotFound, "command_not_found", 404),
    (ReferenceUnavailable, Conflict, "reference_unavailable", 409),
    (SchemaOutOfDate, CairnError, "schema_out_of_date", 503),
    (StoreUnreadable, CairnError, "store_unreadable", 500),
    (Unavailable, CairnError, "unavailable", 503),
    (BlobStoreUnavailable, Unavailable, "blob_store_unavailable", 503),
]
ERROR_CLASSES = [row[0] for row in ERROR_TABLE]
API = "/api/v1"


# -- the classes -------------------------------------------------------------------------------


def test_every_error_class_is_in_the_table() -> None:
    assert {cls.__name__ for cls in all_error_classes()} == {cls.__name__ for cls in ERROR_CLASSES}
    assert len(all_error_classes()) == len(ERROR_TABLE)


@pytest.mark.parametrize(("cls", "parent", "code", "status"), ERROR_TABLE, ids=[c.__name__ for c in ERROR_CLASSES])
def test_code_status_and_place_in_the_tree(
    cls: type[CairnError], parent: type[Exception], code: str, status: int
) -> None:
    assert cls.code == code
    assert cls.http_status == status
    assert cls.__bases__ == (parent,)
    assert error_class_for_code(code) is cls
    assert cls.retryable is issubclass(cls, Unavailable)
    # The tree in the module docstring names every code with its status.
    doc = errors_module.__doc__ or ""
    assert any(cls.__name__ in line and code in line and str(status) in line for line in doc.splitlines())


def _documented_codes() -> dict[str, int]:
    doc = (Path(__file__).parent.parent / "docs" / "errors.md").read_text()
    rows = (re.match(r"\| `([a-z_]+)` \| (\d{3}) \|", line) for line in doc.splitlines())
    return {row.group(1): int(row.group(2)) for row in rows if row}


def test_docs_errors_md_lists_every_code_with_its_status() -> None:
    # The codes of the error classes, and those the server gives Starlette's own errors.
    expected = {cls.code: cls.http_status for cls in all_error_classes()}
    expected.update({code: status for status, code in HTTP_CODES.items()})
    assert _documented_codes() == expected


def test_codes_are_unique_and_unknown_codes_fall_back_to_the_base() -> None:
    codes = [row[2] for row in ERROR_TABLE]
    assert len(codes) == len(set(codes))
    assert error_class_for_code("a_code_from_a_newer_server") is CairnError


def test_envelope_shape() -> None:
    error = ParamConflict("lr already logged", details={"conflicts": {"lr": {"stored": 0.1, "new": 0.2}}})
    assert error.to_envelope() == {
        "error": {
            "code": "param_conflict",
            "message": "lr already logged",
            "details": {"conflicts": {"lr": {"stored": 0.1, "new": 0.2}}},
        }
    }
    assert str(error) == "lr already logged"
    assert RunNotFound("gone").to_envelope() == {"error": {"code": "run_not_found", "message": "gone", "details": {}}}


# -- the envelope over HTTP --------------------------------------------------------------------


def _assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = orjson.loads(response.content)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def http(server: ThreadedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def run_id(http: httpx.Client) -> str:
    response = http.post(f"{API}/runs", json={"project": "p", "config": {"lr": 0.1}})
    assert response.status_code == 201
    value: str = response.json()["id"]
    return value


def test_a_service_error_becomes_its_envelope(http: httpx.Client) -> None:
    error = _assert_envelope(http.get(f"{API}/runs/{'0' * 32}"), 404, "run_not_found")
    assert error["details"] == {"run_id": "0" * 32}
    _assert_envelope(http.get(f"{API}/projects/nowhere"), 404, "project_not_found")
    http.post(f"{API}/projects", json={"name": "twice"})
    _assert_envelope(http.post(f"{API}/projects", json={"name": "twice"}), 409, "already_exists")


def test_malformed_json(http: httpx.Client, run_id: str) -> None:
    headers = {"content-type": "application/json"}
    _assert_envelope(http.post(f"{API}/projects", content=b'{"name": ', headers=headers), 400, "invalid_request")
    _assert_envelope(
        http.post(f"{API}/runs/{run_id}/metrics", content=b"[1, 2", headers=headers),
        400,
        "invalid_request",
    )
    _assert_envelope(
        http.post(f"{API}/runs/{run_id}/params", content=b"nope", headers=headers),
        400,
        "invalid_request",
    )


def test_invalid_fields(http: httpx.Client, run_id: str) -> None:
    error = _assert_envelope(http.post(f"{API}/projects", json={}), 400, "invalid_request")
    assert error["details"]["problems"][0]["location"] == ["body", "name"]
    _assert_envelope(http.post(f"{API}/projects", json={"name": "x", "colour": "red"}), 400, "invalid_request")
    _assert_envelope(http.get(f"{API}/runs", params={"project": "p", "limit": "many"}), 400, "invalid_request")
    _assert_envelope(http.patch(f"{API}/runs/{run_id}", json={"status": "paused"}), 400, "invalid_request")


def test_unknown_route_and_method(http: httpx.Client) -> None:
    _assert_envelope(http.get(f"{API}/no/such/route"), 404, "not_found")
    _assert_envelope(http.delete(f"{API}/projects"), 405, "method_not_allowed")
    # Outside the API an address is a dashboard page: a person reads the error there.
    page = http.get("/nowhere")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text and "not_found" in page.text


def test_body_over_the_limit(http: httpx.Client, run_id: str) -> None:
    headers = {"content-type": "application/json"}
    declared = http.post(f"{API}/projects", content=b" " * (MAX_REQUEST_BYTES + 1), headers=headers)
    error = _assert_envelope(declared, 413, "payload_too_large")
    assert error["details"] == {"limit": MAX_REQUEST_BYTES}

    def chunks() -> Iterator[bytes]:
        # No Content-Length: the limit is enforced while the body arrives.
        chunk = b" " * (1 << 20)
        for _ in range(MAX_REQUEST_BYTES // len(chunk) + 1):
            yield chunk

    for path in (f"{API}/projects", f"{API}/runs/{run_id}/metrics"):
        _assert_envelope(http.post(path, content=chunks(), headers=headers), 413, "payload_too_large")
    assert http.get(f"{API}/projects").json()["projects"][0]["name"] == "p"


def _metrics_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": "raw",
        "seq": 0,
        "metrics": [{"key": "loss", "steps": [0, 1], "timestamps": [5, 6], "values": [0.5, 0.25]}],
    }
    body.update(overrides)
    return body


def test_gzip_bodies(http: httpx.Client, run_id: str) -> None:
    path = f"{API}/runs/{run_id}/metrics"
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    packed = gzip.compress(orjson.dumps(_metrics_body()))

    error = _assert_envelope(
        http.post(path, content=b"\x1f\x8b\x08\x00garbage", headers=headers), 400, "invalid_request"
    )
    assert "gzip" in error["message"]
    _assert_envelope(http.post(path, content=packed[: len(packed) // 2], headers=headers), 400, "invalid_request")
    _assert_envelope(http.post(path, content=b"not gzip at all", headers=headers), 400, "invalid_request")
    brotli = {"content-type": "application/json", "content-encoding": "br"}
    _assert_envelope(
        http.post(path, content=orjson.dumps(_metrics_body()), headers=brotli),
        400,
        "invalid_request",
    )
    assert http.get(f"{path}/history", params={"key": "loss"}).json()["total"] == 0

    accepted = http.post(path, content=packed, headers=headers)
    assert accepted.status_code == 200
    assert accepted.json() == {"points": 2, "duplicate": False}
    assert http.get(f"{path}/history", params={"key": "loss"}).json()["total"] == 2


BAD_METRICS: list[tuple[dict[str, Any], str]] = [
    ({"values": [0.5, "abc"]}, "invalid_value"),
    ({"values": [0.5, None]}, "invalid_value"),
    ({"values": [0.5, [1]]}, "invalid_value"),
    ({"steps": [0, 1.5]}, "invalid_value"),
    ({"steps": [0, "1"]}, "invalid_value"),
    ({"steps": [0, 2**63]}, "invalid_value"),
    ({"timestamps": [5, -1]}, "invalid_value"),
    ({"key": ""}, "invalid_key"),
    ({"key": "a\nb"}, "invalid_key"),
    ({"key": "k" * 251}, "invalid_key"),
    ({"values": [0.5]}, "invalid_request"),
    ({"steps": 0}, "invalid_request"),
    ({"extra": 1}, "invalid_request"),
]


def test_bad_metric_bodies_store_nothing(http: httpx.Client, run_id: str) -> None:
    path = f"{API}/runs/{run_id}/metrics"
    good = {"key": "good", "steps": [0], "timestamps": [0], "values": [1.0]}
    for seq, (metric, code) in enumerate(BAD_METRICS):
        bad = {**_metrics_body()["metrics"][0], **metric}
        body = _metrics_body(seq=seq, metrics=[good, bad])
        assert _assert_envelope(http.post(path, json=body), 400, code), metric
        assert http.get(f"{API}/runs/{run_id}").json()["metrics"] == {}, metric
    # No refused batch used up its sequence number.
    for seq in range(len(BAD_METRICS)):
        answer = http.post(path, json=_metrics_body(seq=seq, metrics=[good]))
        assert answer.json() == {"points": 1, "duplicate": False}


def test_bad_batch_envelopes(http: httpx.Client, run_id: str) -> None:
    path = f"{API}/runs/{run_id}/metrics"
    for body in (
        [],
        {"client_id": "c"},
        _metrics_body(seq="1"),
        _metrics_body(client_id=7),
        _metrics_body(extra=1),
    ):
        _assert_envelope(http.post(path, json=body), 400, "invalid_request")
    _assert_envelope(http.post(path, json=_metrics_body(seq=-1)), 400, "invalid_request")
    _assert_envelope(http.post(path, json=_metrics_body(client_id="")), 400, "invalid_request")


def test_packed_batches_over_http(http: httpx.Client, run_id: str) -> None:
    path = f"{API}/runs/{run_id}/metrics"
    batch = MetricBatch(
        "packed", 0, [MetricColumns("loss", np.array([0, 1]), np.array([5, 6]), np.array([0.5, math.nan]))]
    )
    body = encode_batch(batch)
    headers = {"content-type": PACKED}
    for broken in (body[:-1], body + b"\x00", b"CRNB\x01junk"):
        _assert_envelope(http.post(path, content=broken, headers=headers), 400, "invalid_request")
    assert http.get(f"{API}/runs/{run_id}").json()["metrics"] == {}
    bad_key = MetricBatch("packed", 1, [MetricColumns("", np.array([0]), np.array([0]), np.array([1.0]))])
    _assert_envelope(http.post(path, content=encode_batch(bad_key), headers=headers), 400, "invalid_key")
    assert http.post(path, content=body, headers=headers).json() == {"points": 2, "duplicate": False}
    assert http.post(path, content=body, headers=headers).json() == {"points": 2, "duplicate": True}
    history = http.get(f"{API}/runs/{run_id}/metrics/history", params={"key": "loss"}).json()
    assert history["values"] == [0.5, "NaN"]


# -- the client raises what the server raised --------------------------------------------------


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=[c.__name__ for c in ERROR_CLASSES])
def test_the_client_raises_the_class_of_the_code(cls: type[CairnError]) -> None:
    def answer(_request: httpx.Request) -> httpx.Response:
        error = cls("from the server", details={"why": "because"})
        return httpx.Response(cls.http_status, json=error.to_envelope())

    client = HttpTracking("http://cairn.test", transport=httpx.MockTransport(answer))
    with pytest.raises(CairnError) as raised:
        client.get_run("abc")
    assert type(raised.value) is cls
    assert raised.value.message == "from the server"
    assert raised.value.details == {"why": "because"}
    client.close()


def test_the_client_without_an_envelope() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        status = 502 if "gateway" in request.url.path else 500
        return httpx.Response(status, text="<html>oops</html>")

    client = HttpTracking("http://cairn.test", transport=httpx.MockTransport(answer))
    with pytest.raises(Unavailable):
        client.get_run("gateway")
    with pytest.raises(CairnError) as raised:
        client.get_run("other")
    assert type(raised.value) is CairnError
    client.close()


def test_the_client_re_raises_real_server_errors(server: ThreadedServer) -> None:
    client = HttpTracking(server.url)
    run = client.create_run("p", config={"lr": 0.1})
    with pytest.raises(ParamConflict) as raised:
        client.log_params(run.id, {"lr": 0.2})
    assert "lr" in raised.value.details["conflicts"]
    with pytest.raises(RunNotFound):
        client.get_run("0" * 32)
    with pytest.raises(AlreadyExists):
        client.create_project("p")
    client.close()


def test_an_unreachable_server_is_unavailable() -> None:
    client = HttpTracking(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Unavailable) as raised:
        client.list_projects()
    assert raised.value.retryable
    client.close()


# -- unexpected errors -------------------------------------------------------------------------


class _BrokenStore(SqlStore):
    """A store whose listing fails the way a bug would, with internals in the message."""

    def list_projects(self, *, names: Any = None, include_deleted: bool = False) -> list[Any]:
        raise RuntimeError("secret internals: password=hunter2")


async def _get_in_process(app: Any, path: str) -> httpx.Response:
    # raise_app_exceptions=False: Starlette re-raises after answering 500; we want the answer.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.get(path)


@pytest.mark.parametrize("debug", [False, True])
def test_unexpected_errors_hide_internals_unless_debugging(tmp_path: Path, debug: bool) -> None:
    store = _BrokenStore(str(tmp_path / "broken.db"))
    settings = ServerSettings(store_uri=store.uri, blobs_uri=str(tmp_path / "blobs"), debug=debug)
    try:
        response = asyncio.run(_get_in_process(create_app(settings, store=store), f"{API}/projects"))
    finally:
        store.close()
    assert response.status_code == 500
    body = response.json()
    assert (body["error"]["code"], body["error"]["message"]) == (
        "internal_error",
        "internal server error",
    )
    if debug:
        assert "hunter2" in "".join(body["error"]["details"]["traceback"])
    else:
        assert body["error"]["details"] == {}
        assert "hunter2" not in response.text


def test_the_module_docstring_is_the_tree() -> None:
    # Every class is documented where the tree is drawn, and nothing else is raised from core.
    source = inspect.getsource(errors_module)
    for cls in ERROR_CLASSES:
        assert f"class {cls.__name__}(" in source
