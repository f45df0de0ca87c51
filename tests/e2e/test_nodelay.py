"""Small answers on a kept-alive connection are not held back by Nagle's algorithm.

A server that writes headers and body as two small segments without TCP_NODELAY waits for the
client's delayed ACK before sending the second: about 40 ms per request on Linux, 2 s for the
50 requests below. With TCP_NODELAY they take a few milliseconds each at most.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from cairn.core.errors import InvalidRequest
from cairn.server.serve import bind_socket

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.e2e.conftest import ServerProcess

REQUESTS = 50
#: 50 x 40 ms would be 2 s; a healthy loopback round trip is well under 1 ms.
LIMIT_S = 1.0


def test_the_listening_socket_has_tcp_nodelay() -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
        assert sock.get_inheritable()
    finally:
        sock.close()


def test_a_port_in_use_is_a_clear_error() -> None:
    taken = bind_socket("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(InvalidRequest, match=f"cannot listen on 127.0.0.1:{port}"):
            bind_socket("127.0.0.1", port).close()
    finally:
        taken.close()


@pytest.mark.slow
def test_sequential_requests_on_one_connection_do_not_stall(
    start_server: Callable[..., ServerProcess],
) -> None:
    server_process = start_server(workers=2)  # the socket the forked workers share
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    with httpx.Client(base_url=server_process.url, transport=transport) as client:
        assert client.get("/health").status_code == 200  # connect outside the timing
        started = time.perf_counter()
        for _ in range(REQUESTS):
            response = client.get("/health")
            assert response.status_code == 200
        elapsed = time.perf_counter() - started
    assert elapsed < LIMIT_S, f"{REQUESTS} requests on one connection took {elapsed:.2f} s"
    server_process.stop()
    assert server_process.process is not None and server_process.process.returncode == 0
