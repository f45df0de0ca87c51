"""The Cairn half of the side-by-side benchmark.

Run with the project venv's interpreter:

    .venv/bin/python bench/cairn_side.py > cairn.json

It starts a real `python -m cairn server --workers N` (SQLite store) in a temporary
directory with its own CAIRN_HOME, measures it through the SDK a training script uses
(CAIRN_URI=http://127.0.0.1:PORT, `cairn.init`, `run.log`, `cairn.Api`), and prints one
JSON object on stdout with the same keys as mlflow_side.py; progress goes to stderr.
Every loop is bounded, and only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cairn
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
from cairn.client import lifecycle

MB = 1024 * 1024
PROJECT = "cairn-bench"
HISTORY_KEY = "loss"
#: The writer's largest batch (BackgroundWriter.max_batch_points): ingest sends batches this big.
WRITER_BATCH_POINTS = 100_000


def log(message: str) -> None:
    print(f"[cairn_side] {message}", file=sys.stderr, flush=True)


def own_cpu_s() -> float:
    """CPU seconds this process (every thread: the loop, the writer) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds spent by this client and by the server tree since `start`.

    On a shared 2-core machine wall time moves with other work; CPU time mostly does not,
    so it says where the cost is (client or server) even when the machine is busy.
    """

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.server_pids = tree_pids(server_pid)  # the tree is settled: no /proc scan per read
        self.client_at = self.server_at = 0.0

    def _server_cpu_s(self) -> float:
        return tree_cpu_s(self.server_pid, self.server_pids)

    def start(self) -> None:
        self.client_at, self.server_at = own_cpu_s(), self._server_cpu_s()

    def read(self) -> tuple[float, float]:
        return own_cpu_s() - self.client_at, self._server_cpu_s() - self.server_at


# -- the server -------------------------------------------------------------------------------


@dataclass
class Server:
    process: ServerProcess
    port: int
    argv: list[str]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@contextmanager
def cairn_server(workdir: Path, store: Path, workers: int) -> Iterator[Server]:
    """`python -m cairn server` as a user starts it; the whole tree is stopped on the way out."""
    port = free_port()
    argv = [
        sys.executable, "-m", "cairn", "server",
        "--store", str(store),
        "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env["CAIRN_HOME"] = str(workdir / "server-home")
    log(f"starting cairn server --workers {workers}")
    process = start_server(argv, cwd=workdir, log_path=workdir / f"server-{workers}w.log", env=env)
    try:
        yield Server(process, port, ["python", *argv[1:]])
    finally:
        stop_tree(process)


def measure_start_and_idle(server: Server) -> dict[str, Any]:
    start_s = wait_until_ready(server.process, f"{server.url}/health")
    idle_rss, process_count = settled_rss_bytes(server.process.pid)
    remember_tree(server.process)
    return {
        "start_s": round(start_s, 3),
        "idle_rss_mb": round(idle_rss / MB, 1),
        "idle_pss_mb": round(tree_pss_bytes(server.process.pid) / MB, 1),
        "idle_rss_mb_by_child": rss_by_child(server.process.pid),
        "idle_processes": process_count,
    }


def measure_small_requests(server: Server, requests: int) -> dict[str, Any]:
    """GET /health on one kept-alive connection: httpx (the SDK's client) and http.client."""
    import socket

    import httpx

    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)], retries=0)
    durations_ms = []
    with httpx.Client(base_url=server.url, transport=transport, timeout=30) as client:
        client.get("/health").raise_for_status()  # opens the connection
        for _ in range(requests):
            started = time.perf_counter_ns()
            client.get("/health").raise_for_status()
            durations_ms.append((time.perf_counter_ns() - started) / 1e6)
    stdlib_ms = keepalive_get_ms(LOOPBACK, server.port, "/health", requests)
    return {
        "value": round(statistics.median(durations_ms), 3),
        "p99": round(percentile(durations_ms, 0.99), 3),
        "requests": requests,
        "http_client_ms": round(statistics.median(stdlib_ms), 3),
        "call": f"{requests} sequential GET /health on one kept-alive httpx connection, "
        "TCP_NODELAY on the client socket (http_client_ms: the same with stdlib http.client, "
        "as measured against MLflow)",
    }


