"""Fixtures for the CLI tests: a runner, and a SQLite store in tmp_path with runs in it."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from tests.helpers import free_port

from cairn.cli.main import cli
from cairn.core.entities import RunStatus, RunUpdate
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore

from .helpers import Invoke, Seeded, log


@pytest.fixture
def invoke() -> Invoke:
    """``invoke(*args, code=0)``: run ``cairn ARGS`` in-process and check its exit code;
    ``input`` is its standard input."""
    runner = CliRunner()

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        result = runner.invoke(cli, list(args), prog_name="cairn", env=env, input=input)
        if result.exit_code != code:
            raise AssertionError(
                f"cairn {' '.join(args)} exited with {result.exit_code}, expected {code}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
            ) from result.exception
        if code != 0:  # failures are clean: click's own exit, never a traceback
            assert isinstance(result.exception, SystemExit), result.exception
            assert "Traceback" not in result.output
        return result

    return run


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


@pytest.fixture
def embedded(store_uri: str) -> Iterator[Tracking]:
    """The tracking service on ``store_uri``, to set up what a command then reads."""
    service = TrackingService(SqlStore(store_uri), Principal("ada"))
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def seeded(embedded: Tracking) -> Seeded:
    tracking = embedded
    """Project "mnist": two finished runs with params and metrics, then one still running."""
    first = tracking.create_run(
        "mnist",
        name="baseline",
        config={"lr": 0.1, "seed": 0, "net": {"depth": 2}},
        tags={"team": "vision"},
        notes="the first try",
        start_time=1_700_000_000_000,
    )
    log(tracking, first.id, "loss", [2.0, 1.0, 0.5])
    log(tracking, first.id, "val_loss", [math.nan])
    tracking.update_run(first.id, RunUpdate(status=RunStatus.FINISHED, end_time=1_700_000_192_000))
    second = tracking.create_run(
        "mnist",
        name="deeper",
        config={"lr": 0.01, "seed": 0, "net": {"depth": 8}},
        start_time=1_700_000_300_000,
    )
    log(tracking, second.id, "loss", [1.5, math.inf, 0.25])
    tracking.update_run(second.id, RunUpdate(status=RunStatus.FAILED, end_time=1_700_003_900_000))
    running = tracking.create_run("mnist", name="still-going", config={"lr": 0.001, "seed": 0})
    return Seeded(
        first=tracking.get_run(first.id),
        second=tracking.get_run(second.id),
        running=tracking.get_run(running.id),
    )


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """MLflow's own tracking server on a SQLite database, as a subprocess, serving artifacts."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}"]
    command += ["--artifacts-destination", str(tmp_path / "served-artifacts")]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.2)
        yield url
    finally:  # the server and the uvicorn it started: its own process group, nothing else
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
