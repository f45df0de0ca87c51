"""Artifacts on the wire: /api/v1/blobs (streamed and resumable uploads) and a run's artifacts,
datasets and inputs, spoken to with raw HTTP (and a raw socket where HTTP clients are too polite)
against the real server on a loopback port, its blobs in a local folder."""

from __future__ import annotations

import hashlib
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from tests.helpers import ThreadedServer

import cairn.client.http as http_client
from cairn.client.http import HttpTracking
from cairn.core.limits import MAX_REQUEST_BYTES
from cairn.server import streaming

API = "/api/v1"
MiB = 1 << 20
PART = 8 * MiB  # the server's part alignment
OCTETS = {"content-type": "application/octet-stream"}


# -- helpers -----------------------------------------------------------------------------------


def _bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The envelope's error, after checking the status, the shape and the code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = orjson.loads(response.content)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def http(server: ThreadedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def blob_root(server: ThreadedServer) -> Path:
    return Path(server.app.state.settings.blobs_uri)


def _missing(http: httpx.Client, *digests: str) -> list[str]:
    response = http.post(f"{API}/blobs/missing", json={"digests": list(digests)})
    assert response.status_code == 200, response.text
    missing: list[str] = response.json()["missing"]
    return missing


def _put(http: httpx.Client, data: bytes, digest: str | None = None) -> httpx.Response:
    return http.put(f"{API}/blobs/{digest or _sha(data)}", content=data, headers=OCTETS)


def _run(http: httpx.Client, project: str = "p") -> str:
    response = http.post(f"{API}/runs", json={"project": project})
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


