"""HttpTracking on the wire, through ``httpx.MockTransport``: what it sends, and how every kind
of answer (or lack of one) becomes the typed error the writer and the user rely on."""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable

import httpx
import numpy as np
import orjson
import pytest

from cairn.client.http import HttpTracking
from cairn.core.binary_batch import MEDIA_TYPE as PACKED
from cairn.core.binary_batch import decode_batch
from cairn.core.entities import RunUpdate
from cairn.core.errors import CairnError, InvalidRequest, ParamConflict, RunNotActive, Unavailable
from cairn.core.metrics import MetricBatch, MetricColumns

RUN_WIRE = {
    "id": "r1",
    "project": "p",
    "project_id": "p1",
    "name": "brave-otter-1",
    "user": "me",
    "status": "running",
    "start_time": 1,
    "end_time": None,
    "duration_ms": None,
    "parent_id": None,
    "notes": "",
    "deleted": False,
    "params": {"lr": 0.1, "bad": {"float": "NaN"}},
    "tags": {},
    "metrics": {},
}


def client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: str) -> HttpTracking:
    return HttpTracking("http://cairn.test/", transport=httpx.MockTransport(handler), **kwargs)


def envelope(status: int, code: str, message: str, **details: object) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details}})


def batch(values: list[float], seq: int = 0) -> MetricBatch:
    n = len(values)
    column = MetricColumns("loss", np.arange(n, dtype=np.int64), np.full(n, 1000, dtype=np.int64), np.array(values))
    return MetricBatch(client_id="c" * 32, seq=seq, columns=[column])


@pytest.mark.parametrize(
    ("answer", "error", "retryable"),
    [
        (envelope(409, "param_conflict", "lr differs", keys=["lr"]), ParamConflict, False),
        (envelope(409, "run_not_active", "run r1 is deleted"), RunNotActive, False),
        (envelope(503, "unavailable", "database locked"), Unavailable, True),
        (envelope(418, "a_code_from_the_future", "new"), CairnError, False),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), Unavailable, True),
        (httpx.Response(503, text="upstream connect error"), Unavailable, True),
        (httpx.Response(504, text=""), Unavailable, True),
        (httpx.Response(500, text="Internal Server Error"), CairnError, False),
        (httpx.Response(404, text="not here"), CairnError, False),
    ],
    ids=lambda v: getattr(v, "status_code", getattr(v, "__name__", str(v))),
)
def test_answers_become_typed_errors(answer: httpx.Response, error: type[CairnError], retryable: bool) -> None:
    tracking = client(lambda request: answer)
    with pytest.raises(CairnError) as raised:
        tracking.log_params("r1", {"lr": 0.2})
    assert type(raised.value) is error
    assert raised.value.retryable is retryable
    if error is ParamConflict:
        assert raised.value.message == "lr differs" and raised.value.details == {"keys": ["lr"]}
    tracking.close()


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("eof"),
    ],
    ids=type,
)
def test_a_server_that_cannot_be_reached_is_unavailable(failure: httpx.TransportError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    tracking = client(handler)
    with pytest.raises(Unavailable, match="http://cairn.test") as raised:
        tracking.get_run("r1")
    assert raised.value.retryable
    tracking.close()


def test_requests_carry_the_token_and_escape_path_segments() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=RUN_WIRE)

    tracking = client(handler, token="s3cret")
    record = tracking.get_run("a/b c")
    assert seen[0].url.raw_path == b"/api/v1/runs/a%2Fb%20c"
    assert seen[0].headers["authorization"] == "Bearer s3cret"
    assert record.params["lr"] == 0.1 and math.isnan(record.params["bad"])  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest):
        tracking.get_run("")
    assert len(seen) == 1  # the empty id never left the process
    tracking.close()

    anonymous = client(handler)
    anonymous.get_run("r1")
    assert "authorization" not in seen[-1].headers
    anonymous.close()


def test_a_204_is_none_and_update_sends_only_what_changes() -> None:
    bodies: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(orjson.loads(request.content))
        if request.method == "PATCH":
            return httpx.Response(200, json=RUN_WIRE)
        return httpx.Response(204)

    tracking = client(handler)
    assert tracking.set_tags("r1", {"team": "cv"}) is None  # type: ignore[func-returns-value]
    tracking.update_run("r1", RunUpdate(notes="hi"))
    assert bodies == [{"tags": {"team": "cv"}}, {"notes": "hi"}]
    tracking.close()


def test_metric_batches_travel_packed_and_bit_exact() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"points": 3, "duplicate": False})

    tracking = client(handler)
    result = tracking.log_metrics("r1", batch([1.5, math.nan, -math.inf], seq=7))
    assert (result.points, result.duplicate) == (3, False)
    assert sent[0].headers["content-type"] == PACKED
    decoded = decode_batch(sent[0].content)
    assert (decoded.client_id, decoded.seq) == ("c" * 32, 7)
    (column,) = decoded.columns
    assert (column.key, column.steps.tolist(), column.timestamps.tolist()) == ("loss", [0, 1, 2], [1000] * 3)
    assert column.values.tobytes() == np.array([1.5, math.nan, -math.inf]).tobytes()
    tracking.close()


def test_loopback_servers_get_no_gzip() -> None:
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, json={"points": 200_000, "duplicate": False})

    tracking = HttpTracking("http://127.0.0.1:5055", transport=httpx.MockTransport(handler))
    tracking.log_metrics("r1", batch(np.linspace(0, 1, 200_000).tolist()))
    assert "content-encoding" not in received[0].headers
    tracking.close()


def test_a_large_batch_is_gzipped() -> None:
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, json={"points": 200_000, "duplicate": False})

    tracking = client(handler)
    big = batch(np.linspace(0, 1, 200_000).tolist())
    tracking.log_metrics("r1", big)
    request = received[0]
    assert request.headers["content-encoding"] == "gzip"
    body = decode_batch(gzip.decompress(request.content))
    assert len(request.content) < len(gzip.decompress(request.content))
    assert body.columns[0].values.tolist() == np.linspace(0, 1, 200_000).tolist()

    tracking.log_metrics("r1", batch([1.0]))
    assert "content-encoding" not in received[1].headers
    tracking.close()