# -- logging ----------------------------------------------------------------------------------


def finish_all_runs(timeout_s: float) -> None:
    """End every open run while the server is still up, so nothing is spooled at exit."""
    for run in reversed(lifecycle.active_runs()):
        run.finish("killed", timeout=timeout_s)


def measure_log_calls(calls: int) -> dict[str, Any]:
    """Per-call cost of `run.log({"loss": x, "acc": y})` in a training loop.

    The background writer runs meanwhile, as it does for a user: its batches to the server
    compete with the loop for the GIL, and that shows in the p99.
    """
    durations_ns = [0] * calls
    clock = time.perf_counter_ns
    with cairn.init(PROJECT, name="log-call-loop") as run:
        for step in range(1000):  # warm-up: first-call costs, key checks
            run.log({"loss": 1.0 / (step + 1), "acc": step / 1000})
        for i in range(calls):
            x = 1.0 / (i + 2)
            y = 1.0 - x
            started = clock()
            run.log({"loss": x, "acc": y})
            durations_ns[i] = clock() - started
        flush_started = time.perf_counter()
        if not run.flush(timeout=60):
            raise RuntimeError("the log-call run did not reach the server")
        flush_s = time.perf_counter() - flush_started
    summary: dict[str, Any] = dict(summarize_call_ns(durations_ns))
    summary["points_per_call"] = 2
    summary["flush_after_s"] = round(flush_s, 3)
    summary["call"] = (
        'run.log({"loss": x, "acc": y}) on a run from cairn.init() against the server; '
        "the call validates and enqueues, a background thread sends"
    )
    return summary


@dataclass
class Ingest:
    run_id: str
    keys: list[str]
    calls: int
    points: int
    log_loop_s: float
    seconds: float
    peak_rss_mb: float
    client_cpu_s: float
    server_cpu_s: float


def measure_ingest(server: Server, calls: int, keys_per_call: int) -> Ingest:
    """`calls` run.log calls of `keys_per_call` keys each, timed until the server has them all."""
    keys = [HISTORY_KEY] + [f"metric_{k}" for k in range(1, keys_per_call)]
    run = cairn.init(PROJECT, name="ingest")
    values = [k / keys_per_call for k in range(keys_per_call)]
    cpu = CpuMeter(server.process.pid)
    with RssSampler(server.process.pid) as sampler:
        cpu.start()
        started = time.perf_counter()
        for step in range(calls):
            scale = 1.0 / (step + 1)
            run.log({key: value * scale for key, value in zip(keys, values, strict=True)})
        logged = time.perf_counter()
        durable = run.flush(timeout=120)
        elapsed = time.perf_counter() - started
        client_cpu_s, server_cpu_s = cpu.read()
    if not durable:
        raise RuntimeError("ingest: run.flush() did not confirm that the server has every point")
    run.finish()
    return Ingest(
        run_id=run.id,
        keys=keys,
        calls=calls,
        points=calls * keys_per_call,
        log_loop_s=logged - started,
        seconds=elapsed,
        peak_rss_mb=sampler.peak_bytes / MB,
        client_cpu_s=client_cpu_s,
        server_cpu_s=server_cpu_s,
    )


def verify_ingest(api: cairn.Api, ingest: Ingest) -> int:
    """Read every key back in full: the points the server returns must be every point logged."""
    stored = 0
    for key in ingest.keys:
        history = api.history(ingest.run_id, key)
        if len(history.steps) != ingest.calls or history.total != ingest.calls:
            raise RuntimeError(f"ingest: {key} has {len(history.steps)} points, not {ingest.calls}")
        stored += len(history.steps)
    if stored != ingest.points:
        raise RuntimeError(f"ingest: the server holds {stored} points, not {ingest.points}")
    return stored


