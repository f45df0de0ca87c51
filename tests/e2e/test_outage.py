"""A 30-second server outage neither slows the training loop nor loses a point.

While the server is down the background writer spools to disk and retries with back-off; the
loop only ever appends to a queue. The timing bounds are behavioural, not a benchmark: on a
2-core container the p99 of ``run.log`` (20 keys) is about 40 us and the slowest call under
1 ms, so 1 ms and 50 ms leave margins of 25x and more. They catch a loop that waits on the
network, the disk or the writer thread, not a slow machine.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import numpy as np
import pytest

import cairn
from cairn.client.spool import Spool
from cairn.core.entities import RunStatus
from cairn.settings import cairn_home

if TYPE_CHECKING:
    from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.slow

OUTAGE_S = 30.0  # what the issue asks to survive
BEFORE_S = 1.0
#: The loop goes on this long after the backlog has been replayed.
AFTER_S = 0.5
KEYS = [f"metric_{i:02d}" for i in range(20)]  # 20 points per step
TICK_S = 0.01
P99_LIMIT_S = 0.001
MAX_LIMIT_S = 0.050


def _spooled_writes() -> int:
    root = cairn_home() / "spool"
    return sum(len(Spool(folder, uri="")) for folder in root.iterdir()) if root.is_dir() else 0


def _steps_stored(api: cairn.Api, run_id: str) -> int:
    summary = api.run(run_id).metrics.get(KEYS[-1])
    return 0 if summary is None else summary.count


def test_a_long_outage_does_not_slow_the_loop_or_lose_points(
    server_process: ServerProcess,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CAIRN_URI", server_process.url)
    run = cairn.init("outage", name="thirty-seconds")  # the default flush_interval
    outage_over = threading.Event()
    orchestration_failed: list[BaseException] = []
    logged = [0]  # steps logged so far, read by the operator
    spooled_during_outage = [0]

    def outage() -> None:
        try:
            time.sleep(BEFORE_S)
            server_process.stop()
            time.sleep(OUTAGE_S)
            spooled_during_outage[0] = _spooled_writes()
            server_process.start()
            # Keep the loop going until what was spooled during the outage has been replayed:
            # the replay is when the writer thread is busiest.
            spooled = logged[0]
            deadline = time.monotonic() + 30
            with cairn.Api(server_process.url) as api:
                while (stored := _steps_stored(api, run.id)) < spooled:
                    assert time.monotonic() < deadline, f"{stored} of {spooled} steps replayed"
                    time.sleep(0.1)
        except BaseException as exc:
            orchestration_failed.append(exc)
        finally:
            outage_over.set()

    operator = threading.Thread(target=outage, name="operator")
    operator.start()
    durations: list[int] = []
    step = 0
    stop_at: float | None = None
    try:
        while stop_at is None or time.monotonic() < stop_at:
            values = {key: step * 0.5 + i for i, key in enumerate(KEYS)}
            started = time.perf_counter_ns()
            run.log(values, step=step)
            durations.append(time.perf_counter_ns() - started)
            step += 1
            logged[0] = step
            if stop_at is None and outage_over.is_set():
                stop_at = time.monotonic() + AFTER_S
            time.sleep(TICK_S)
    finally:
        operator.join(OUTAGE_S + 60)
    assert not orchestration_failed, orchestration_failed
    run.finish(timeout=120)
    assert spooled_during_outage[0] > 0, "nothing was spooled: the client never noticed the outage"
    assert _spooled_writes() == 0, capsys.readouterr().err

    seconds = np.array(durations) / 1e9
    p99, worst = float(np.percentile(seconds, 99)), float(seconds.max())
    assert p99 < P99_LIMIT_S, f"p99 of run.log was {p99 * 1e3:.3f} ms over {len(seconds)} calls"
    assert worst < MAX_LIMIT_S, f"the slowest run.log took {worst * 1e3:.1f} ms"

    with cairn.Api(server_process.url) as api:
        record = api.run(run.id)
        histories = {key: api.history(run.id, key) for key in KEYS}
    assert record.status is RunStatus.FINISHED
    expected_steps = np.arange(step)
    for i, key in enumerate(KEYS):
        history = histories[key]
        assert history.total == step, key
        assert np.array_equal(history.steps, expected_steps), key
        assert np.array_equal(history.values, expected_steps * 0.5 + i), key
        assert record.metrics[key].count == step, key
