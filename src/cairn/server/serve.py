"""Running the server: one listening socket, one or more uvicorn worker processes.

The socket is bound here, before any worker starts, with TCP_NODELAY set: accepted
connections inherit it, so a small answer on a kept-alive connection is never held back by
Nagle's algorithm waiting for the client's delayed ACK (the ~40 ms stall of servers that leave
it off). Workers are forked with the settings in memory; nothing passes through environment
variables, and each worker builds its own app (and database connections) after the fork.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from cairn.core.addresses import bare_host
from cairn.core.errors import InvalidRequest
from cairn.settings import ServerSettings

_RESTART_PAUSE_S = 1.0


def bind_socket(host: str, port: int) -> socket.socket:
    host = bare_host(host)  # "[::1]" is how URLs write ::1; the socket wants the address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidRequest(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def check_store(settings: ServerSettings) -> None:
    """Open the store once before serving, so a wrong URI or an old schema stops the start
    with its message instead of failing the first request."""
    from cairn.store.registry import open_store

    open_store(settings.store_uri).close()


def check_blobs(settings: ServerSettings) -> None:
    """Reach the blob store once before serving (a bucket that does not exist, credentials
    that are refused, an endpoint that does not answer), before any worker is forked."""
    from cairn.blobs.registry import open_blobs

    blobs = open_blobs(settings.blobs_uri, endpoint_url=settings.blobs_endpoint)
    try:
        blobs.check()
    finally:
        blobs.close()


def serve(settings: ServerSettings, *, on_ready: Callable[[str], None] | None = None) -> None:
    check_store(settings)
    check_blobs(settings)
    sock = bind_socket(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    address = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    if on_ready is not None:
        on_ready(address)
    if settings.workers <= 1:
        _run_worker(settings, sock)
        return
    _supervise(settings, sock)


def _run_worker(settings: ServerSettings, sock: socket.socket) -> None:
    # A forked worker inherits the supervisor's handlers; uvicorn re-raises the signal that
    # stopped it, and that must end this process rather than run the supervisor's code.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)

    from cairn.server.app import create_app

    run_uvicorn(create_app(settings), sock)


def run_uvicorn(app: Any, sock: socket.socket) -> None:
    """Serve ``app`` on the bound ``sock`` in this process (uvloop and httptools when installed)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        loop="uvloop" if _has("uvloop") else "asyncio",
        http="httptools" if _has("httptools") else "h11",
        timeout_keep_alive=30,
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


def _supervise(settings: ServerSettings, sock: socket.socket) -> None:
    # Import the server once here (as gunicorn's --preload does): forked workers then share
    # those pages and start without importing it again, each on its own busy core.
    import uvicorn  # noqa: F401

    import cairn.server.app  # noqa: F401

    supervise(settings.workers, lambda listening: _run_worker(settings, listening), sock)


def supervise(count: int, run_worker: Callable[[socket.socket], None], sock: socket.socket) -> None:
    """Keep ``count`` forked workers, each running ``run_worker(sock)``, alive until SIGINT or
    SIGTERM (``cairn server`` and ``cairn serve`` both run this way)."""
    context = multiprocessing.get_context("fork")
    workers: list[Any] = []
    stopping = False

    def start_one() -> None:
        process = context.Process(target=run_worker, args=(sock,), daemon=False)
        process.start()
        workers.append(process)

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for process in workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(count):
        start_one()
    while not stopping:
        time.sleep(0.2)
        for process in list(workers):
            if not process.is_alive() and not stopping:
                workers.remove(process)
                print(f"cairn: worker {process.pid} exited ({process.exitcode}); starting another", file=sys.stderr)
                time.sleep(_RESTART_PAUSE_S)
                start_one()
    for process in workers:
        process.join(10)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
