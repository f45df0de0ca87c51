"""The same commands against a running server: they only use the tracking interface."""

from __future__ import annotations

import json
import math
from typing import Any

from cairn.client.http import HttpTracking
from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.wire import run_to_wire

from .helpers import Invoke, log


def test_commands_through_a_server(invoke: Invoke, server: Any) -> None:
    url: str = server.url
    remote = HttpTracking(url)
    try:
        run = remote.create_run("remote", name="over-http", config={"lr": 0.1}, tags={"via": "http"})
        log(remote, run.id, "loss", [1.0, math.nan, 0.5])
        remote.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))
        expected = run_to_wire(remote.get_run(run.id))
    finally:
        remote.close()

    assert "remote" in invoke("projects", "list", "--uri", url).stdout
    assert json.loads(invoke("projects", "list", "--uri", url, "--json").stdout)[0]["run_count"] == 1
    table = invoke("runs", "list", "remote", "--uri", url).stdout
    assert run.id[:8] in table and "over-http" in table and "finished" in table
    assert json.loads(invoke("runs", "list", "remote", "--uri", url, "--json").stdout) == [expected]
    assert json.loads(invoke("runs", "show", run.id, "--uri", url, "--json").stdout) == expected
    assert "via" in invoke("runs", "show", run.id, "--uri", url).stdout
    missing = invoke("runs", "show", "0" * 32, "--uri", url, code=1)
    assert missing.stderr == f"Error: no run with id '{'0' * 32}' [run_not_found]\n"
