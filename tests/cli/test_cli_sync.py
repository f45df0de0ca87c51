"""``cairn sync``: replaying the spool a dead process left behind."""

from __future__ import annotations

import json
import math
import os
import pty
import socket
import subprocess
import sys

import numpy as np

from cairn.client.spool import Spool
from cairn.client.writer import update_payload
from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.core.wire import batch_to_wire
from cairn.service.interface import Tracking
from cairn.settings import cairn_home

from .helpers import Invoke


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def leave_spool(uri: str, writes: list[tuple[str, str, object]], *, pid: int | None = None) -> Spool:
    """A spool folder for ``uri`` holding ``writes`` (run id, kind, payload), owned by ``pid``."""
    spool = Spool.for_writer(cairn_home() / "spool", f"writer-{len(list((cairn_home() / 'spool').glob('*')))}", uri)
    for seq, (run_id, kind, payload) in enumerate(writes):
        spool.put(seq, run_id, kind, payload)
    owner = {"pid": dead_pid() if pid is None else pid, "uri": uri, "created_at": 0}
    (spool.folder / "owner.json").write_text(json.dumps(owner))
    return spool


def metrics_payload(key: str, values: list[float], seq: int = 0) -> object:
    n = len(values)
    column = MetricColumns(
        key,
        np.arange(n, dtype=np.int64),
        np.full(n, 1_700_000_000_000, dtype=np.int64),
        np.array(values),
    )
    return batch_to_wire(MetricBatch(client_id="dead-writer", seq=seq, columns=[column]))


def test_nothing_to_sync(invoke: Invoke) -> None:
    assert invoke("sync").stdout == "Nothing to sync: no process left writes behind.\n"


def test_replays_a_dead_process_spool(invoke: Invoke, store_uri: str, embedded: Tracking) -> None:
    run = embedded.create_run("p")
    spool = leave_spool(
        store_uri,
        [
            (run.id, "params", {"lr": 0.1}),
            (run.id, "metrics", metrics_payload("loss", [1.0, 0.5, math.nan])),
            (run.id, "tags", {"host": "gpu-1"}),
            (run.id, "metrics", metrics_payload("loss", [0.25, 0.125], seq=1)),
            (run.id, "update", update_payload(RunUpdate(status=RunStatus.FINISHED))),
        ],
    )
    assert invoke("sync").stdout == "Sent 5 writes (5 metric points).\n"
    after = embedded.get_run(run.id)
    assert after.params == {"lr": 0.1}
    assert after.tags == {"host": "gpu-1"}
    assert after.metrics["loss"].count == 5
    assert after.status is RunStatus.FINISHED
    assert not spool.folder.exists()
    assert "Nothing to sync" in invoke("sync").stdout


def test_refused_writes_are_dropped_and_counted(invoke: Invoke, store_uri: str, embedded: Tracking) -> None:
    kept, deleted = embedded.create_run("p"), embedded.create_run("p")
    embedded.delete_run(deleted.id)
    spool = leave_spool(
        store_uri,
        [
            (deleted.id, "params", {"lr": 0.1}),
            (kept.id, "metrics", metrics_payload("acc", [0.5])),
        ],
    )
    out = invoke("sync").stdout
    assert out.splitlines() == [
        "Sent 1 write (1 metric point).",
        "Dropped 1 write the store refused (for example to a run deleted since).",
    ]
    assert embedded.get_run(kept.id).metrics["acc"].last == 0.5
    assert not spool.folder.exists()


def test_a_live_process_spool_is_left_alone(invoke: Invoke, store_uri: str, embedded: Tracking) -> None:
    run = embedded.create_run("p")
    spool = leave_spool(store_uri, [(run.id, "params", {"lr": 0.1})], pid=os.getpid())
    assert "Nothing to sync" in invoke("sync").stdout
    assert len(spool) == 1


def test_an_unreachable_store_keeps_the_spool(invoke: Invoke) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spool = leave_spool(f"http://127.0.0.1:{port}", [("0" * 32, "params", {"lr": 0.1})])
    result = invoke("sync", code=1)
    assert result.stdout.splitlines() == [
        "Sent 0 writes (0 metric points).",
        "Left 1 spool in place: the store could not be reached. Run cairn sync again when it is back.",
    ]
    assert len(spool) == 1


def test_progress_bar_on_a_terminal(store_uri: str, embedded: Tracking) -> None:
    run = embedded.create_run("p")
    leave_spool(store_uri, [(run.id, "metrics", metrics_payload("loss", [1.0], seq=i)) for i in range(3)])
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cairn", "sync"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=60,
            check=True,
        )
        os.close(terminal)
        shown = _read_all(controller)
    finally:
        os.close(controller)
    assert done.stdout == b"Sent 3 writes (3 metric points).\n"
    assert b"Syncing" in shown and b"3/3" in shown
    assert embedded.get_run(run.id).metrics["loss"].count == 3


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
