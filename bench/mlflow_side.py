"""The MLflow half of the side-by-side benchmark.

Run with the MLflow venv's interpreter (see setup_mlflow.sh):

    bench/.venv-mlflow/bin/python bench/mlflow_side.py > mlflow.json

It starts a real `mlflow server` (SQLite backend, MLflow's default worker count)
in a temporary directory, measures it through MLflow's own client, and prints one
JSON object on stdout; progress goes to stderr. Every loop is bounded in count
and in time, and only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import signal
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# MLflow 3 sends usage telemetry from both the client and the server; there is no
# internet here, and a blocked send must not be part of what we time.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import (
    LOOPBACK,
    RssSampler,
    ServerProcess,
    free_port,
    keepalive_get_ms,
    remember_tree,
    rss_by_child,
    settled_rss_bytes,
    start_server,
    stop_tree,
    tree_cpu_s,
    tree_pids,
    tree_pss_bytes,
    wait_until_ready,
)
from _stats import percentile, summarize_call_ns, summarize_seconds

try:
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient
except ImportError:
    sys.exit("mlflow is not importable: run bench/setup_mlflow.sh, then run this with bench/.venv-mlflow/bin/python")

METRIC_KEY = "loss"
BATCH_SIZE = 1000  # MLflow's MAX_METRICS_PER_BATCH: the most one log_batch call accepts
# The server-side sampling endpoint the MLflow UI uses for charts; its cap is 2500 per run.
DOWNSAMPLE_PATH = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
MB = 1024 * 1024


def log(message: str) -> None:
    print(f"[mlflow_side] {message}", file=sys.stderr, flush=True)


def own_cpu_s() -> float:
    """CPU seconds this process (every thread) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_small_requests(port: int, requests: int) -> dict[str, object]:
    """Latency of small sequential requests on one kept-alive connection (a Nagle stall shows)."""
    durations_ms = keepalive_get_ms(LOOPBACK, port, "/health", requests)
    return {
        "value": round(statistics.median(durations_ms), 3),
        "p99": round(percentile(durations_ms, 0.99), 3),
        "requests": requests,
        "call": f"{requests} sequential GET /health on one kept-alive http.client connection, "
        "TCP_NODELAY on the client socket",
    }


def measure_log_calls(experiment_id: str, calls: int, budget_s: float) -> dict[str, object]:
    """Per-call cost of `mlflow.log_metric` as a training loop would call it."""
    durations_ns: list[int] = []
    with mlflow.start_run(experiment_id=experiment_id, run_name="log-metric-loop"):
        for step in range(5):  # first calls open the connection and warm caches
            mlflow.log_metric("warmup", 1.0 / (step + 1), step=step)
        deadline = time.monotonic() + budget_s
        for step in range(calls):
            started = time.perf_counter_ns()
            mlflow.log_metric(METRIC_KEY, 1.0 / (step + 1), step=step)
            durations_ns.append(time.perf_counter_ns() - started)
            if time.monotonic() > deadline:
                break
    summary: dict[str, object] = dict(summarize_call_ns(durations_ns))
    summary["call"] = "mlflow.log_metric(key, value, step=i) inside mlflow.start_run(), synchronous (default)"
    return summary


def metric_batch(first_step: int, size: int) -> list[Metric]:
    now_ms = int(time.time() * 1000)
    return [
        Metric(key=METRIC_KEY, value=1.0 / (step + 1), timestamp=now_ms, step=step)
        for step in range(first_step, first_step + size)
    ]


def log_points(client: MlflowClient, run_id: str, first_step: int, last_step: int) -> None:
    """Log steps [first_step, last_step) through log_batch, untimed (set-up for reads)."""
    for start in range(first_step, last_step, BATCH_SIZE):
        client.log_batch(run_id, metrics=metric_batch(start, min(BATCH_SIZE, last_step - start)))


@dataclass
class Ingest:
    """What one timed ingest did, kept as numbers for the phases that build on it."""

    points: int
    seconds: float
    build_s: float
    time_bounded: bool
    peak_rss_mb: float
    client_cpu_s: float
    server_cpu_s: float

    @property
    def rate(self) -> float:
        return self.points / self.seconds

    def as_json(self) -> dict[str, object]:
        return {
            "value": round(self.rate, 1),
            "points": self.points,
            "seconds": round(self.seconds, 3),
            "batch_size": BATCH_SIZE,
            "client_build_s": round(self.build_s, 3),
            "time_bounded": self.time_bounded,
            "client_cpu_s": round(self.client_cpu_s, 3),
            "server_cpu_s": round(self.server_cpu_s, 3),
            "call": "MlflowClient.log_batch(run_id, metrics=[Metric x 1000])",
        }


