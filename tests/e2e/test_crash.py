"""A server killed with SIGKILL in the middle of an ingest loses nothing and stores nothing twice.

The client keeps logging while the server is gone: batches that were cut off mid-request, or
whose answer never came back, go to the spool and are sent again to the restarted server, whose
(client_id, seq) record makes a resent batch that had been committed a no-op.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import httpx
import numpy as np
import pytest

import cairn
from cairn.core.entities import RunStatus

if TYPE_CHECKING:
    from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.slow

POINTS = 200_000
#: Logged in slices with a pause between them, so the ingest takes a few seconds and the kill
#: lands while points are still arriving rather than after the last batch.
SLICE = 1_000
PAUSE_S = 0.01


def _points_stored(server: ServerProcess, run_id: str) -> int:
    try:
        response = httpx.get(f"{server.url}/api/v1/runs/{run_id}", timeout=2.0)
    except httpx.TransportError:
        return 0
    summary = response.json()["metrics"].get("loss")
    return 0 if summary is None else int(summary["count"])


def test_sigkill_during_ingest_loses_and_duplicates_nothing(
    server_process: ServerProcess,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CAIRN_URI", server_process.url)
    run = cairn.init("crash", name="sigkill", flush_interval=0.02)
    failure: list[BaseException] = []

    def train() -> None:
        try:
            for start in range(0, POINTS, SLICE):
                for step in range(start, start + SLICE):
                    run.log({"loss": float(step)}, step=step)
                time.sleep(PAUSE_S)
        except BaseException as exc:  # surfaced in the test thread below
            failure.append(exc)

    loop = threading.Thread(target=train, name="training-loop")
    loop.start()
    try:
        # Kill once a good share has been acknowledged, with the rest still to come.
        deadline = time.monotonic() + 30
        while (stored := _points_stored(server_process, run.id)) < POINTS // 4:
            assert time.monotonic() < deadline, f"the server acknowledged only {stored} points"
            time.sleep(0.005)
        assert stored < POINTS, "the ingest ended before the kill"
        server_process.kill()
        time.sleep(0.5)
        server_process.start()
    finally:
        loop.join(60)
    assert not failure, failure
    run.finish(timeout=120)
    # The writer's one warning names the server it lost.
    assert server_process.url in capsys.readouterr().err, "the client never noticed the crash"

    with cairn.Api(server_process.url) as api:
        record = api.run(run.id)
        history = api.history(run.id, "loss")
    assert record.status is RunStatus.FINISHED
    assert history.total == POINTS
    assert len(history.steps) == POINTS
    assert np.array_equal(history.steps, np.arange(POINTS))  # ordered by step: no gap, no repeat
    assert np.array_equal(history.values, np.arange(POINTS, dtype=np.float64))
    assert record.metrics["loss"].count == POINTS