def log_series(points: int) -> tuple[str, float]:
    """A one-key run of `points` steps for the history reads; returns its id and points/s."""
    with cairn.init(PROJECT, name=f"history-{points}") as run:
        started = time.perf_counter()
        for step in range(points):
            run.log({HISTORY_KEY: 1.0 / (step + 1) + (step % 97) * 1e-4})
        if not run.flush(timeout=120):
            raise RuntimeError("the history series did not reach the server")
        rate = points / (time.perf_counter() - started)
    return run.id, rate


# -- reading ----------------------------------------------------------------------------------


def time_repeats(read: Callable[[], int], repeats: int, expect: int, server_pid: int) -> dict[str, Any]:
    """Median wall time of `repeats` reads, and the median client and server CPU of one."""
    durations, client_cpu, server_cpu = [], [], []
    cpu = CpuMeter(server_pid)
    for _ in range(repeats):
        cpu.start()
        started = time.perf_counter()
        returned = read()
        durations.append(time.perf_counter() - started)
        client_s, server_s = cpu.read()
        client_cpu.append(client_s)
        server_cpu.append(server_s)
        if returned != expect:
            raise RuntimeError(f"a history read returned {returned} points, expected {expect}")
    result: dict[str, Any] = dict(summarize_seconds(durations))
    result["client_cpu_s"] = round(statistics.median(client_cpu), 4)
    result["server_cpu_s"] = round(statistics.median(server_cpu), 4)
    return result


def measure_full_history(api: cairn.Api, server: Server, run_id: str, points: int, repeats: int) -> dict[str, Any]:
    result = time_repeats(
        lambda: len(api.history(run_id, HISTORY_KEY).steps),
        repeats,
        expect=points,
        server_pid=server.process.pid,
    )
    result.update(
        points=points,
        call="cairn.Api().history(run_id, key): every point, as numpy arrays",
    )
    return result


def measure_downsampled(
    api: cairn.Api, server: Server, run_id: str, points: int, max_points: int, repeats: int
) -> dict[str, Any]:
    returned = len(api.history(run_id, HISTORY_KEY, max_points=max_points).steps)
    result = time_repeats(
        lambda: len(api.history(run_id, HISTORY_KEY, max_points=max_points).steps),
        repeats,
        expect=returned,
        server_pid=server.process.pid,
    )
    result.update(
        points=points,
        points_returned=returned,
        max_points=max_points,
        call=f"cairn.Api().history(run_id, key, max_points={max_points})",
        method=(
            f"server-side envelope: {max_points // 4:,} step buckets, each keeping its first, "
            "last, min and max point, so spikes survive"
        ),
    )
    return result


# -- the whole run ----------------------------------------------------------------------------


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"tool": "cairn", "version": cairn.__version__}
    load_before = os.getloadavg()[0]

    # Memory and start-up scale with the worker count: one worker first, on its own store.
    with cairn_server(workdir, workdir / "cairn-1w.db", workers=1) as server:
        one = measure_start_and_idle(server)
    results["start_s_1worker"] = one["start_s"]
    results["idle_rss_mb_1worker"] = one["idle_rss_mb"]
    log(f"1 worker: answered after {one['start_s']} s, idle RSS {one['idle_rss_mb']} MB")

    with cairn_server(workdir, workdir / "cairn.db", workers=args.workers) as server:
        idle = measure_start_and_idle(server)
        results.update(idle)
        log(
            f"{args.workers} workers: answered after {idle['start_s']} s, "
            f"idle RSS {idle['idle_rss_mb']} MB in {idle['idle_processes']} processes"
        )
        results["small_request_ms"] = measure_small_requests(server, args.small_requests)
        log(f"GET /health on a kept-alive connection: {results['small_request_ms']['value']} ms")

        os.environ["CAIRN_URI"] = server.url
        try:
            results.update(measure_sdk(server, args))
        finally:
            finish_all_runs(timeout_s=10)
        results["server"] = {
            "argv": server.argv,
            "workers": args.workers,
            "backend": "sqlite",
        }
    # Other work on a 2-core machine moves every number; the load average says how much.
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }
    return results