def measure_ingest(client: MlflowClient, run_id: str, server: ServerProcess, points: int, budget_s: float) -> Ingest:
    """Throughput of log_batch with full batches, and the tree's peak RSS meanwhile."""
    logged = 0
    building_s = 0.0
    server_pids = tree_pids(server.pid)
    with RssSampler(server.pid) as sampler:
        client_cpu_at, server_cpu_at = own_cpu_s(), tree_cpu_s(server.pid, server_pids)
        started = time.perf_counter()
        deadline = started + budget_s
        while logged < points and time.perf_counter() < deadline:
            # Building Metric objects is client work a real caller pays too, so it stays
            # inside the timing; it is also reported on its own.
            build_started = time.perf_counter()
            batch = metric_batch(logged, min(BATCH_SIZE, points - logged))
            building_s += time.perf_counter() - build_started
            client.log_batch(run_id, metrics=batch)
            logged += len(batch)
        elapsed = time.perf_counter() - started
        client_cpu_s = own_cpu_s() - client_cpu_at
        server_cpu_s = tree_cpu_s(server.pid, server_pids) - server_cpu_at
    return Ingest(
        logged,
        elapsed,
        building_s,
        logged < points,
        sampler.peak_bytes / MB,
        client_cpu_s,
        server_cpu_s,
    )


def measure_history(
    client: MlflowClient, server: ServerProcess, run_id: str, points: int, repeats: int
) -> tuple[dict[str, object], float, float]:
    """Time get_metric_history of the whole series: the result, median seconds, peak RSS MB."""
    durations: list[float] = []
    with RssSampler(server.pid) as sampler:
        for _ in range(repeats):
            started = time.perf_counter()
            history = client.get_metric_history(run_id, METRIC_KEY)
            durations.append(time.perf_counter() - started)
            if len(history) != points:
                raise RuntimeError(f"get_metric_history returned {len(history)} points, expected {points}")
    result: dict[str, object] = dict(summarize_seconds(durations))
    result.update(
        points=points,
        call="MlflowClient.get_metric_history(run_id, key), which pages 25,000 points a request",
    )
    return result, statistics.median(durations), sampler.peak_bytes / MB


def measure_downsampled(base_url: str, run_id: str, points: int, max_results: int, repeats: int) -> dict[str, object]:
    """Time MLflow's server-side sampled history, the closest thing it has to downsampling."""
    query = urllib.parse.urlencode({"run_ids": run_id, "metric_key": METRIC_KEY, "max_results": max_results})
    url = f"{base_url}{DOWNSAMPLE_PATH}?{query}"
    durations: list[float] = []
    returned = 0
    for _ in range(repeats):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as response:
            body = json.loads(response.read())
        durations.append(time.perf_counter() - started)
        returned = len(body.get("metrics", []))
    result: dict[str, object] = dict(summarize_seconds(durations))
    result.update(
        points=points,
        points_returned=returned,
        max_results=max_results,
        call=f"GET {DOWNSAMPLE_PATH}?run_ids=..&metric_key=..&max_results={max_results}",
        method=(
            "row sampling in SQL (NTILE/ROW_NUMBER window functions) keeping first and last "
            "points; not a min/max envelope, so spikes between samples can be lost"
        ),
    )
    return result


def large_history_estimate_s(have: int, want: int, ingest_rate: float, history_s: float) -> float:
    """Rough cost of growing the series to `want` points and reading it back once.

    Assumes reads scale linearly; MLflow pages by OFFSET, so the real cost is higher.
    """
    return (want - have) / ingest_rate + history_s * want / have


def measure_large_history(
    client: MlflowClient,
    server: ServerProcess,
    base_url: str,
    run_id: str,
    have: int,
    estimate_s: float,
    args: argparse.Namespace,
) -> dict[str, object]:
    """Grow the series and read it back, or say why not when it would blow the budget."""
    want = args.large_history_points
    large: dict[str, object] = {"points": want, "estimate_s": round(estimate_s, 1)}
    if estimate_s > args.large_budget_s:
        large["skipped"] = f"estimated {estimate_s:.0f} s > budget {args.large_budget_s:.0f} s"
        log(f"skipping the {want}-point history: {large['skipped']}")
        return large
    log(f"growing the series to {want} points (~{estimate_s:.0f} s)")
    log_points(client, run_id, have, want)
    large["history_full_s"], _, peak_mb = measure_history(client, server, run_id, want, repeats=1)
    large["peak_rss_mb"] = round(peak_mb, 1)
    large["history_downsampled_s"] = measure_downsampled(base_url, run_id, want, args.downsample_points, repeats=1)
    return large


