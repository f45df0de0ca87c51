"""The MLflow half of the artifact benchmark: the same file up and down through MLflow's server.

Run with the MLflow venv's interpreter (made by bench/setup_mlflow.sh):

    bench/.venv-mlflow/bin/python bench/artifacts_mlflow.py > artifacts-mlflow.json

It starts `mlflow server --serve-artifacts --artifacts-destination DIR` (SQLite backend, no
--default-artifact-root, so runs get `mlflow-artifacts:/` URIs and every byte goes through the
server: proxied artifacts) in a fresh temporary folder beside the file, and moves the file
(made once, or reused, as bench/results/artifact-1024MiB.bin: the one the Cairn half moves)
with MLflow's client:

- upload: `mlflow.log_artifact(path)` inside `mlflow.start_run()` (one streamed PUT
  /api/2.0/mlflow-artifacts/artifacts/...); MLflow computes no checksum;
- download: `mlflow.artifacts.download_artifacts(run_id=..., artifact_path=..., dst_path=...)`
  into a new folder; MLflow checks nothing, so the SHA-256 is checked here, after the timing.

For each: wall time, MB/s (MB = 2**20 bytes), the server tree's summed RSS before (settled) and
its peak during (sampled every 50 ms; the tree is MLflow's launcher and its uvicorn workers),
CPU seconds of client and server. One JSON object goes to stdout, progress to stderr. Only
127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bigfile import MB, default_file, ensure_file, machine, measure_phase, sha256_of, warm_page_cache, warmup_file
from _procs import LOOPBACK, free_port, start_mlflow_server, stop_tree, wait_until_ready

try:
    import mlflow
    import mlflow.artifacts
except ImportError:
    sys.exit("mlflow is not importable: run bench/setup_mlflow.sh, then run this with bench/.venv-mlflow/bin/python")

ARTIFACT_DIR = "model"


def log(message: str) -> None:
    print(f"[artifacts_mlflow] {message}", file=sys.stderr, flush=True)


def upload(source: Path) -> dict[str, Any]:
    mlflow.log_artifact(str(source), artifact_path=ARTIFACT_DIR)
    return {
        "call": "mlflow.log_artifact(path, artifact_path) in mlflow.start_run(), tracking URI http://..., "
        "artifact URI mlflow-artifacts:/...: one streamed PUT through the server; no checksum"
    }


def download(run_id: str, name: str, target: Path) -> dict[str, Any]:
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=f"{ARTIFACT_DIR}/{name}", dst_path=str(target)
    )
    return {
        "local_path": local,
        "call": "mlflow.artifacts.download_artifacts(run_id=..., artifact_path=..., dst_path=...): one streamed GET "
        "through the server, written in 1 MB chunks; no checksum (checked here afterwards, untimed)",
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {"tool": "mlflow", "version": mlflow.__version__, "quick": args.quick}
    source = Path(args.file) if args.file else default_file(args.size_mib)
    file_info = ensure_file(source, args.size_mib, log)
    results["file"] = file_info
    size, digest = file_info["bytes"], file_info["sha256"]
    results["file"]["warm_read_s"] = round(warm_page_cache(source), 3)

    with tempfile.TemporaryDirectory(prefix="cairn-bench-artifacts-mlflow-", dir=source.parent) as tmp:
        workdir = Path(tmp)
        port = free_port()
        log("starting mlflow server --serve-artifacts")
        server = start_mlflow_server(str(Path(sys.executable).parent / "mlflow"), workdir, port)
        try:
            url = f"http://{LOOPBACK}:{port}"
            results["start_s"] = round(wait_until_ready(server, f"{url}/health"), 3)
            mlflow.set_tracking_uri(url)
            experiment_id = mlflow.create_experiment("cairn-bench-artifacts")
            with mlflow.start_run(experiment_id=experiment_id, run_name="big-artifact") as run:
                artifact_uri = run.info.artifact_uri
                if not artifact_uri.startswith("mlflow-artifacts:"):
                    raise RuntimeError(f"artifacts would bypass the server: the run's artifact URI is {artifact_uri}")
                warmup = warmup_file(workdir)
                (workdir / "warmup").mkdir()
                mlflow.log_artifact(str(warmup))
                mlflow.artifacts.download_artifacts(
                    run_id=run.info.run_id, artifact_path=warmup.name, dst_path=str(workdir / "warmup")
                )
                log(f"uploading {size // MB} MiB (artifact URI {artifact_uri})")
                results["upload"] = up = measure_phase(server.pid, size, lambda: upload(source))
            stored = workdir / "artifacts"
            stored_files = [p for p in stored.rglob(source.name) if p.is_file()]
            if len(stored_files) != 1 or stored_files[0].stat().st_size != size:
                raise RuntimeError(f"the server stored {stored_files}, expected one file of {size} bytes")
            log(
                f"upload: {up['mb_per_s']:.0f} MB/s in {up['seconds']} s, "
                f"server RSS {up['rss_baseline_mb']:.0f} -> {up['rss_peak_mb']:.0f} MB"
            )
            target = workdir / "download"
            target.mkdir()
            log(f"downloading {size // MB} MiB")
            results["download"] = down = measure_phase(
                server.pid, size, lambda: download(run.info.run_id, source.name, target)
            )
            local = Path(down.pop("local_path"))
            if local.stat().st_size != size or sha256_of(local) != digest:
                raise RuntimeError(f"{local} is not the file that was uploaded")
            down["verified"] = "SHA-256 checked after the timed download"
            log(
                f"download: {down['mb_per_s']:.0f} MB/s in {down['seconds']} s, "
                f"server RSS {down['rss_baseline_mb']:.0f} -> {down['rss_peak_mb']:.0f} MB"
            )
        finally:
            log("stopping the server tree")
            stop_tree(server)
    results["server"] = {
        "argv": ["mlflow", *(arg.replace(str(workdir), "TMP") for arg in server.process.args[1:])],
        "workers": "MLflow's default: uvicorn --workers 4, plus job runner huey consumers",
        "backend": "sqlite + proxied artifacts (--serve-artifacts --artifacts-destination DIR)",
    }
    results["machine"] = machine(load_before)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="the file's size in MiB")
    parser.add_argument("--file", help="the file to move (default: bench/results/artifact-<size>MiB.bin)")
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
    # MLflow prints "View run at ..." lines to stdout; stdout is reserved for the JSON.
    with contextlib.redirect_stdout(sys.stderr):
        results = measure(args)
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    log(f"done in {results['bench_wall_s']} s")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
