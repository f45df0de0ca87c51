"""The http.client path artifact downloads take: redirects (without the token to another
host), error envelopes, and a body cut short."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cairn.client.bulk_get import bulk_get
from cairn.core.errors import ArtifactNotFound, CairnError, Unavailable, error_class_for_code

seen_headers: list[dict[str, str]] = []


class Handler(BaseHTTPRequestHandler):
    other_port = 0

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        seen_headers.append({k.lower(): v for k, v in self.headers.items()})
        if self.path == "/hop":
            self.send_response(307)
            self.send_header("location", "/data")
            self.end_headers()
        elif self.path == "/away":
            self.send_response(307)
            self.send_header("location", f"http://127.0.0.2:{self.other_port}/data?X-Amz-Signature=secret")
            self.end_headers()
        elif self.path.startswith("/data"):
            body = bytes(range(256)) * 10_000
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/short":
            self.send_response(200)
            self.send_header("content-length", "1000000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            body = b'{"error": {"code": "artifact_not_found", "message": "no such file", "details": {}}}'
            self.send_response(404)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture
def servers() -> Iterator[tuple[int, int]]:
    first = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    second = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    Handler.other_port = second.server_address[1]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (first, second)]
    for thread in threads:
        thread.start()
    seen_headers.clear()
    yield first.server_address[1], second.server_address[1]
    for server in (first, second):
        server.shutdown()
        server.server_close()


def error_from(status: int, body: bytes, url: str) -> CairnError:
    import orjson

    error = orjson.loads(body)["error"]
    return error_class_for_code(error["code"])(error["message"])


def test_redirects_keep_the_token_only_for_the_same_host(servers: tuple[int, int]) -> None:
    port, _ = servers
    headers = {"authorization": "Bearer t0ken"}
    body = b"".join(bulk_get(f"http://127.0.0.1:{port}/hop", headers, timeout=5, error_from=error_from))
    assert body == bytes(range(256)) * 10_000
    assert [h.get("authorization") for h in seen_headers] == ["Bearer t0ken", "Bearer t0ken"]
    seen_headers.clear()
    body = b"".join(bulk_get(f"http://127.0.0.1:{port}/away", headers, timeout=5, error_from=error_from))
    assert len(body) == 2_560_000
    assert [h.get("authorization") for h in seen_headers] == ["Bearer t0ken", None]  # not sent to S3


def test_an_error_answer_raises_before_any_chunk(servers: tuple[int, int]) -> None:
    port, _ = servers
    with pytest.raises(ArtifactNotFound, match="no such file"):
        bulk_get(f"http://127.0.0.1:{port}/missing", {}, timeout=5, error_from=error_from)


def test_a_body_cut_short_is_unavailable_not_a_short_file(servers: tuple[int, int]) -> None:
    port, _ = servers
    with pytest.raises(Unavailable, match="cut off"):
        b"".join(bulk_get(f"http://127.0.0.1:{port}/short", {}, timeout=5, error_from=error_from))


def test_nobody_listening_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Unavailable):
        bulk_get(f"http://127.0.0.1:{port}/data", {}, timeout=5, error_from=error_from)