def measure_server(server: ServerProcess, port: int, args: argparse.Namespace) -> dict[str, object]:
    """Every measurement, in an order where each phase leaves the data the next one reads."""
    results: dict[str, object] = {"tool": "mlflow", "version": mlflow.__version__}
    base_url = f"http://{LOOPBACK}:{port}"
    load_before = os.getloadavg()[0]
    results["start_s"] = round(wait_until_ready(server, f"{base_url}/health"), 3)
    log(f"answered /health after {results['start_s']} s")
    idle_rss, process_count = settled_rss_bytes(server.pid)
    remember_tree(server)
    results["idle_rss_mb"] = round(idle_rss / MB, 1)
    results["idle_pss_mb"] = round(tree_pss_bytes(server.pid) / MB, 1)
    results["idle_rss_mb_by_child"] = rss_by_child(server.pid)
    log(f"idle: {process_count} processes, RSS {idle_rss / MB:.0f} MB")
    results["small_request_ms"] = measure_small_requests(port, args.small_requests)
    log(f"GET /health on a kept-alive connection: {results['small_request_ms']['value']} ms")

    mlflow.set_tracking_uri(base_url)
    client = MlflowClient(base_url)
    experiment_id = client.create_experiment("cairn-bench")
    log(f"timing up to {args.log_calls} mlflow.log_metric calls")
    results["log_call_us"] = measure_log_calls(experiment_id, args.log_calls, args.log_budget_s)

    run_id = client.create_run(experiment_id, run_name="ingest-and-history").info.run_id
    log(f"ingesting up to {args.ingest_points} points with log_batch")
    ingest = measure_ingest(client, run_id, server, args.ingest_points, args.ingest_budget_s)
    results["ingest_points_per_s"] = ingest.as_json()
    results["peak_rss_mb"] = round(ingest.peak_rss_mb, 1)
    log(f"ingest: {ingest.rate:.0f} points/s, peak RSS {results['peak_rss_mb']} MB")

    # The history is read from the ingest run's series, topped up if ingest ran out of time.
    stored = ingest.points
    if stored < args.history_points:
        log(f"topping the series up to {args.history_points} points (untimed)")
        log_points(client, run_id, stored, args.history_points)
        stored = args.history_points
    log(f"reading the full {stored}-point history x{args.history_repeats}")
    history, history_s, history_peak_mb = measure_history(client, server, run_id, stored, args.history_repeats)
    results["history_full_s"] = history
    results["history_peak_rss_mb"] = round(history_peak_mb, 1)
    results["history_downsampled_s"] = measure_downsampled(
        base_url, run_id, stored, args.downsample_points, args.history_repeats
    )

    if args.large_history_points > stored:
        estimate_s = large_history_estimate_s(stored, args.large_history_points, ingest.rate, history_s)
        results["history_large"] = measure_large_history(client, server, base_url, run_id, stored, estimate_s, args)
    results["idle_processes"] = process_count
    # Other work on a 2-core machine moves every number; the load average says how much.
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }
    return results


def run_benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    """Start `mlflow server` in `workdir`, measure it, and always stop its whole tree."""
    port = args.port or free_port()
    argv = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
        "--default-artifact-root", str(workdir / "art"),
        "--host", LOOPBACK,
        "--port", str(port),
    ]  # fmt: skip
    log(f"starting {' '.join(argv)}")
    server = start_server(argv, cwd=workdir, log_path=workdir / "server.log")
    try:
        results = measure_server(server, port, args)
    finally:
        log("stopping the server tree")
        stop_tree(server)
    results["server"] = {
        "argv": ["mlflow", *argv[1:]],
        "workers": "MLflow's default: uvicorn --workers 4, plus job runner huey consumers",
        "backend": "sqlite",
    }
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--small-requests", type=int, default=200)
    parser.add_argument("--log-calls", type=int, default=300)
    parser.add_argument("--log-budget-s", type=float, default=60.0)
    parser.add_argument("--ingest-points", type=int, default=100_000)
    parser.add_argument("--ingest-budget-s", type=float, default=60.0)
    parser.add_argument("--history-points", type=int, default=100_000)
    parser.add_argument("--history-repeats", type=int, default=3)
    parser.add_argument("--downsample-points", type=int, default=2000)
    parser.add_argument(
        "--large-history-points", type=int, default=1_000_000,
        help="also time a history this long when the estimate fits --large-budget-s (0: never)",
    )  # fmt: skip
    parser.add_argument("--large-budget-s", type=float, default=120.0)
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Turn SIGTERM into SystemExit so the finally blocks stop the server and remove the temp dir.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    # MLflow prints "View run at ..." lines to stdout; stdout is reserved for the JSON.
    with (
        contextlib.redirect_stdout(sys.stderr),
        tempfile.TemporaryDirectory(prefix="cairn-bench-mlflow-") as tmp,
    ):
        results = run_benchmark(args, Path(tmp))
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    log(f"done in {results['bench_wall_s']} s")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
