"""``cairn.monitor`` against ``cairn server`` as a real process: rows reach it as prediction log
files; while it is down they wait in the spool, and the next flush or ``cairn sync`` sends them
(docs/prediction-logs.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from tests.contract.test_registry import trained_run

import cairn
from cairn.client.http import HttpTracking
from cairn.core.prediction_logs import HOUR_MS, hour_of
from cairn.settings import cairn_home

if TYPE_CHECKING:
    from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.slow

EARLIER = hour_of(pd.Timestamp.now(tz="UTC").value // 1_000_000) - 3 * HOUR_MS


def register(url: str, tmp_path: Path) -> None:
    tracking = HttpTracking(url)
    try:
        tracking.register_model(f"runs:/{trained_run(tracking, tmp_path)}/model", "scorer")
        tracking.set_model_alias("scorer", "champion", 1)
    finally:
        tracking.close()


def stored_rows(url: str) -> int:
    tracking = HttpTracking(url)
    try:
        return sum(f.rows for f in tracking.list_prediction_logs("scorer").items)
    finally:
        tracking.close()


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.random(rows), "city": rng.choice(["oslo", "lima"], rows)})


def test_rows_reach_a_server_process(server_process: ServerProcess, tmp_path: Path) -> None:
    register(server_process.url, tmp_path)
    with cairn.monitor("scorer", uri=server_process.url) as monitor:
        for seed in range(3):
            monitor.log(frame(1000, seed), np.zeros(1000), timestamps=np.full(1000, EARLIER + seed))
        assert monitor.flush(timeout=60) is True
        assert (monitor.rows_sent, monitor.rows_dropped, monitor.backlog) == (3000, 0, 0)
        # city is not in the signature (x, double): kept, and said so
        assert [(m.column, m.problem) for m in monitor.mismatches] == [("city", "extra")]
        assert monitor.rows_mismatched == 3000
    assert stored_rows(server_process.url) == 3000


def test_the_next_flush_sends_what_waited_in_the_spool(server_process: ServerProcess, tmp_path: Path) -> None:
    register(server_process.url, tmp_path)
    monitor = cairn.monitor("scorer", 1, uri=server_process.url)
    try:
        server_process.stop()
        monitor.log(frame(500), np.ones(500), timestamps=np.full(500, EARLIER))
        assert monitor.flush(timeout=60) is False
        assert monitor.backlog == 1 and monitor.rows_sent == 0 and monitor.rows_dropped == 0
        server_process.start()
        monitor.log(frame(10), np.ones(10))
        assert monitor.flush(timeout=60) is True
        assert (monitor.backlog, monitor.rows_sent) == (0, 510)
    finally:
        monitor.close()
    assert stored_rows(server_process.url) == 510
    assert not list((cairn_home() / "spool").glob("monitor-*"))


def test_cairn_sync_sends_what_a_closed_monitor_left(server_process: ServerProcess, tmp_path: Path) -> None:
    register(server_process.url, tmp_path)
    server_process.stop()
    with cairn.monitor("scorer", 1, uri=server_process.url) as monitor:
        monitor.log(frame(300), np.ones(300), timestamps=np.full(300, EARLIER))
        monitor.log(frame(200), np.ones(200), timestamps=np.full(200, EARLIER + HOUR_MS))
    assert monitor.backlog == 2 and monitor.rows_sent == 0  # a file per hour, waiting
    server_process.start()
    synced = subprocess.run(
        [sys.executable, "-m", "cairn", "sync"],
        env={**os.environ, "CAIRN_HOME": str(cairn_home())},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stderr
    assert "500 prediction rows" in synced.stdout
    assert stored_rows(server_process.url) == 500
    assert monitor.backlog == 0
