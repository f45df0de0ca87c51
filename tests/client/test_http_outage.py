"""The writer against a real server behind a gateway that fails the way networks do: a 503
page, refused connections, an answer lost after the server committed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from store_doubles import wait_until, warnings_in

from cairn.client.http import HttpTracking
from cairn.client.run import Run
from cairn.client.writer import BackgroundWriter
from cairn.core.entities import RunStatus


class Gateway:
    """Forwards requests to the real server, unless told to fail."""

    def __init__(self) -> None:
        self.upstream = httpx.HTTPTransport()
        self.mode = "pass"  # pass | 503 | refuse | lose-next-metrics-answer
        self.metric_posts = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.mode == "503":
            return httpx.Response(503, text="<html><body>503 Service Temporarily Unavailable</body></html>")
        if self.mode == "refuse":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        is_metrics = request.method == "POST" and request.url.path.endswith("/metrics")
        self.metric_posts += is_metrics
        response = self.upstream.handle_request(request)
        if self.mode == "lose-next-metrics-answer" and is_metrics:
            response.read()  # the server has stored the batch...
            response.close()
            self.mode = "pass"
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)  # ...we never hear
        return response

    def close(self) -> None:
        self.upstream.close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    found = Gateway()
    yield found
    found.close()


def start_run(url: str, gateway: Gateway, spool_root: Path) -> Run:
    tracking = HttpTracking(url, transport=httpx.MockTransport(gateway.handle))
    record = tracking.create_run("net")
    writer = BackgroundWriter(tracking, record.id, spool_root=spool_root, uri=url, flush_interval=0.05)
    return Run(tracking, record, writer, owns_tracking=True)


@pytest.mark.parametrize("failure", ["503", "refuse"])
def test_an_unreachable_server_spools_and_catches_up(
    failure: str,
    server: Any,
    gateway: Gateway,
    spool_root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url: str = server.url
    run = start_run(url, gateway, spool_root)
    run.log({"loss": 0.0})
    assert run.flush(timeout=5)

    gateway.mode = failure
    for step in range(1, 500):
        run.log({"loss": float(step)})
    run.log_params({"lr": 0.1})
    wait_until(lambda: any(spool_root.glob("*/[0-9]*.json")))
    gateway.mode = "pass"
    wait_until(lambda: not any(spool_root.iterdir()), timeout=15)
    for step in range(500, 600):
        run.log({"loss": float(step)})
    run.finish()

    reader = HttpTracking(url)
    try:
        record = reader.get_run(run.id)
        assert record.status is RunStatus.FINISHED and record.params == {"lr": 0.1}
        np.testing.assert_array_equal(reader.get_metric_history(run.id, "loss").steps, np.arange(600))
    finally:
        reader.close()
    assert len(warnings_in(capsys.readouterr().err)) == 1


def test_an_answer_lost_on_the_network_does_not_duplicate_points(
    server: Any, gateway: Gateway, spool_root: Path
) -> None:
    url: str = server.url
    run = start_run(url, gateway, spool_root)
    gateway.mode = "lose-next-metrics-answer"
    for step in range(300):
        run.log({"loss": float(step)})
    assert run.flush(timeout=10)
    run.finish()
    assert gateway.metric_posts >= 2  # the batch went out twice

    reader = HttpTracking(url)
    try:
        np.testing.assert_array_equal(reader.get_metric_history(run.id, "loss").steps, np.arange(300))
        assert reader.get_run(run.id).metrics["loss"].count == 300
    finally:
        reader.close()