def _raw_request(port: int, head: str, body: bytes = b"") -> bytes:
    """One request over a plain socket; the answer's status line and headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
    return answer


# -- one streamed PUT --------------------------------------------------------------------------


def test_a_streamed_put_stores_the_bytes_and_missing_lists_only_absent_digests(
    http: httpx.Client, blob_root: Path
) -> None:
    sized = _bytes(3 * MiB + 123, seed=1)
    answer = _put(http, sized)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"digest": _sha(sized), "size": len(sized)}

    chunked = _bytes(2 * MiB + 7, seed=2)

    def body() -> Iterator[bytes]:
        for start in range(0, len(chunked), 100_000):
            yield chunked[start : start + 100_000]

    answer = http.put(f"{API}/blobs/{_sha(chunked)}", content=body(), headers=OCTETS)
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"digest": _sha(chunked), "size": len(chunked)}

    absent = _sha(b"never sent")
    assert _missing(http, _sha(sized), absent, _sha(chunked), absent) == [absent]
    assert _missing(http) == []
    # The same bytes again are fine, and stored once.
    assert _put(http, sized).json() == {"digest": _sha(sized), "size": len(sized)}
    stored = _files(blob_root / "sha256")
    assert sorted(path.name for path in stored) == sorted([_sha(sized), _sha(chunked)])
    assert {path.read_bytes() for path in stored} == {sized, chunked}
    assert _files(blob_root / "tmp") == []


def test_bytes_that_do_not_match_their_digest_are_refused_and_nothing_is_kept(
    http: httpx.Client, blob_root: Path
) -> None:
    data = _bytes(2 * MiB, seed=3)
    claimed = _sha(data[:-1] + b"X")
    for content in (data, iter([data[: MiB // 2], data[MiB // 2 :]])):  # with a length, then chunked
        answer = http.put(f"{API}/blobs/{claimed}", content=content, headers=OCTETS)
        error = _error(answer, 400, "digest_mismatch")
        assert error["details"] == {"expected": claimed, "actual": _sha(data)}
        assert _missing(http, claimed, _sha(data)) == [claimed, _sha(data)]
        assert _files(blob_root / "sha256") == []
        assert _files(blob_root / "tmp") == []
    # What is not a digest is refused before any byte is stored.
    _error(_put(http, b"abc", "abc"), 400, "invalid_value")
    _error(_put(http, b"abc", _sha(b"abc").upper()), 400, "invalid_value")
    _error(http.post(f"{API}/blobs/missing", json={"digests": ["nope"]}), 400, "invalid_value")
    assert _files(blob_root / "sha256") == [] and _files(blob_root / "tmp") == []


def test_an_upload_cut_off_midway_leaves_nothing(
    server: ThreadedServer, http: httpx.Client, blob_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = _bytes(10_000_000, seed=4)
    digest = _sha(data)
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        head = (
            f"PUT {API}/blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n"
        )
        sock.sendall(head.encode() + data[:1_000_000])
        # The server is writing: its temporary file is there.
        assert _eventually(lambda: bool(_files(blob_root / "tmp")))
    finally:
        sock.close()
    assert _eventually(lambda: _files(blob_root / "tmp") == []), _files(blob_root / "tmp")
    assert _missing(http, digest) == [digest]
    assert _files(blob_root / "sha256") == []
    # The server is still fine, and a client that went away is no internal error.
    assert _put(http, data).json() == {"digest": digest, "size": len(data)}
    assert "unexpected error" not in caplog.text and "Exception in ASGI application" not in caplog.text


def test_many_slow_uploads_do_not_stall_the_rest_of_the_api(
    server: ThreadedServer, http: httpx.Client, blob_root: Path
) -> None:
    """More uploads than the thread pool that runs the JSON endpoints (anyio's 40), each
    waiting for a body that comes slowly: the API must still answer."""
    port = int(server.url.rsplit(":", 1)[1])
    head = (
        f"PUT {API}/blobs/{_sha(b'slow')} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n"
    )
    sockets = []
    try:
        for _ in range(45):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sockets.append(sock)
            sock.sendall(head.encode() + b"x")
        assert _eventually(lambda: len(_files(blob_root / "tmp")) >= streaming.MAX_CONCURRENT_BODIES)
        assert http.get("/health", timeout=5).status_code == 200
        assert http.post(f"{API}/projects", json={"name": "still-here"}, timeout=5).status_code == 201
    finally:
        for sock in sockets:
            sock.close()
    assert _eventually(lambda: _files(blob_root / "tmp") == [], timeout=10), len(_files(blob_root / "tmp"))


def test_blob_uploads_are_exempt_from_the_json_body_limit(server: ThreadedServer, http: httpx.Client) -> None:
    size = MAX_REQUEST_BYTES + 6 * MiB
    block = _bytes(MiB, seed=5)
    hasher = hashlib.sha256()
    for _ in range(size // MiB):
        hasher.update(block)
    digest = hasher.hexdigest()

    def body() -> Iterator[bytes]:
        for _ in range(size // MiB):
            yield block

    headers = {**OCTETS, "content-length": str(size)}
    answer = http.put(f"{API}/blobs/{digest}", content=body(), headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"digest": digest, "size": size}

    # Elsewhere the limit holds: a declared length over it is refused before the body is read.
    port = int(server.url.rsplit(":", 1)[1])
    head = (
        f"POST {API}/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
    )
    answer_head = _raw_request(port, head)
    assert answer_head.startswith(b"HTTP/1.1 413"), answer_head[:200]


# -- resumable uploads ---------------------------------------------------------------------------


def _create_upload(http: httpx.Client) -> str:
    created = http.post(f"{API}/blobs/uploads")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body == {"upload_id": body["upload_id"], "offset": 0, "part_alignment": PART}
    upload_id: str = body["upload_id"]
    return upload_id


def _append(http: httpx.Client, upload_id: str, offset: int, data: bytes) -> httpx.Response:
    return http.put(f"{API}/blobs/uploads/{upload_id}", params={"offset": offset}, content=data, headers=OCTETS)


def _complete(http: httpx.Client, upload_id: str, digest: str) -> httpx.Response:
    return http.post(f"{API}/blobs/uploads/{upload_id}/complete", json={"digest": digest})


@pytest.fixture
def commits(server: ThreadedServer, monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The ``known_digest`` of every commit the server asks of its blob store (None: hash again)."""
    store = server.app.state.tracking.blobs
    real_commit = store.stage_commit
    seen: list[str | None] = []

    def stage_commit(upload_id: str, expected_digest: str, *, known_digest: str | None = None) -> Any:
        seen.append(known_digest)
        return real_commit(upload_id, expected_digest, known_digest=known_digest)

    monkeypatch.setattr(store, "stage_commit", stage_commit)
    return seen


def test_a_resumable_upload_in_parts(http: httpx.Client, blob_root: Path, commits: list[str | None]) -> None:
    data = _bytes(PART + 12_345, seed=6)
    upload_id = _create_upload(http)
    url = f"{API}/blobs/uploads/{upload_id}"

    answer = _append(http, upload_id, 0, data[:PART])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"upload_id": upload_id, "offset": PART, "part_alignment": PART}
    assert http.get(url).json() == {"upload_id": upload_id, "offset": PART, "part_alignment": PART}

    for wrong in (0, PART + 1):
        error = _error(_append(http, upload_id, wrong, data[PART : PART + 1000]), 409, "upload_offset_mismatch")
        assert error["details"] == {"offset": PART}
    assert http.get(url).json()["offset"] == PART  # the refused parts changed nothing

    answer = _append(http, upload_id, PART, data[PART:])
    assert answer.status_code == 200, answer.text
    assert answer.json()["offset"] == len(data)
    # The short last part was the last one.
    _error(_append(http, upload_id, len(data), b"more"), 400, "invalid_request")

    assert _missing(http, _sha(data)) == [_sha(data)]  # nothing is visible before completion
    done = _complete(http, upload_id, _sha(data))
    assert done.status_code == 200, done.text
    assert done.json() == {"digest": _sha(data), "size": len(data)}
    # Every part came through here in order (the refused ones changed nothing): no second read.
    assert commits == [_sha(data)]
    assert _missing(http, _sha(data)) == []
    assert [path.read_bytes() == data for path in _files(blob_root / "sha256")] == [True]
    assert _files(blob_root / "uploads") == []
    # Completed means gone.
    _error(http.get(url), 404, "upload_not_found")
    _error(_complete(http, upload_id, _sha(data)), 404, "upload_not_found")