def measure_sdk(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    log(f"timing {args.log_calls:,} run.log calls")
    results["log_call_us"] = calls = measure_log_calls(args.log_calls)
    log(f"run.log: median {calls['median']} µs, p99 {calls['p99']} µs")

    points = args.ingest_calls * args.keys_per_call
    log(f"ingesting {points:,} points: {args.ingest_calls:,} calls x {args.keys_per_call} keys")
    ingest = measure_ingest(server, args.ingest_calls, args.keys_per_call)
    rate = ingest.points / ingest.seconds
    log(f"ingest: {rate:,.0f} points/s, peak RSS {ingest.peak_rss_mb:.0f} MB")
    api = cairn.Api()
    try:
        verified = verify_ingest(api, ingest)
        results["ingest_points_per_s"] = {
            "value": round(ingest.points / ingest.seconds, 1),
            "points": ingest.points,
            "seconds": round(ingest.seconds, 3),
            "calls": ingest.calls,
            "keys_per_call": args.keys_per_call,
            "log_loop_s": round(ingest.log_loop_s, 3),
            "flush_wait_s": round(ingest.seconds - ingest.log_loop_s, 3),
            "client_cpu_s": round(ingest.client_cpu_s, 3),
            "server_cpu_s": round(ingest.server_cpu_s, 3),
            "batch_size": WRITER_BATCH_POINTS,
            "verified_points": verified,
            "call": f"{ingest.calls:,} x run.log({{{args.keys_per_call} keys}}), timed from the "
            "first call until run.flush() returned True (the server acknowledged every batch); "
            "the background writer sends batches of up to 100,000 points",
        }
        results["peak_rss_mb"] = round(ingest.peak_rss_mb, 1)

        # The ingest run's keys hold `ingest_calls` points each: the size MLflow is read at.
        results["history_full_100k_s"] = measure_full_history(
            api, server, ingest.run_id, ingest.calls, args.history_repeats
        )
        results["history_downsampled_100k_s"] = measure_downsampled(
            api, server, ingest.run_id, ingest.calls, args.max_points, args.downsample_repeats
        )

        log(f"logging a {args.history_points:,}-point series (untimed set-up)")
        series_id, series_rate = log_series(args.history_points)
        results["ingest_1key_points_per_s"] = {
            "value": round(series_rate, 1),
            "points": args.history_points,
            "call": f"{args.history_points:,} x run.log({{1 key}}) until flushed",
        }
        log(f"reading the {args.history_points:,}-point history x{args.history_repeats}")
        with RssSampler(server.process.pid) as sampler:
            results["history_full_s"] = measure_full_history(
                api, server, series_id, args.history_points, args.history_repeats
            )
        results["history_peak_rss_mb"] = round(sampler.peak_bytes / MB, 1)
        results["history_downsampled_s"] = measure_downsampled(
            api, server, series_id, args.history_points, args.max_points, args.downsample_repeats
        )
        log(
            f"history: full {results['history_full_s']['value']} s, "
            f"downsampled {results['history_downsampled_s']['value']} s"
        )
    finally:
        api.close()
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--small-requests", type=int, default=200)
    parser.add_argument("--log-calls", type=int, default=200_000)
    parser.add_argument("--ingest-calls", type=int, default=100_000)
    parser.add_argument("--keys-per-call", type=int, default=10)
    parser.add_argument("--history-points", type=int, default=1_000_000)
    parser.add_argument("--history-repeats", type=int, default=3)
    parser.add_argument("--max-points", type=int, default=8000)
    parser.add_argument("--downsample-repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a smoke run: a tenth of every count")
    args = parser.parse_args(argv)
    if args.quick:
        args.log_calls //= 10
        args.ingest_calls //= 10
        args.history_points //= 10
        args.small_requests = min(args.small_requests, 50)
    return args


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Turn SIGTERM into SystemExit so the finally blocks stop the server and remove the temp dir.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cairn-bench-cairn-") as tmp:
        workdir = Path(tmp)
        # The SDK's spool (where writes wait if the server is away) goes here, not to ~/.cairn.
        os.environ["CAIRN_HOME"] = str(workdir / "client-home")
        os.environ.pop("CAIRN_TOKEN", None)
        results = measure(args, workdir)
    results["quick"] = args.quick
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    log(f"done in {results['bench_wall_s']} s")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
