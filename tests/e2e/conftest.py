"""End-to-end fixtures: ``cairn server`` as a real process that a test can kill and restart.

The tests in this folder cross process boundaries on purpose (a SIGKILL, a stopped server, the
kernel's socket options), which the in-process ``server`` fixture of ``tests/conftest.py``
cannot show.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from tests.helpers import free_port

_START_TIMEOUT_S = 30.0


class ServerProcess:
    """``python -m cairn server`` on a fixed store and port, started and stopped by the test.

    The port stays the same across restarts, so a client that was talking to the first process
    reaches the next one at the same URI. The server's output goes to ``log`` (one file for
    every start), which a failed start quotes.
    """

    def __init__(self, store: Path, *, workers: int = 1, log: Path, args: tuple[str, ...] = ()) -> None:
        self.store = store
        self.port = free_port()
        self.workers = workers
        self.args = args
        self.log = log
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "cairn", "server",
            "--store", str(self.store),
            "--blobs", str(self.store.parent / "blobs"),
            "--port", str(self.port),
            "--workers", str(self.workers),
            # These tests are about processes, not sign-in (tests/cli/test_cli_access_server.py).
            *(() if "--init-admin" in self.args else ("--insecure-no-auth",)),
            *self.args,
        ]  # fmt: skip

    def start(self) -> ServerProcess:
        """Start the server and wait until GET /health answers."""
        assert self.process is None or self.process.poll() is not None, "the server is already running"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self._kill_tree()
        raise RuntimeError(f"the server did not answer /health within {_START_TIMEOUT_S} s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, open requests cut off mid-way."""
        self._kill_tree()

    def stop(self) -> None:
        """SIGTERM and wait, as an operator stopping the service would."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self._kill_tree()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _kill_tree(self) -> None:
        # With --workers > 1 the listening socket lives on in the forked workers: they must go
        # too, or the "killed" server keeps answering.
        if self.process is None or self.process.poll() is not None:
            return
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        for process in [psutil.Process(self.process.pid), *children]:
            try:
                os.kill(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(10)
        # A killed worker holds no socket once it is a zombie; reaping it is its new parent's
        # business (PID 1, which may take a second or two).
        deadline = time.monotonic() + 10
        for child in children:
            while time.monotonic() < deadline:
                try:
                    if child.status() == psutil.STATUS_ZOMBIE:
                        break
                except psutil.NoSuchProcess:
                    break
                time.sleep(0.01)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Starts ``cairn server`` processes on fresh SQLite stores; kills them after the test."""
    started: list[ServerProcess] = []

    def start(*, workers: int = 1, args: tuple[str, ...] = ()) -> ServerProcess:
        folder = tmp_path / f"server-{len(started)}"
        folder.mkdir()
        server = ServerProcess(folder / "cairn.db", workers=workers, log=folder / "server.log", args=args)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.kill()


@pytest.fixture
def server_process(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """A started single-process ``cairn server`` on a fresh SQLite store."""
    return start_server()