def test_completing_with_a_wrong_digest_keeps_nothing(http: httpx.Client, blob_root: Path) -> None:
    data = _bytes(PART + 10, seed=7)
    upload_id = _create_upload(http)
    assert _append(http, upload_id, 0, data[:PART]).status_code == 200
    assert _append(http, upload_id, PART, data[PART:]).status_code == 200
    wrong = _sha(b"something else")
    error = _error(_complete(http, upload_id, wrong), 400, "digest_mismatch")
    assert error["details"] == {"expected": wrong, "actual": _sha(data)}
    assert _missing(http, wrong, _sha(data)) == [wrong, _sha(data)]
    assert _files(blob_root / "sha256") == [] and _files(blob_root / "uploads") == []
    _error(http.get(f"{API}/blobs/uploads/{upload_id}"), 404, "upload_not_found")


def test_an_aborted_upload_is_gone(http: httpx.Client, blob_root: Path) -> None:
    upload_id = _create_upload(http)
    assert _append(http, upload_id, 0, _bytes(PART, seed=8)).status_code == 200
    assert http.delete(f"{API}/blobs/uploads/{upload_id}").status_code == 204
    _error(http.get(f"{API}/blobs/uploads/{upload_id}"), 404, "upload_not_found")
    _error(_append(http, upload_id, PART, b"x"), 404, "upload_not_found")
    _error(_complete(http, upload_id, _sha(b"x")), 404, "upload_not_found")
    assert http.delete(f"{API}/blobs/uploads/{upload_id}").status_code == 204  # twice is fine
    assert _files(blob_root / "uploads") == [] and _files(blob_root / "sha256") == []
    for unknown in ("0" * 32, "nope", "a-b"):
        _error(http.get(f"{API}/blobs/uploads/{unknown}"), 404, "upload_not_found")


def test_a_completion_without_the_running_hash_hashes_the_bytes_again(
    server: ThreadedServer, http: httpx.Client, blob_root: Path, commits: list[str | None]
) -> None:
    hashes = server.app.state.upload_hashes
    data = _bytes(2 * PART + 99, seed=9)
    for good in (False, True):
        upload_id = _create_upload(http)
        for start in range(0, len(data), PART):
            # As if each part had gone through another worker process.
            hashes.forget(upload_id)
            assert _append(http, upload_id, start, data[start : start + PART]).status_code == 200
        hashes.forget(upload_id)
        if good:
            assert _complete(http, upload_id, _sha(data)).json() == {"digest": _sha(data), "size": len(data)}
            assert [path.read_bytes() == data for path in _files(blob_root / "sha256")] == [True]
        else:
            wrong = _sha(data[:-1])
            error = _error(_complete(http, upload_id, wrong), 400, "digest_mismatch")
            assert error["details"]["actual"] == _sha(data)
            assert _files(blob_root / "sha256") == []
        assert _files(blob_root / "uploads") == []
    assert commits == [None, None]  # the store hashed the bytes itself, both times


# -- HttpTracking's upload_file ------------------------------------------------------------------


