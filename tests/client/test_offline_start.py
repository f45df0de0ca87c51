"""A run started while the server is away: ``cairn.init`` does not wait, the run's creation is
its first spooled write, and the run reaches the server under the same id when it is back —
from the same process, or by ``cairn sync`` after the process is gone (docs/sdk.md, "Offline")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from store_doubles import wait_until, warnings_in

import cairn
from cairn.client.http import HttpTracking
from cairn.client.sync import sync_spools
from cairn.core.entities import RunStatus
from cairn.settings import ServerSettings
from helpers import ThreadedServer, free_port


def _server_at(port: int, tmp_path: Path) -> ThreadedServer:
    return ThreadedServer(
        ServerSettings(store_uri=str(tmp_path / "server.db"), blobs_uri=str(tmp_path / "blobs"), port=port)
    )


def test_a_run_started_offline_reaches_the_server_by_sync_under_its_own_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spool_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{port}")  # nothing listens there yet
    run = cairn.init("offline", name="first-try", config={"lr": 0.1, "model": {"depth": 3}}, tags={"team": "a"})
    assert re.fullmatch("[0-9a-f]{32}", run.id)
    assert run.name == "first-try" and run.config["model.depth"] == 3
    child = cairn.init("offline", name="fold-0", parent=run)
    for step in range(50):
        run.log({"loss": 1.0 / (step + 1)})
        child.log({"fold_loss": float(step)})
    # Offline, finish() waits at most its timeout for the server, then leaves it to `cairn sync`.
    child.finish(timeout=1)
    run.finish(timeout=1)
    err = warnings_in(capsys.readouterr().err)
    assert any("starts offline" in line and run.id in line for line in err)
    assert any(spool_root.glob("*/[0-9]*.json"))

    with _server_at(port, tmp_path) as server:
        report = sync_spools(spool_root)
        assert report.writes_refused == 0 and report.spools_left == 0
        reader = HttpTracking(server.url)
        try:
            record = reader.get_run(run.id)
            assert record.status is RunStatus.FINISHED
            assert (record.name, record.project, record.tags.get("team")) == ("first-try", "offline", "a")
            assert record.params == {"lr": 0.1, "model.depth": 3}
            np.testing.assert_array_equal(reader.get_metric_history(run.id, "loss").steps, np.arange(50))
            nested = reader.get_run(child.id)
            assert nested.parent_id == run.id and nested.status is RunStatus.FINISHED
            assert nested.metrics["fold_loss"].count == 50
        finally:
            reader.close()
        # Sent again (a creation whose answer was lost): the same run, not a second one.
        assert sync_spools(spool_root).writes_sent == 0
        again = HttpTracking(server.url)
        try:
            created = again.create_run("offline", run_id=run.id, name="ignored")
            assert created.id == run.id and created.name == "first-try"
            assert {found.id for found in again.list_runs("offline").items} == {run.id, child.id}
        finally:
            again.close()


def test_a_nested_run_spooled_before_its_parent_still_syncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spool_root: Path
) -> None:
    # Each run's writer makes its spool at its first write, on its own thread: the child's can
    # be the older one. Sync must send the parent's and come back for the child's.
    port = free_port()
    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{port}")
    parent = cairn.init("offline", name="parent")
    child = cairn.init("offline", name="child", parent=parent)
    child.log({"loss": 1.0}, step=0)
    child.finish(timeout=1)
    parent.finish(timeout=1)
    for owner in spool_root.glob("*/owner.json"):
        holds_child = any(child.id in entry.read_text() for entry in owner.parent.glob("[0-9]*.json"))
        data = json.loads(owner.read_text())
        owner.write_text(json.dumps({**data, "created_at": 1 if holds_child else 2}))

    with _server_at(port, tmp_path) as server:
        report = sync_spools(spool_root)
        assert (report.writes_refused, report.spools_left) == (0, 0)
        reader = HttpTracking(server.url)
        try:
            assert reader.get_run(child.id).parent_id == parent.id
            assert reader.get_run(parent.id).status is RunStatus.FINISHED
        finally:
            reader.close()


def test_a_run_started_offline_catches_up_in_the_same_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spool_root: Path
) -> None:
    port = free_port()
    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{port}")
    run = cairn.init("offline", config={"lr": 0.5}, flush_interval=0.05)
    run.log({"loss": 1.0}, step=0)
    with _server_at(port, tmp_path) as server:
        wait_until(lambda: not any(spool_root.glob("*/[0-9]*.json")), timeout=20)
        run.log({"loss": 0.5}, step=1)
        run.finish()
        reader = HttpTracking(server.url)
        try:
            record = reader.get_run(run.id)
            assert record.status is RunStatus.FINISHED and record.params == {"lr": 0.5}
            np.testing.assert_array_equal(reader.get_metric_history(run.id, "loss").values, [1.0, 0.5])
        finally:
            reader.close()


def test_a_run_id_taken_in_another_project_is_refused(server: ThreadedServer) -> None:
    tracking = HttpTracking(server.url)
    try:
        first = tracking.create_run("one")
        with pytest.raises(cairn.CairnError) as raised:
            tracking.create_run("two", run_id=first.id)
        assert raised.value.code == "already_exists"
        with pytest.raises(cairn.InvalidInput) as bad:
            tracking.create_run("two", run_id="../../etc")
        assert bad.value.code in ("invalid_value", "invalid_request")
    finally:
        tracking.close()


def test_on_duplicate_error_still_needs_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr("cairn.client.sdk._START_PATIENCE_S", 0.3)
    with pytest.raises(cairn.Unavailable):
        cairn.init("offline", config={"lr": 0.1}, on_duplicate="error")


def test_at_exit_a_run_whose_store_is_away_gets_a_second_not_thirty(
    monkeypatch: pytest.MonkeyPatch, spool_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cairn.client import lifecycle

    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{free_port()}")
    run = cairn.init("offline", name="left-open")
    run.log({"loss": 0.5})
    lifecycle._finish_all()  # what the interpreter's exit runs for runs left open

    err = warnings_in(capsys.readouterr().err)
    assert any(f"run {run.id}: finish() waited 1 s" in line for line in err), err
    assert any(spool_root.glob("*/[0-9]*.json"))  # kept for `cairn sync`
