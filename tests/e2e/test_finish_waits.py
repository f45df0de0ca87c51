"""``run.finish()`` waits up to its timeout for a server that is away, and says what it leaves.

The hostile report: the server killed just before ``finish()`` and restarted 5 s later, and
``finish()`` returned in 24 ms, leaving writes in the spool and the run "running" with half its
points until ``cairn sync`` was run by hand. The assertions are on behaviour (what the server
holds, what stderr says), not on how long anything took.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

import cairn
from cairn.client.sync import sync_spools
from cairn.core.entities import RunStatus
from cairn.settings import cairn_home

if TYPE_CHECKING:
    from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.slow

STEPS = 200


def _spooled_files() -> int:
    root = cairn_home() / "spool"
    return len(list(root.glob("*/[0-9]*.json"))) if root.is_dir() else 0


def _log_until_spooled(run: cairn.Run) -> None:
    """Log STEPS steps and a param while the server is down; the writer spools them."""
    for step in range(STEPS):
        run.log({"loss": 1.0 / (step + 1), "acc": step / STEPS}, step=step)
    run.log_params({"late": "param"})
    run.flush(timeout=5)  # spooled, not delivered: it returns False
    assert _spooled_files() > 0, "the writer never noticed the server was away"


def _assert_complete(server_process: ServerProcess, run_id: str) -> None:
    with cairn.Api(server_process.url) as api:
        record = api.run(run_id)
        assert record.status is RunStatus.FINISHED
        assert record.params["late"] == "param"
        assert record.metrics["loss"].count == STEPS
        assert api.history(run_id, "acc").total == STEPS


def test_finish_waits_for_a_server_that_comes_back_within_its_timeout(
    server_process: ServerProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAIRN_URI", server_process.url)
    run = cairn.init("outage", flush_interval=0.05)
    server_process.kill()
    _log_until_spooled(run)

    restarted = threading.Event()

    def restart_later() -> None:
        time.sleep(2.0)
        server_process.start()
        restarted.set()

    operator = threading.Thread(target=restart_later)
    operator.start()
    try:
        run.finish(timeout=60)  # generous: the machine is shared; the server is back in about 2 s
    finally:
        operator.join(60)
    assert restarted.is_set()
    err = capsys.readouterr().err
    assert "finish() waited" not in err, err
    assert _spooled_files() == 0, err
    _assert_complete(server_process, run.id)


def test_finish_that_gives_up_says_what_is_left_and_cairn_sync_sends_it(
    server_process: ServerProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAIRN_URI", server_process.url)
    run = cairn.init("outage", flush_interval=0.05)
    server_process.kill()
    _log_until_spooled(run)

    run.finish(timeout=1.0)

    err = capsys.readouterr().err
    assert f"run {run.id}: finish() waited 1 s, but the store at {server_process.url} did not" in err, err
    assert "metric batch" in err and f"({STEPS * 2:,} points)" in err, err
    assert "2 other writes" in err, err  # the param and the run's end
    assert str(cairn_home() / "spool") in err, err
    assert "`cairn sync`" in err, err
    assert _spooled_files() > 0
    # The writer let go of its spool, so `cairn sync` sends it while this process still runs.
    server_process.start()
    report = sync_spools(cairn_home() / "spool")
    assert report.writes_refused == 0 and report.spools_left == 0
    assert report.points_sent == STEPS * 2
    assert _spooled_files() == 0
    _assert_complete(server_process, run.id)