class _FlakyTransport(httpx.HTTPTransport):
    """A real transport whose ``fail`` hook may break a request once: refused before it goes
    (ConnectError) or cut off after some of its body (WriteError)."""

    def __init__(self, fail: Callable[[httpx.Request], str | None]) -> None:
        super().__init__(retries=0)
        self.fail = fail
        self.seen: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, str(request.url.copy_with(scheme=None, netloc=None))))
        how = self.fail(request)
        if how == "refuse":
            raise httpx.ConnectError("refused for the test", request=request)
        if how == "cut":
            request = httpx.Request(request.method, request.url, headers=request.headers, stream=_Cut(request.stream))
        return super().handle_request(request)


class _Cut(httpx.SyncByteStream):
    """The first 3 MiB of a body, then a dropped connection."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self.inner:
            if sent + len(chunk) > 3 * MiB:
                raise httpx.WriteError("connection dropped for the test")
            sent += len(chunk)
            yield chunk


class _Pauses(list[float]):
    """The client's back-off pauses, recorded instead of slept; ``until`` may stand for one."""

    until: Callable[[], bool] | None = None

    def sleep(self, seconds: float) -> None:
        self.append(seconds)
        if self.until is not None:
            assert _eventually(self.until)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> _Pauses:
    """Resumable uploads from 10 MiB on, in parts of 8 MiB, with no pause between retries."""
    monkeypatch.setattr(http_client, "RESUMABLE_ABOVE_BYTES", 10 * MiB)
    monkeypatch.setattr(http_client, "RESUMABLE_PART_BYTES", PART)
    pauses = _Pauses()
    monkeypatch.setattr(http_client, "time", SimpleNamespace(sleep=pauses.sleep))
    return pauses


def _upload_with(server: ThreadedServer, tmp_path: Path, transport: httpx.BaseTransport) -> bytes:
    data = _bytes(2 * PART + 3 * MiB + 17, seed=10)
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    client = HttpTracking(server.url, transport=transport)
    try:
        client.upload_file(path, _sha(data), len(data))
        assert client.missing_blobs([_sha(data)]) == []
    finally:
        client.close()
    return data


def _offset(request: httpx.Request) -> str | None:
    return request.url.params.get("offset") if request.method == "PUT" else None


def test_upload_file_sends_a_large_file_in_parts(
    server: ThreadedServer, tmp_path: Path, blob_root: Path, small_parts: _Pauses
) -> None:
    transport = _FlakyTransport(lambda request: None)
    data = _upload_with(server, tmp_path, transport)
    puts = [url for method, url in transport.seen if method == "PUT"]
    assert [url.rsplit("=", 1)[1] for url in puts] == ["0", str(PART), str(2 * PART)]
    assert [path.read_bytes() == data for path in _files(blob_root / "sha256")] == [True]
    assert _files(blob_root / "uploads") == [] and small_parts == []


@pytest.mark.parametrize("how", ["refuse", "cut"])
def test_upload_file_goes_on_after_a_failed_part(
    server: ThreadedServer,
    tmp_path: Path,
    blob_root: Path,
    small_parts: _Pauses,
    how: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failed: list[str] = []

    def fail(request: httpx.Request) -> str | None:
        if _offset(request) == str(PART) and not failed:
            failed.append(how)
            return how
        return None

    store = server.app.state.tracking.blobs
    real_append = store.stage_append
    failed_appends: list[int] = []

    def stage_append(upload_id: str, offset: int, chunks: Iterator[bytes]) -> Any:
        try:
            return real_append(upload_id, offset, chunks)
        except BaseException:
            failed_appends.append(offset)
            raise

    monkeypatch.setattr(store, "stage_append", stage_append)
    if how == "cut":
        # What the client's real pause (a second or more) is for: by then the server has seen
        # the connection drop and cut the upload back to whole blocks. Without it the client may
        # find the part still arriving, which test_a_part_left_hanging_does_not_wedge_the_upload
        # shows going wrong.
        small_parts.until = lambda: failed_appends == [PART]
    transport = _FlakyTransport(fail)
    data = _upload_with(server, tmp_path, transport)
    assert failed == [how] and len(small_parts) == 1
    assert failed_appends == ([PART] if how == "cut" else [])  # a refused part never reached the store
    methods = [method for method, _ in transport.seen]
    # create, part 1, part 2 (fails), where are we?, part 2 again, part 3, complete; missing
    assert methods == ["POST", "PUT", "PUT", "GET", "PUT", "PUT", "POST", "POST"], transport.seen
    assert [path.read_bytes() == data for path in _files(blob_root / "sha256")] == [True]
    assert _files(blob_root / "uploads") == [] and _files(blob_root / "tmp") == []


def test_a_part_left_hanging_does_not_wedge_the_upload(server: ThreadedServer, http: httpx.Client) -> None:
    """A connection that died without the server noticing yet (or a client that gave up on a
    part and resumed at once) leaves a part half received: the server reports only the whole
    blocks before it, asks a second part to come back later, and takes it once the first ends."""
    data = _bytes(2 * PART + 100, seed=13)
    upload_id = _create_upload(http)
    assert _append(http, upload_id, 0, data[:PART]).status_code == 200
    port = int(server.url.rsplit(":", 1)[1])
    hanging = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        head = (
            f"PUT {API}/blobs/uploads/{upload_id}?offset={PART} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {PART}\r\n\r\n"
        )
        hanging.sendall(head.encode() + data[PART : PART + 3 * MiB])
        blob_root = Path(server.app.state.settings.blobs_uri)
        assert _eventually(lambda: (blob_root / "uploads" / upload_id).stat().st_size > PART + MiB)
        assert http.get(f"{API}/blobs/uploads/{upload_id}").json()["offset"] == PART  # whole blocks only
        _error(_append(http, upload_id, PART, data[PART:]), 503, "unavailable")  # not over the hanging part
    finally:
        hanging.close()
    assert _eventually(lambda: _append(http, upload_id, PART, data[PART:]).status_code == 200)
    done = _complete(http, upload_id, _sha(data))
    assert done.status_code == 200, done.text


# -- artifacts -----------------------------------------------------------------------------------


@pytest.fixture
def logged(http: httpx.Client) -> SimpleNamespace:
    """A run with one artifact of 1000 bytes at models/model.bin."""
    data = _bytes(1000, seed=11)
    assert _put(http, data).status_code == 200
    run_id = _run(http)
    entry = {"path": "models/model.bin", "digest": _sha(data), "size": len(data), "media_type": "application/x-test"}
    answer = http.post(f"{API}/runs/{run_id}/artifacts", json={"artifacts": [entry]})
    assert answer.status_code == 200, answer.text
    (artifact,) = answer.json()["artifacts"]
    assert artifact["run_id"] == run_id and artifact["path"] == "models/model.bin"
    assert artifact["digest"] == _sha(data) and artifact["size"] == 1000
    assert artifact["kind"] == "file" and artifact["media_type"] == "application/x-test"
    return SimpleNamespace(run_id=run_id, data=data, url=f"{API}/runs/{run_id}/artifacts/files/models/model.bin")


def test_a_registered_artifact_is_listed_and_downloads_with_its_headers(
    http: httpx.Client, logged: SimpleNamespace
) -> None:
    for path in ("models", "models/", "models/model.bin", ""):
        listed = http.get(f"{API}/runs/{logged.run_id}/artifacts", params={"path": path})
        assert listed.status_code == 200, listed.text
        assert [a["path"] for a in listed.json()["artifacts"]] == ["models/model.bin"], path
    assert http.get(f"{API}/runs/{logged.run_id}/artifacts", params={"path": "plots"}).json() == {"artifacts": []}

    answer = http.get(logged.url)
    assert answer.status_code == 200
    assert answer.content == logged.data
    digest = _sha(logged.data)
    assert answer.headers["content-length"] == "1000"
    assert answer.headers["etag"] == f'"{digest}"'
    assert answer.headers["x-cairn-digest"] == digest
    assert answer.headers["content-type"] == "application/x-test"
    assert answer.headers["content-disposition"] == "attachment; filename*=UTF-8''model.bin"
    assert answer.headers["accept-ranges"] == "bytes"
    assert "content-range" not in answer.headers


RANGES = [
    ("bytes=0-9", 0, 10),
    ("bytes=-5", 995, 1000),
    ("bytes=100-", 100, 1000),
    ("bytes=990-5000", 990, 1000),  # a last byte past the end stops at the end
    ("bytes=-5000", 0, 1000),
    ("bytes=999-999", 999, 1000),
]


def test_ranges_of_an_artifact(http: httpx.Client, logged: SimpleNamespace) -> None:
    for header, start, end in RANGES:
        answer = http.get(logged.url, headers={"range": header})
        assert answer.status_code == 206, (header, answer.text)
        assert answer.content == logged.data[start:end], header
        assert answer.headers["content-range"] == f"bytes {start}-{end - 1}/1000", header
        assert answer.headers["content-length"] == str(end - start), header
    # Past the end, or ending before it starts: refused (the documented choice, rather than a 416).
    for header in ("bytes=1000-", "bytes=5000-6000", "bytes=10-5", "bytes=10-9", "bytes=-0"):
        error = _error(http.get(logged.url, headers={"range": header}), 400, "invalid_request")
        assert error["details"] == {"size": 1000}, header
    # Several ranges, other units, nonsense: the whole content, which HTTP allows.
    for header in ("bytes=0-1,5-6", "items=0-5", "bytes=-", "bytes=a-b"):
        answer = http.get(logged.url, headers={"range": header})
        assert answer.status_code == 200 and answer.content == logged.data, header


def test_an_empty_artifact_and_a_name_beyond_ascii(http: httpx.Client) -> None:
    run_id = _run(http)
    assert _put(http, b"").json() == {"digest": _sha(b""), "size": 0}
    entry = {"path": "empty.txt", "digest": _sha(b""), "size": 0}
    assert http.post(f"{API}/runs/{run_id}/artifacts", json={"artifacts": [entry]}).status_code == 200
    url = f"{API}/runs/{run_id}/artifacts/files/empty.txt"
    answer = http.get(url)
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["content-length"] == "0"
    assert answer.headers["content-type"] == "application/octet-stream"
    # Nothing can be cut out of no bytes: the whole (empty) content, not a 206 "bytes */0".
    for header in ("bytes=0-9", "bytes=-5", "bytes=0-"):
        ranged = http.get(url, headers={"range": header})
        assert (ranged.status_code, ranged.content) == (200, b""), header
        assert "content-range" not in ranged.headers

    data = b"a plot"
    assert _put(http, data).status_code == 200
    path = "plots/résumé 100% #1?.png"
    entry = {"path": path, "digest": _sha(data), "size": len(data), "media_type": "image/png"}
    assert http.post(f"{API}/runs/{run_id}/artifacts", json={"artifacts": [entry]}).status_code == 200
    answer = http.get(f"{API}/runs/{run_id}/artifacts/files/{quote(path, safe='/')}")
    assert answer.status_code == 200, answer.text
    assert answer.content == data
    assert answer.headers["content-type"] == "image/png"
    name = quote("résumé 100% #1?.png", safe="")
    assert answer.headers["content-disposition"] == f"attachment; filename*=UTF-8''{name}"


def test_missing_artifacts_runs_and_paths_leaving_the_run(
    server: ThreadedServer, http: httpx.Client, logged: SimpleNamespace
) -> None:
    base = f"{API}/runs/{logged.run_id}/artifacts"
    _error(http.get(f"{base}/files/models/other.bin"), 404, "artifact_not_found")
    _error(http.get(f"{base}/files/models"), 404, "artifact_not_found")  # a folder is not a file
    _error(http.get(f"{API}/runs/{'0' * 32}/artifacts/files/models/model.bin"), 404, "run_not_found")
    _error(http.get(f"{API}/runs/{'0' * 32}/artifacts"), 404, "run_not_found")

    # Percent-encoded dots reach the server as they are (httpx leaves them alone)...
    for escaped in ("%2E%2E/x", "models/%2E%2E/%2E%2E/%2E%2E/etc/passwd", "%2e%2e%2fetc%2fpasswd", "%2E"):
        answer = http.get(f"{base}/files/{escaped}")
        assert answer.status_code in (400, 404), (escaped, answer.status_code)
        assert answer.json()["error"]["code"] in ("invalid_artifact_path", "not_found", "artifact_not_found")
    dotted = http.get(f"{base}/files/%2E%2E/x")
    assert dotted.request.url.raw_path.endswith(b"/files/%2E%2E/x")
    _error(dotted, 400, "invalid_artifact_path")
    # ... and so do literal ones, from a client that does not normalize the path.
    port = int(server.url.rsplit(":", 1)[1])
    head = f"GET {base}/files/../../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    assert _raw_request(port, head).split(b"\r\n", 1)[0] in (b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 404 Not Found")
    _error(http.get(base, params={"path": "../x"}), 400, "invalid_artifact_path")


