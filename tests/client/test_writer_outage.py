"""When the store goes away: writes wait in the spool, in order, and arrive exactly once when it
is back (or through ``cairn sync`` once the process is gone); the training loop never notices."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from store_doubles import FlakyTracking, dead_pid, start_run, wait_until, warnings_in

import cairn
from cairn.client.http import HttpTracking
from cairn.client.sync import sync_spools
from cairn.core.entities import RunStatus
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore


def spool_folder(root: Path) -> Path:
    """The one writer folder under the spool root."""
    (folder,) = list(root.iterdir())
    return folder


def spooled_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(root.glob("*/[0-9]*.json"))


def steps_stored(tracking: FlakyTracking, run_id: str, key: str = "loss") -> list[int]:
    return list(tracking.inner.get_metric_history(run_id, key).steps.tolist())


def test_an_outage_spools_and_everything_arrives_once_in_order(
    flaky: FlakyTracking, spool_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = start_run(flaky, spool_root)
    for step in range(100):
        run.log({"loss": float(step)})
    assert run.flush(timeout=5)

    flaky.down.set()
    started = time.perf_counter()
    for step in range(100, 150):
        run.log({"loss": float(step)})
    run.log_params({"phase": "outage"})
    for step in range(150, 10_000):
        run.log({"loss": float(step)})
    run.set_tags({"seen": "outage"})
    # The loop did not wait on the outage: the store stays down, so a logging call that waited
    # would sit through the writer's backoffs (0.25 + 0.5 + 1 + 2 s…). The bound is loose on
    # purpose: on a loaded 2-core machine the 10,000 calls alone have taken 0.7 s.
    assert time.perf_counter() - started < 3.0
    wait_until(lambda: len(spooled_files(spool_root)) >= 3)
    folder = spool_folder(spool_root)
    assert (folder / "owner.json").is_file()
    assert steps_stored(flaky, run.id) == list(range(100))

    flaky.down.clear()  # the store is back: the writer's own retry delivers the spool
    wait_until(lambda: not folder.exists(), timeout=15)
    for step in range(10_000, 10_100):
        run.log({"loss": float(step)})
    run.finish()

    assert steps_stored(flaky, run.id) == list(range(10_100))
    record = flaky.inner.get_run(run.id)
    assert record.status is RunStatus.FINISHED
    assert record.params == {"phase": "outage"}
    assert record.tags == {"seen": "outage"}
    assert record.metrics["loss"].count == 10_100
    assert not any(ingest.duplicate for ingest in flaky.ingests)

    # Order kept: the params between step 149 and step 150, tags after the last outage point,
    # and the end of the run after everything.
    kinds = [kind for kind, _ in flaky.writes]
    at_params, at_tags = kinds.index("params"), kinds.index("tags")
    metric_ranges = [(i, span) for i, (kind, span) in enumerate(flaky.writes) if kind == "metrics"]
    assert all(hi < 150 for i, (_, hi) in metric_ranges if i < at_params)
    assert all(lo >= 150 for i, (lo, _) in metric_ranges if i > at_params)
    assert all(hi < 10_000 for i, (_, hi) in metric_ranges if i < at_tags)
    assert flaky.writes[-1][0] == "update" and flaky.writes[-1][1].status is RunStatus.FINISHED

    warned = warnings_in(capsys.readouterr().err)
    assert len(warned) == 1 and str(folder) in warned[0]


def test_a_batch_whose_answer_was_lost_is_stored_once(flaky: FlakyTracking, spool_root: Path) -> None:
    run = start_run(flaky, spool_root)
    flaky.lose_answers = 1  # the first batch is stored, then the connection drops
    for step in range(100):
        run.log({"loss": float(step)})
    assert run.flush(timeout=10)
    for step in range(100, 200):
        run.log({"loss": float(step)})
    run.finish()

    assert steps_stored(flaky, run.id) == list(range(200))
    assert flaky.inner.get_run(run.id).metrics["loss"].count == 200
    first, resent = flaky.ingests[0], flaky.ingests[1]
    assert (resent.client_id, resent.seq, resent.duplicate) == (first.client_id, first.seq, True)
    assert sum(ingest.duplicate for ingest in flaky.ingests) == 1
    assert not spool_root.exists() or not any(spool_root.iterdir())


def test_finish_while_down_leaves_a_spool_that_sync_delivers(
    flaky: FlakyTracking, spool_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = start_run(flaky, spool_root, config={"lr": 0.1})
    for step in range(50):
        run.log({"loss": float(step)})
    assert run.flush(timeout=5)

    flaky.down.set()
    for step in range(50, 150):
        run.log({"loss": float(step)})
    run.log_params({"late": 1})
    run.set_tags({"outcome": "good"})
    started = time.monotonic()
    run.finish(timeout=2)
    assert time.monotonic() - started < 3
    assert run.finished

    folder = spool_folder(spool_root)
    err = capsys.readouterr().err
    assert f"kept in: {folder}" in err and "`cairn sync`" in err, err
    assert "1 metric batch (100 points), 3 other writes" in err, err
    record = flaky.inner.get_run(run.id)
    assert record.status is RunStatus.RUNNING and record.metrics["loss"].count == 50

    # The writer gave up and released its spool: sync sends it although this process lives on.
    owner = orjson.loads((folder / "owner.json").read_bytes())
    assert owner["uri"] == flaky.uri and owner["released"] is True
    flaky.down.clear()
    report = sync_spools(spool_root)
    assert report.points_sent == 100
    assert report.writes_refused == 0 and report.spools_left == 0
    assert not folder.exists()

    record = flaky.inner.get_run(run.id)
    assert record.status is RunStatus.FINISHED and record.end_time is not None
    assert record.params == {"lr": 0.1, "late": 1}
    assert record.tags == {"outcome": "good"}
    assert steps_stored(flaky, run.id) == list(range(150))
    assert record.metrics["loss"].count == 150
    assert sync_spools(spool_root).writes_sent == 0  # nothing left, nothing sent twice


def test_sync_keeps_a_spool_whose_store_is_still_down(flaky: FlakyTracking, spool_root: Path, tmp_path: Path) -> None:
    run = start_run(flaky, spool_root)
    flaky.down.set()
    run.log({"loss": 1.0})
    run.finish(timeout=1)
    folder = spool_folder(spool_root)
    owner = orjson.loads((folder / "owner.json").read_bytes())
    # The store it was meant for cannot be opened (a folder stands where the database should).
    unreachable = tmp_path / "gone.db"
    unreachable.mkdir()
    (folder / "owner.json").write_bytes(orjson.dumps({**owner, "pid": dead_pid(), "uri": str(unreachable)}))
    report = sync_spools(spool_root)
    assert report.writes_sent == 0 and report.spools_left == 1
    assert len(spooled_files(spool_root)) == 2  # the points and the end of the run, kept


def test_an_unwritable_spool_warns_once_and_training_goes_on(
    flaky: FlakyTracking, spool_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool_root.parent.mkdir(parents=True, exist_ok=True)
    spool_root.write_text("a file where the spool folder should be")
    run = start_run(flaky, spool_root)
    flaky.down.set()
    for step in range(3_000):
        run.log({"loss": float(step)})
        if step % 1_000 == 0:
            time.sleep(0.06)  # let several batches meet the outage
    run.log_params({"during": "outage"})
    assert not run.flush(timeout=5)  # kept in memory, not delivered

    warned = warnings_in(capsys.readouterr().err)
    assert sum("cannot write the spool" in line for line in warned) == 1
    assert len(warned) <= 2  # that, and the store being away

    flaky.down.clear()
    assert run.flush(timeout=10)
    run.finish()
    assert steps_stored(flaky, run.id) == list(range(3_000))
    assert flaky.inner.get_run(run.id).params == {"during": "outage"}
    assert flaky.inner.get_run(run.id).status is RunStatus.FINISHED
    assert spool_root.is_file()


@pytest.mark.parametrize("backend", ["embedded", "http"])
def test_every_refused_write_warns_with_what_was_lost_and_logging_goes_on(
    backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    clean_environ: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin: HttpTracking | TrackingService
    if backend == "http":
        url = request.getfixturevalue("server").url
        monkeypatch.setenv("CAIRN_URI", url)
        admin = HttpTracking(url)
    run = cairn.init("refusals", flush_interval=0.05)
    if backend == "embedded":
        admin = TrackingService(SqlStore(str(clean_environ / "cairn.db")), Principal("admin"))
    try:
        run.log({"loss": 0.0})
        assert run.flush(timeout=5)
        admin.delete_run(run.id)  # someone deletes the run while it trains

        for step in range(1, 200):
            run.log({"loss": float(step)})
        run.flush(timeout=5)
        run.log_params({"lr": 0.1})
        for step in range(200, 300):
            run.log({"loss": float(step)})
        run.finish()

        # Every loss is told, with what was lost: a second one is not hidden behind the first.
        warned = warnings_in(capsys.readouterr().err)
        assert all(f"run {run.id}: the store refused" in line and "is deleted" in line for line in warned), warned
        lost = [line.split("the store refused ", 1)[1].split(", which", 1)[0] for line in warned]
        points = [int(what.split()[0]) for what in lost if what.endswith("metric points of 'loss'")]
        assert sum(points) == 299 and len(points) >= 2  # the flush in between makes two batches at least
        assert "1 param ('lr')" in lost
        assert lost[-1] == "a change of the run's status"
        assert "lr" not in run.config  # it was not stored, so the run does not claim it
        assert not (clean_environ / "spool").exists() or not any((clean_environ / "spool").iterdir())
        record = admin.get_run(run.id)
        assert record.deleted and record.status is RunStatus.RUNNING
        np.testing.assert_array_equal(admin.get_metric_history(run.id, "loss").steps, [0])
    finally:
        admin.close()
