"""The Cairn half of the artifact benchmark: a 1 GiB file up and down through the server.

Run with the project venv's interpreter:

    .venv/bin/python bench/artifacts_cairn.py > artifacts-cairn.json

It makes (once) or reuses bench/results/artifact-1024MiB.bin, times `cp` of it as the physical
reference, starts `python -m cairn server --store ... --blobs ... --port P` (one worker, the
default) in a fresh temporary folder beside the file (same filesystem), and moves the file
through it as the SDK does:

- upload: `cairn.client.artifacts.collect` (SHA-256 of the file) then
  `cairn.client.artifacts.upload` (POST /blobs/missing, the bytes streamed in resumable 64 MiB
  parts, POST /runs/{id}/artifacts) on an `HttpTracking`, the code `run.log_artifact` and the
  background writer run; the hash is timed inside the upload and also reported alone;
- download: `cairn.client.artifacts.download` (what `cairn.Api().download` calls), which
  checks the SHA-256 of what arrives, into a new folder.

For each: wall time, MB/s (MB = 2**20 bytes), the server tree's RSS before (settled) and its
peak during (sampled every 50 ms), CPU seconds of client and server. One JSON object goes to
stdout, progress to stderr. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cairn
from _bigfile import MB, default_file, ensure_file, machine, measure_phase, time_cp, warm_page_cache, warmup_file
from _procs import LOOPBACK, free_port, start_cairn_server, stop_tree, wait_until_ready
from cairn.client import artifacts
from cairn.client.http import RESUMABLE_ABOVE_BYTES, RESUMABLE_PART_BYTES, HttpTracking

PROJECT = "cairn-bench-artifacts"
ARTIFACT_NAME = "model.bin"


def log(message: str) -> None:
    print(f"[artifacts_cairn] {message}", file=sys.stderr, flush=True)


class TimedTracking:
    """An HttpTracking whose artifact calls are timed, so the upload splits into its steps."""

    TIMED = ("missing_blobs", "upload_file", "log_artifacts")

    def __init__(self, inner: HttpTracking) -> None:
        self._inner = inner
        self.seconds: dict[str, float] = defaultdict(float)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in self.TIMED:
            return attribute

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed


def upload(tracking: HttpTracking, run_id: str, source: Path, expected_digest: str) -> dict[str, Any]:
    started = time.perf_counter()
    files = artifacts.collect(source, ARTIFACT_NAME)
    hash_s = time.perf_counter() - started
    if files[0].digest != expected_digest:
        raise RuntimeError(f"collect() hashed {files[0].digest}, the file's digest is {expected_digest}")
    timed = TimedTracking(tracking)
    artifacts.upload(timed, run_id, files)  # duck-typed: upload() only calls Tracking methods
    size = files[0].size
    return {
        "hash_s": round(hash_s, 3),
        "hash_mb_per_s": round(size / hash_s / MB, 1),
        "steps_s": {name: round(timed.seconds[name], 3) for name in TimedTracking.TIMED},
        "call": "cairn.client.artifacts.collect(file) (SHA-256 of the file) + artifacts.upload(HttpTracking, run, "
        "files): POST /blobs/missing, "
        + (
            f"resumable upload in {RESUMABLE_PART_BYTES // MB} MiB parts"
            if size >= RESUMABLE_ABOVE_BYTES
            else "one streamed PUT /blobs/{digest}"
        )
        + ", POST /runs/{id}/artifacts; what run.log_artifact and the background writer do",
    }


def download(tracking: HttpTracking, run_id: str, target: Path, expected_digest: str, size: int) -> dict[str, Any]:
    written = artifacts.download(tracking, run_id, ARTIFACT_NAME, target)
    if len(written) != 1 or written[0].stat().st_size != size:
        raise RuntimeError(f"download wrote {written}, expected one file of {size} bytes")
    (listed,) = tracking.list_artifacts(run_id, ARTIFACT_NAME)
    if listed.digest != expected_digest:
        raise RuntimeError(f"the server recorded {listed.digest}, the file's digest is {expected_digest}")
    return {
        "verified": "SHA-256 checked by artifacts.download while the bytes arrived",
        "call": "cairn.client.artifacts.download(HttpTracking, run, path, folder) (what cairn.Api().download "
        "calls): GET /runs/{id}/artifacts/files/{path}, streamed to a temporary file, SHA-256 checked, renamed",
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {"tool": "cairn", "version": cairn.__version__, "quick": args.quick}
    source = Path(args.file) if args.file else default_file(args.size_mib)
    file_info = ensure_file(source, args.size_mib, log)
    results["file"] = file_info
    size, digest = file_info["bytes"], file_info["sha256"]
    results["file"]["warm_read_s"] = round(warm_page_cache(source), 3)

    log(f"timing cp x{args.cp_repeats}")
    results["cp"] = cp = time_cp(source, args.cp_repeats)
    log(f"cp: {cp['mb_per_s']:.0f} MB/s ({cp['all_s']} s)")

    with tempfile.TemporaryDirectory(prefix="cairn-bench-artifacts-", dir=source.parent) as tmp:
        workdir = Path(tmp)
        port = free_port()
        log(f"starting cairn server --workers {args.workers}")
        server = start_cairn_server(sys.executable, workdir, port, args.workers)
        try:
            url = f"http://{LOOPBACK}:{port}"
            results["start_s"] = round(wait_until_ready(server, f"{url}/health"), 3)
            tracking = HttpTracking(url)
            try:
                tracking.create_project(PROJECT)
                run = tracking.create_run(PROJECT, name="big-artifact")
                warmup = warmup_file(workdir)
                artifacts.upload(tracking, run.id, artifacts.collect(warmup))
                artifacts.download(tracking, run.id, warmup.name, workdir / "warmup")
                log(f"uploading {size // MB} MiB")
                results["upload"] = up = measure_phase(
                    server.pid, size, lambda: upload(tracking, run.id, source, digest)
                )
                log(
                    f"upload: {up['mb_per_s']:.0f} MB/s in {up['seconds']} s (hash {up['hash_s']} s), "
                    f"server RSS {up['rss_baseline_mb']:.0f} -> {up['rss_peak_mb']:.0f} MB"
                )
                target = workdir / "download"
                log(f"downloading {size // MB} MiB")
                results["download"] = down = measure_phase(
                    server.pid, size, lambda: download(tracking, run.id, target, digest, size)
                )
                log(
                    f"download: {down['mb_per_s']:.0f} MB/s in {down['seconds']} s, "
                    f"server RSS {down['rss_baseline_mb']:.0f} -> {down['rss_peak_mb']:.0f} MB"
                )
            finally:
                tracking.close()
        finally:
            stop_tree(server)
    shown = ["python", *(arg.replace(str(workdir), "TMP") for arg in server.process.args[1:])]
    results["server"] = {"argv": shown, "workers": args.workers, "backend": "sqlite + local blobs"}
    results["machine"] = machine(load_before)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="the file's size in MiB")
    parser.add_argument("--file", help="the file to move (default: bench/results/artifact-<size>MiB.bin)")
    parser.add_argument("--cp-repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="the server's workers (its default is 1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run with a 256 MiB file")
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mib = min(args.size_mib, 256)
    return args


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Turn SIGTERM into SystemExit so the finally blocks stop the server and remove the temp dir.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    os.environ.pop("CAIRN_TOKEN", None)
    results = measure(args)
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    log(f"done in {results['bench_wall_s']} s")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
