"""The big file the artifact benchmark moves, the `cp` reference, and the per-phase measurement.

Stdlib only, like _procs.py, so that artifacts_mlflow.py can import it from MLflow's venv.

The file is random bytes (nothing to gain from compression or deduplication), generated once
as bench/results/artifact-<N>MiB.bin (bench/results/ is not committed) with its SHA-256 in a
sidecar `.sha256` file, and reused by later runs and by both halves.
"""

from __future__ import annotations

import hashlib
import math
import os
import resource
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _procs import _rss_bytes, settled_rss_bytes, tree_cpu_s, tree_pids

MB = 1024 * 1024
RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: The server's RSS is read this often during a phase (a 1 GiB transfer lasts seconds).
SAMPLE_INTERVAL_S = 0.05
_CHUNK = 1 << 20


def default_file(size_mib: int) -> Path:
    return RESULTS_DIR / f"artifact-{size_mib}MiB.bin"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def ensure_file(path: Path, size_mib: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The random file of `size_mib` MiB at `path` and its SHA-256, made only if missing.

    A file of the right size with a sidecar no older than it is reused as it is.
    """
    size = size_mib * MB
    sidecar = _sidecar(path)
    if path.exists() and path.stat().st_size == size and sidecar.exists():
        if sidecar.stat().st_mtime_ns >= path.stat().st_mtime_ns:
            digest = sidecar.read_text().split()[0]
            log(f"reusing {path} ({size_mib} MiB)")
            return {"path": str(path), "bytes": size, "sha256": digest, "generated_s": None}
    log(f"generating {path}: {size_mib} MiB of os.urandom (once; later runs reuse it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    hasher = hashlib.sha256()
    started = time.perf_counter()
    try:
        with open(temporary, "wb") as file:
            for _ in range(size_mib):
                chunk = os.urandom(_CHUNK)
                hasher.update(chunk)
                file.write(chunk)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    digest = hasher.hexdigest()
    sidecar.write_text(f"{digest}  {path.name}\n")
    return {
        "path": str(path),
        "bytes": size,
        "sha256": digest,
        "generated_s": round(time.perf_counter() - started, 2),
    }


def warmup_file(folder: Path) -> Path:
    """A 1 MiB random file for a round trip before the timed ones: the routes' first calls
    (imports, connections, caches) then do not count as the big transfer's memory or time."""
    path = folder / "warmup.bin"
    path.write_bytes(os.urandom(_CHUNK))
    return path


def warm_page_cache(path: Path) -> float:
    """Read the file once so every measurement starts from the page cache; returns seconds."""
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as file:
        buffer = bytearray(_CHUNK)
        while file.readinto(buffer):
            pass
    return time.perf_counter() - started


def time_cp(source: Path, repeats: int) -> dict[str, Any]:
    """`cp` of the file to a new file beside it (same filesystem), median of `repeats`.

    The source is in the page cache (read just before) and the copy is written to the page
    cache, not synced to the disk: the same conditions as the uploads and downloads, which do
    not sync either. Each copy is deleted before the next.
    """
    size = source.stat().st_size
    durations = []
    for _ in range(repeats):
        target = source.with_name(f".{source.name}.cp-{os.getpid()}")
        started = time.perf_counter()
        subprocess.run(["cp", str(source), str(target)], check=True)
        durations.append(time.perf_counter() - started)
        target.unlink()
    seconds = statistics.median(durations)
    return {
        "mb_per_s": round(size / seconds / MB, 1),
        "seconds": round(seconds, 3),
        "all_s": [round(d, 3) for d in durations],
        "call": f"cp FILE COPY on the same filesystem, median of {repeats}; FILE in the page cache (read just "
        "before), COPY written to the page cache (no sync), then deleted",
    }


class TreeRssSampler:
    """The summed RSS of a process tree and of each of its processes, sampled in a thread.

    Keeps the peak of the sum and each process's own peak, so that the report can tell one
    worker holding a file in memory from a whole tree drifting. Like _procs.RssSampler, it
    reads only the known pids' statm between scans of /proc (every `rescan_s`).
    """

    def __init__(self, root_pid: int, interval_s: float = SAMPLE_INTERVAL_S, rescan_s: float = 0.5) -> None:
        self.root_pid = root_pid
        self.interval_s = interval_s
        self.rescan_s = rescan_s
        self.baseline_by_pid: dict[int, int] = {}
        self.peak_by_pid: dict[int, int] = {}
        self.peak_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self, pids: set[int]) -> None:
        total = 0
        for pid in pids:
            rss = _rss_bytes(pid)
            total += rss
            self.peak_by_pid[pid] = max(self.peak_by_pid.get(pid, 0), rss)
        self.peak_bytes = max(self.peak_bytes, total)
        self.samples += 1

    def _run(self) -> None:
        pids: set[int] = set()
        scanned_at = -math.inf
        while not self._stop.is_set():
            if time.monotonic() - scanned_at >= self.rescan_s:
                pids = tree_pids(self.root_pid)
                scanned_at = time.monotonic()
            self._sample(pids)
            self._stop.wait(self.interval_s)

    @property
    def baseline_bytes(self) -> int:
        return sum(self.baseline_by_pid.values())

    def largest_process_growth(self) -> int:
        """The most any one process grew over its own baseline (a new process: over 0)."""
        return max((peak - self.baseline_by_pid.get(pid, 0) for pid, peak in self.peak_by_pid.items()), default=0)

    def __enter__(self) -> TreeRssSampler:
        self.baseline_by_pid = {pid: _rss_bytes(pid) for pid in tree_pids(self.root_pid)}
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        # One last sample so a phase shorter than the interval still has a value.
        self._sample(tree_pids(self.root_pid))


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_phase(server_pid: int, size: int, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `action` (an upload or a download of `size` bytes) and measure it.

    Wall time and MB/s; the server tree's summed RSS once settled before the phase
    (baseline) and its peak during it, sampled every 50 ms in a thread, and the most any one
    of its processes grew; the CPU seconds of this client and of the server tree. `action`
    returns extra fields for the JSON.
    """
    settled_rss_bytes(server_pid)  # wait until the tree's memory stops moving
    client_cpu, server_cpu = own_cpu_s(), tree_cpu_s(server_pid)
    with TreeRssSampler(server_pid) as sampler:
        started = time.perf_counter()
        extra = action()
        seconds = time.perf_counter() - started
    client_cpu, server_cpu = own_cpu_s() - client_cpu, tree_cpu_s(server_pid) - server_cpu
    return {
        "mb_per_s": round(size / seconds / MB, 1),
        "seconds": round(seconds, 3),
        "rss_baseline_mb": round(sampler.baseline_bytes / MB, 1),
        "rss_peak_mb": round(sampler.peak_bytes / MB, 1),
        "rss_growth_mb": round((sampler.peak_bytes - sampler.baseline_bytes) / MB, 1),
        "rss_largest_process_growth_mb": round(sampler.largest_process_growth() / MB, 1),
        "rss_samples": sampler.samples,
        "server_processes": len(sampler.baseline_by_pid),
        "client_cpu_s": round(client_cpu, 3),
        "server_cpu_s": round(server_cpu, 3),
        **extra,
    }


def machine(load_before: float) -> dict[str, Any]:
    import platform

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }
