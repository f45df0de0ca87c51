"""A 1 GiB artifact goes up to the real HTTP server and comes back byte for byte, while the
server's memory stays flat: it streams the bytes to and from its blob store, it never holds the
file. The client is the SDK's own code (``collect`` + ``upload``, then ``download``)."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from cairn.client import artifacts
from cairn.client.http import RESUMABLE_ABOVE_BYTES, HttpTracking

if TYPE_CHECKING:
    from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.slow

SIZE = 1 << 30
CHUNK = 1 << 20
MAX_GROWTH_BYTES = 100 * 1024 * 1024
SAMPLE_INTERVAL_S = 0.05


class PeakRss:
    """The summed RSS of a process and its children: before (baseline) and the peak during a
    ``with`` block, sampled every 50 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def rss(self) -> int:
        try:
            processes = [self.process, *self.process.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0  # the server is gone: the transfer fails, and says why
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self.samples += 1
            self._stop.wait(SAMPLE_INTERVAL_S)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def __enter__(self) -> PeakRss:
        self.baseline = self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    def describe(self) -> str:
        mb = 1024 * 1024
        return f"{self.baseline / mb:.0f} MB -> peak {self.peak / mb:.0f} MB ({self.samples} samples)"


def write_random_file(path: Path, size: int) -> str:
    """``size`` random bytes in 1 MiB chunks; returns their SHA-256."""
    hasher = hashlib.sha256()
    with open(path, "wb") as file:
        for _ in range(size // CHUNK):
            chunk = os.urandom(CHUNK)
            hasher.update(chunk)
            file.write(chunk)
    return hasher.hexdigest()


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def test_a_1_gib_file_round_trips_through_the_server_with_flat_server_memory(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    assert server_process.process is not None
    pid = server_process.process.pid
    blobs = server_process.store.parent / "blobs"  # the server's --blobs
    source = tmp_path / "model.bin"
    target = tmp_path / "download"
    tracking = HttpTracking(server_process.url)
    try:
        digest = write_random_file(source, SIZE)
        assert SIZE >= RESUMABLE_ABOVE_BYTES  # the upload goes in resumable parts
        tracking.create_project("big-artifact")
        run = tracking.create_run("big-artifact")

        started = time.perf_counter()
        with PeakRss(pid) as upload_rss:
            files = artifacts.collect(source, "model.bin")
            artifacts.upload(tracking, run.id, files)
        upload_s = time.perf_counter() - started
        assert [(f.path, f.digest, f.size) for f in files] == [("model.bin", digest, SIZE)]
        source.unlink()  # the disk holds at most two copies at a time

        started = time.perf_counter()
        with PeakRss(pid) as download_rss:
            written = artifacts.download(tracking, run.id, "model.bin", target)
        download_s = time.perf_counter() - started
        assert written == [target / "model.bin"]
        assert written[0].stat().st_size == SIZE
        assert sha256_of(written[0]) == digest
    finally:
        tracking.close()
        source.unlink(missing_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(blobs, ignore_errors=True)

    print(f"upload {SIZE / upload_s / 2**20:.0f} MB/s, download {SIZE / download_s / 2**20:.0f} MB/s")
    assert upload_rss.growth < MAX_GROWTH_BYTES, f"the server's RSS during the upload: {upload_rss.describe()}"
    assert download_rss.growth < MAX_GROWTH_BYTES, f"the server's RSS during the download: {download_rss.describe()}"