def test_registering_artifacts_checks_paths_and_bytes(http: httpx.Client, logged: SimpleNamespace) -> None:
    base = f"{API}/runs/{logged.run_id}/artifacts"
    digest = _sha(logged.data)
    for path in ("../escape.bin", "/etc/passwd", "a\\b", "a/../../b"):
        entry = {"path": path, "digest": digest, "size": 1000}
        _error(http.post(base, json={"artifacts": [entry]}), 400, "invalid_artifact_path")
    never_sent = {"path": "ghost.bin", "digest": _sha(b"never uploaded"), "size": 14}
    _error(http.post(base, json={"artifacts": [never_sent]}), 404, "blob_not_found")
    unknown_run = {"path": "x.bin", "digest": digest, "size": 1000}
    _error(http.post(f"{API}/runs/{'0' * 32}/artifacts", json={"artifacts": [unknown_run]}), 404, "run_not_found")
    # Nothing of the refused requests was registered.
    listed = http.get(base).json()["artifacts"]
    assert [a["path"] for a in listed] == ["models/model.bin"]


# -- datasets and inputs -------------------------------------------------------------------------


def _dataset(digest: str) -> dict[str, Any]:
    return {
        "name": "iris",
        "digest": digest,
        "source_uri": "file:///data/iris.csv",
        "source_kind": "file",
        "rows": 150,
        "columns": 5,
        "schema": [{"name": "sepal_length", "type": "float64"}],
        "profile": {"sepal_length": {"mean": 5.84}},
        "files": [{"path": "iris.csv", "digest": digest, "size": 4551}],
    }


