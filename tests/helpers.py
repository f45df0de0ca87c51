"""Helpers the suite's test modules import: an in-process server on a loopback port, a free
port, where the test PostgreSQL is, a webhook receiver, and the manifest of an MLflow model
folder. Fixtures live in conftest.py files; what a test module imports by name lives here, so
no test imports a conftest.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cairn.core.models.manifest import MANIFEST_NAME, ModelManifest, manifest_to_json
from cairn.core.models.mlflow_model import manifest_for_mlflow_folder
from cairn.settings import ServerSettings

POSTGRES_URL = os.environ.get("CAIRN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
#: Under CI a missing PostgreSQL or Chromium fails the run instead of skipping its tests.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedServer:
    """Cairn's real app under uvicorn, in a thread of the test process."""

    def __init__(self, settings: ServerSettings, *, lifespan: bool = False) -> None:
        """``lifespan`` runs the app's startup and shutdown, as ``cairn server`` does: its
        webhook delivery worker among them. Off, the server only answers requests."""
        import uvicorn

        from cairn.server.app import create_app

        self.app = create_app(settings)
        self.url = f"http://127.0.0.1:{settings.port}"
        # log_config=None: uvicorn's own logging set-up (dictConfig) closes the handlers already
        # there, and absl's (imported with Keras) then closes the stream it holds: a test's
        # captured stderr, which pytest reads later.
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=settings.port,
            log_level="error",
            log_config=None,
            lifespan="on" if lifespan else "off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.tracking.close()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A webhook endpoint on a loopback port that records every request it gets.

    ``answer(request)`` picks the status of each answer (200 unless told); while ``gate`` is
    closed (cleared), every request waits at it before being answered: a slow endpoint.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answer: Callable[[Received], int] = lambda _request: 200
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = 0
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._changed:
                    receiver.received.append(request)
                    receiver.waiting += 1
                    receiver._changed.notify_all()
                receiver.gate.wait()
                with receiver._changed:
                    receiver.waiting -= 1
                try:
                    self.send_response(receiver.answer(request))
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender gave up waiting (its timeout) and hung up
                    pass

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, done: Callable[[list[Received]], bool], timeout: float = 30.0) -> list[Received]:
        """The requests so far, once ``done(requests)``; AssertionError if that takes over
        ``timeout`` seconds (a bound for a broken build, not a measure of speed)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the receiver got {len(self.received)} requests, not what was awaited")
                self._changed.wait(left)
            return list(self.received)

    def wait_while_waiting(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` requests are held at the closed gate."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.waiting < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.waiting} requests wait at the gate, not {count}")
                self._changed.wait(left)


def eventually(check: Callable[[], bool], timeout: float = 30.0, what: str = "the condition") -> None:
    """Poll ``check`` until it is true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come true within {timeout:g} s")
        time.sleep(0.02)


def make_cairn_model(folder: Path) -> ModelManifest:
    """Write the manifest of the MLflow model folder ``folder``, made from its MLmodel, its
    requirements.txt and the SHA-256 of each of its files: it is then a Cairn model folder."""
    digests = {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
    requirements = folder / "requirements.txt"
    manifest = manifest_for_mlflow_folder(
        (folder / "MLmodel").read_bytes(),
        requirements.read_bytes() if requirements.is_file() else None,
        digests,
    )
    (folder / MANIFEST_NAME).write_bytes(manifest_to_json(manifest))
    return manifest
