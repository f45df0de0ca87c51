"""Helpers the suite's test modules import: an in-process server on a loopback port, a free
port, and where the test PostgreSQL is. Fixtures live in conftest.py files; what a test module
imports by name lives here, so no test imports a conftest.
"""

from __future__ import annotations

import os
import socket
import threading
import time

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

    def __init__(self, settings: ServerSettings) -> None:
        import uvicorn

        from cairn.server.app import create_app

        self.app = create_app(settings)
        self.url = f"http://127.0.0.1:{settings.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=settings.port, log_level="error", lifespan="off")
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