def test_datasets_are_recorded_once_per_content_with_the_runs_that_used_them(http: httpx.Client) -> None:
    digest = _sha(b"iris v1")
    first, second = _run(http), _run(http)
    versions = []
    for run_id, context in ((first, "train"), (first, "train"), (second, "eval")):
        answer = http.post(f"{API}/runs/{run_id}/datasets", json={"dataset": _dataset(digest), "context": context})
        assert answer.status_code == 200, answer.text
        versions.append(answer.json())
    assert len({version["id"] for version in versions}) == 1
    version = versions[-1]
    assert version["name"] == "iris" and version["digest"] == digest and version["project"] == "p"
    assert version["rows"] == 150 and version["columns"] == 5 and version["file_count"] == 1
    assert version["schema"] == [{"name": "sepal_length", "type": "float64"}] and version["stored"] is False

    assert sorted((u["run_id"], u["context"]) for u in version["used_by"]) == sorted(
        [(first, "train"), (second, "eval")]
    )
    # Other content under the same name is a new version.
    newer = http.post(f"{API}/runs/{second}/datasets", json={"dataset": _dataset(_sha(b"iris v2"))})
    assert newer.status_code == 200 and newer.json()["id"] != version["id"]

    inputs = http.get(f"{API}/runs/{first}/inputs").json()["inputs"]
    assert [(i["dataset"]["id"], i["context"]) for i in inputs] == [(version["id"], "train")]
    inputs = http.get(f"{API}/runs/{second}/inputs").json()["inputs"]
    assert sorted((i["dataset"]["digest"], i["context"]) for i in inputs) == [
        (digest, "eval"),
        (_sha(b"iris v2"), "train"),
    ]
    _error(http.get(f"{API}/runs/{'0' * 32}/inputs"), 404, "run_not_found")


def test_a_projects_datasets_are_listed(http: httpx.Client) -> None:
    digest = _sha(b"iris v1")
    first, second = _run(http), _run(http)
    for run_id, context in ((first, "train"), (second, "eval")):
        answer = http.post(f"{API}/runs/{run_id}/datasets", json={"dataset": _dataset(digest), "context": context})
        assert answer.status_code == 200, answer.text
    version_id = answer.json()["id"]

    listed = http.get(f"{API}/datasets", params={"project": "p"})
    assert listed.status_code == 200, listed.text
    versions = listed.json()["versions"]
    assert [v["id"] for v in versions] == [version_id]
    assert sorted((u["run_id"], u["context"]) for u in versions[0]["used_by"]) == sorted(
        [(first, "train"), (second, "eval")]
    )
    by_name = http.get(f"{API}/datasets", params={"project": "p", "name": "iris"}).json()["versions"]
    assert [v["id"] for v in by_name] == [version_id]
    _error(http.get(f"{API}/datasets", params={"project": "p", "name": "unknown"}), 404, "dataset_not_found")
    _error(http.get(f"{API}/datasets", params={"project": "nowhere"}), 404, "project_not_found")


def test_a_dataset_spec_is_checked(http: httpx.Client) -> None:
    run_id = _run(http)
    url = f"{API}/runs/{run_id}/datasets"
    _error(http.post(url, json={"dataset": _dataset("nope")}), 400, "invalid_value")
    _error(
        http.post(url, json={"dataset": {**_dataset(_sha(b"d")), "source_kind": "carrier-pigeon"}}),
        400,
        "invalid_value",
    )
    _error(http.post(url, json={"dataset": {**_dataset(_sha(b"d")), "unknown": 1}}), 400, "invalid_request")
    bad_file = {**_dataset(_sha(b"d")), "files": [{"path": "../x", "digest": _sha(b"d"), "size": 1}]}
    _error(http.post(url, json={"dataset": bad_file}), 400, "invalid_artifact_path")
    _error(http.post(f"{API}/runs/{'0' * 32}/datasets", json={"dataset": _dataset(_sha(b"d"))}), 404, "run_not_found")
    assert http.get(f"{API}/runs/{run_id}/inputs").json() == {"inputs": []}


# -- the running hash and parts that arrive twice at once ----------------------------------------


def test_the_same_part_sent_twice_at_once_still_completes(
    server: ThreadedServer,
    http: httpx.Client,
    blob_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    commits: list[str | None],
) -> None:
    """A retried part that overlaps the original (a proxy that held it back, a client that gave
    up too soon) is asked to come back (503, retryable) instead of writing over it; the
    original goes on and the upload completes with the right digest."""
    data = _bytes(PART, seed=12)
    upload_id = _create_upload(http)
    store = server.app.state.tracking.blobs
    real_append = store.stage_append
    first_inside = threading.Event()
    release = threading.Event()

    def stage_append(upload_id_: str, offset: int, chunks: Iterator[bytes]) -> Any:
        def tap() -> Iterator[bytes]:
            first_inside.set()  # past the offset check, about to wait for the body
            yield from chunks

        return real_append(upload_id_, offset, tap() if not first_inside.is_set() else chunks)

    monkeypatch.setattr(store, "stage_append", stage_append)

    def held_back() -> Iterator[bytes]:
        release.wait(10)
        yield data

    outcome: list[httpx.Response] = []

    def first_request() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as other:
            outcome.append(
                other.put(f"{API}/blobs/uploads/{upload_id}", params={"offset": 0}, content=held_back(), headers=OCTETS)
            )

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert first_inside.wait(10)
        time.sleep(0.1)
        _error(_append(http, upload_id, 0, data), 503, "unavailable")
    finally:
        release.set()
        thread.join(30)
    assert outcome and outcome[0].status_code == 200, outcome
    done = _complete(http, upload_id, _sha(data))
    assert done.status_code == 200, done.text
    assert commits == [None]  # the overlap dropped the running hash
    assert [path.read_bytes() == data for path in _files(blob_root / "sha256")] == [True]


@pytest.mark.parametrize(
    ("logged_type", "served_type"),
    [
        ("text/javascript", "application/octet-stream"),
        ("application/javascript; charset=utf-8", "application/octet-stream"),
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("image/png", "image/png"),
        ("text/csv", "text/csv; charset=utf-8"),
    ],
)
def test_an_artifact_is_never_served_as_something_a_browser_runs(
    http: httpx.Client, logged_type: str, served_type: str
) -> None:
    """The dashboard's policy allows scripts from its own origin, and artifacts are served from
    it: a logged `evil.js` must not load as a script, nor an HTML file run in a tab."""
    data = b"alert(document.cookie)"
    assert _put(http, data).status_code == 200
    run_id = _run(http)
    entry = {"path": "evil", "digest": _sha(data), "size": len(data), "media_type": logged_type}
    assert http.post(f"{API}/runs/{run_id}/artifacts", json={"artifacts": [entry]}).status_code == 200
    answer = http.get(f"{API}/runs/{run_id}/artifacts/files/evil")
    assert answer.status_code == 200 and answer.content == data
    assert answer.headers["content-type"] == served_type
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"] == "sandbox; default-src 'none'"
    listed = http.get(f"{API}/runs/{run_id}/artifacts").json()["artifacts"]
    assert [a["media_type"] for a in listed] == [logged_type]
