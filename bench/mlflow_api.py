"""`make bench-mlflow`: one MLflow-client workload against `mlflow server` and `cairn server`.

    .venv/bin/python bench/mlflow_api.py            # the sizes below; ~30 minutes on 2 cores
    .venv/bin/python bench/mlflow_api.py --runs 5000  # ~17 minutes: bench/README.md's figures
    .venv/bin/python bench/mlflow_api.py --quick    # small sizes: checks that the bench works

Both servers run in a fresh temporary folder on SQLite, one after the other (never together:
on 2 cores each would slow the other):

- `mlflow server --backend-store-uri sqlite:///… --serve-artifacts` (MLflow's default workers),
  the `mlflow` of this venv (the test extra pins 3.17.2, the version of the client);
- `python -m cairn server --store … --blobs … --insecure-no-auth` (one worker, the default),
  whose MLflow-compatible API is under /api/2.0/mlflow.

The same `MlflowClient` calls run against each; then Cairn's own SDK (`cairn.init`, `run.log`,
`cairn.Api`) does the same work against the same Cairn server, in a project of its own:

1. `log_batch`: 200,000 points of one metric into one run, 1000 `Metric`s per call (MLflow's
   limit); SDK: 200,000 `run.log({"loss": v}, step=i)` until `run.flush()` says the server has
   them all.
2. `create_runs`: 10,000 runs, each with params `lr` (one of four values) and `seed` (unique:
   no duplicate configs) and one `loss`: `create_run`, `log_batch`, `set_terminated`;
   SDK: `cairn.init(config=…, capture=False)`, `run.log`, `run.finish()`.
3. `search_runs`: `metrics.loss < 0.5 and params.lr = '0.01'` (SDK: `params.lr = 0.01`, Cairn
   keeps a number a number) ordered by `metrics.loss`, every match, 1000 a page.
4. `get_history`: the 200,000-point metric, `get_metric_history` / `Api().history`.
5. `artifact_upload` and `artifact_download`: a 100 MiB file of random bytes, `log_artifact` /
   `download_artifacts` (SDK: `run.log_artifact` + `run.flush()`, `Api().download`). Each
   upload is a new file: Cairn keeps blobs by content and would not send bytes it has.

Every answer is checked (point counts, the search's matches and order, the file's SHA-256).
Lines 3–5 are the median of `--repeats`; 1 and 2 run once. For each line the server tree's
peak RSS is sampled every 100 ms (_procs.RssSampler: /proc's resident pages, the figure
psutil's `memory_info().rss` gives, summed over the tree). Written to
bench/results/mlflow-api.json and .md; the table is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

# MLflow 3 sends usage telemetry; there is no internet here, and a blocked send is not the workload.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# A 200,000-point history or a 100 MiB body may take longer than MLflow's default 120 s on a
# loaded machine; retries would hide a failing server.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "900")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

import cairn
from _bigfile import MB, machine, sha256_of
from _procs import (
    LOOPBACK,
    RssSampler,
    ServerProcess,
    free_port,
    settled_rss_bytes,
    start_cairn_server,
    start_mlflow_server,
    stop_tree,
    tree_cpu_s,
    wait_until_ready,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FULL = {"points": 200_000, "runs": 10_000, "artifact_mib": 100}
QUICK = {"points": 2_000, "runs": 60, "artifact_mib": 2}
BATCH = 1000  # MLflow's limit of metrics per log_batch
PAGE = 1000
LRS = (0.1, 0.01, 0.001, 0.0001)
SEARCH_LR = 0.01
MLFLOW_FILTER = "metrics.loss < 0.5 and params.lr = '0.01'"
SDK_FILTER = "metrics.loss < 0.5 and params.lr = 0.01"
ARTIFACT = "weights.bin"
LINES = ("log_batch", "create_runs", "search_runs", "get_history", "artifact_upload", "artifact_download")
MISSING = "—"


def log(message: str) -> None:
    print(f"[mlflow_api] {message}", file=sys.stderr, flush=True)


def run_configs(count: int) -> list[tuple[float, float]]:
    """(lr, loss) of each run, from a fixed seed, so every side logs the same runs."""
    rng = random.Random(20261204)
    return [(rng.choice(LRS), round(rng.random(), 6)) for _ in range(count)]


def expected_matches(configs: list[tuple[float, float]]) -> list[float]:
    """The losses the search must return, in order."""
    return sorted(loss for lr, loss in configs if lr == SEARCH_LR and loss < 0.5)


def point_value(step: int) -> float:
    return 1.0 / (1.0 + step)


def write_random_file(path: Path, size_mib: int) -> str:
    """`size_mib` MiB of random bytes at `path` (left in the page cache); its SHA-256."""
    hasher = hashlib.sha256()
    with open(path, "wb") as file:
        for _ in range(size_mib):
            chunk = os.urandom(MB)
            hasher.update(chunk)
            file.write(chunk)
    return hasher.hexdigest()


class Lines:
    """Times each line against one server and keeps wall time, peak RSS and server CPU."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.results: dict[str, dict[str, Any]] = {}

    @contextlib.contextmanager
    def timed(self, line: str) -> Iterator[None]:
        """One timed repeat of `line`; repeats of a line add to its record."""
        cpu_before = tree_cpu_s(self.server.pid)
        with RssSampler(self.server.pid) as sampler:
            started = time.perf_counter()
            yield
            seconds = time.perf_counter() - started
        record = self.results.setdefault(line, {"all_s": [], "peak_rss_mb": 0.0, "server_cpu_s": []})
        record["all_s"].append(round(seconds, 4))
        record["peak_rss_mb"] = max(record["peak_rss_mb"], round(sampler.peak_bytes / MB, 1))
        record["server_cpu_s"].append(round(tree_cpu_s(self.server.pid) - cpu_before, 2))
        record["s"] = round(statistics.median(record["all_s"]), 4)
        record["cpu_s"] = round(statistics.median(record["server_cpu_s"]), 2)
        log(f"  {line}: {seconds:.3f} s, server peak {sampler.peak_bytes / MB:.0f} MB")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(message)


# --- The MLflow client --------------------------------------------------------------------


def mlflow_workload(url: str, lines: Lines, sizes: Mapping[str, int], repeats: int, workdir: Path) -> None:
    """The workload through `MlflowClient(url)`; raises RuntimeError on a wrong answer."""
    client = MlflowClient(tracking_uri=url)
    tag = f"{time.time_ns()}"
    points = sizes["points"]

    experiment = client.create_experiment(f"bench-history-{tag}")
    run_id = client.create_run(experiment).info.run_id
    now_ms = int(time.time() * 1000)
    metrics = [Metric("loss", point_value(step), now_ms + step, step) for step in range(points)]
    with lines.timed("log_batch"):
        for first in range(0, points, BATCH):
            client.log_batch(run_id, metrics=metrics[first : first + BATCH])
    client.set_terminated(run_id)

    configs = run_configs(sizes["runs"])
    runs_experiment = client.create_experiment(f"bench-runs-{tag}")
    with lines.timed("create_runs"):
        for seed, (lr, loss) in enumerate(configs):
            created = client.create_run(runs_experiment).info.run_id
            params = [Param("lr", str(lr)), Param("seed", str(seed))]
            client.log_batch(created, metrics=[Metric("loss", loss, now_ms, 0)], params=params)
            client.set_terminated(created)

    expected = expected_matches(configs)
    for _ in range(repeats):
        with lines.timed("search_runs"):
            found, token = [], None
            while True:
                page = client.search_runs(
                    [runs_experiment], MLFLOW_FILTER, order_by=["metrics.loss"], max_results=PAGE, page_token=token
                )
                found += page
                token = page.token
                if not token:
                    break
        losses = [run.data.metrics["loss"] for run in found]
        check(losses == expected, f"search_runs at {url}: {len(losses)} matches, expected {len(expected)} in order")

    for _ in range(repeats):
        with lines.timed("get_history"):
            history = client.get_metric_history(run_id, "loss")
        check(len(history) == points, f"get_metric_history at {url}: {len(history)} points, expected {points}")
        check(sorted(m.step for m in history)[-1] == points - 1, "get_metric_history lost the last step")

    for attempt in range(repeats):
        source = workdir / f"mlflow-upload-{attempt}" / ARTIFACT
        source.parent.mkdir()
        digest = write_random_file(source, sizes["artifact_mib"])
        artifact_run = client.create_run(experiment).info.run_id
        with lines.timed("artifact_upload"):
            client.log_artifact(artifact_run, str(source))
        shutil.rmtree(source.parent)
        target = workdir / f"mlflow-download-{attempt}"
        target.mkdir()
        with lines.timed("artifact_download"):
            local = client.download_artifacts(artifact_run, ARTIFACT, str(target))
        check(sha256_of(Path(local)) == digest, f"download_artifacts at {url}: the file came back different")
        shutil.rmtree(target)


# --- Cairn's SDK --------------------------------------------------------------------------


def sdk_workload(url: str, lines: Lines, sizes: Mapping[str, int], repeats: int, workdir: Path) -> None:
    """The same workload through `cairn.init` / `cairn.Api(url)`; raises RuntimeError on a
    wrong answer."""
    tag = f"{time.time_ns()}"
    points = sizes["points"]
    api = cairn.Api(url)

    history_project = f"bench-history-{tag}"
    run = cairn.init(history_project, capture=False, uri=url)
    with lines.timed("log_batch"):
        for step in range(points):
            run.log({"loss": point_value(step)}, step=step)
        check(run.flush(timeout=None), "run.flush() did not reach the server")
    run.finish()

    configs = run_configs(sizes["runs"])
    runs_project = f"bench-runs-{tag}"
    with lines.timed("create_runs"):
        for seed, (lr, loss) in enumerate(configs):
            created = cairn.init(runs_project, config={"lr": lr, "seed": seed}, capture=False, uri=url)
            created.log({"loss": loss}, step=0)
            created.finish()

    expected = expected_matches(configs)
    for _ in range(repeats):
        with lines.timed("search_runs"):
            found = api.runs(runs_project, where=SDK_FILTER, order_by="metrics.loss")
        losses = [found_run.metrics["loss"].last for found_run in found]
        check(losses == expected, f"Api.runs at {url}: {len(losses)} matches, expected {len(expected)} in order")

    for _ in range(repeats):
        with lines.timed("get_history"):
            history = api.history(run.id, "loss")
        check(len(history.values) == points, f"Api.history at {url}: {len(history.values)} points, expected {points}")

    for attempt in range(repeats):
        source = workdir / f"sdk-upload-{attempt}" / ARTIFACT
        source.parent.mkdir()
        digest = write_random_file(source, sizes["artifact_mib"])
        artifact_run = cairn.init(history_project, capture=False, uri=url)
        with lines.timed("artifact_upload"):
            artifact_run.log_artifact(source)
            check(artifact_run.flush(timeout=None), "run.flush() did not deliver the artifact")
        artifact_run.finish()
        shutil.rmtree(source.parent)
        target = workdir / f"sdk-download-{attempt}"
        with lines.timed("artifact_download"):
            (local,) = api.download(artifact_run.id, ARTIFACT, target)
        check(sha256_of(local) == digest, f"Api.download at {url}: the file came back different")
        shutil.rmtree(target)
    api.close()


# --- The servers --------------------------------------------------------------------------

Workload = Callable[[str, Lines, Mapping[str, int], int, Path], None]


def measure_server(
    system: str, workdir: Path, workloads: Mapping[str, Workload], sizes: Mapping[str, int], repeats: int
) -> dict[str, Any]:
    """Start one server in `workdir`, run each client's workload against it, stop it."""
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    if system == "mlflow":
        server = start_mlflow_server(str(Path(sys.executable).with_name("mlflow")), workdir, port)
    else:
        server = start_cairn_server(sys.executable, workdir, port, workers=1)
    try:
        ready_s = wait_until_ready(server, f"{url}/health", timeout_s=180)
        idle_rss, processes = settled_rss_bytes(server.pid)
        log(f"{system}: ready in {ready_s:.1f} s, {idle_rss / MB:.0f} MB RSS idle over {processes} processes")
        clients = {}
        for client, workload in workloads.items():
            log(f"{system} server, {client}:")
            lines = Lines(server)
            # MLflow's set_terminated prints the run's URLs to stdout (after a get_run, which
            # stays in the timing: users pay it too); the table alone goes to stdout.
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                workload(url, lines, sizes, repeats, workdir)
            clients[client] = lines.results
        return {
            "ready_s": round(ready_s, 2),
            "idle_rss_mb": round(idle_rss / MB, 1),
            "processes": processes,
            "clients": clients,
        }
    finally:
        stop_tree(server)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import mlflow

    load_before = os.getloadavg()[0]
    sizes = QUICK if args.quick else FULL
    sizes = {**sizes, **{k: v for k, v in vars(args).items() if k in sizes and v is not None}}
    results: dict[str, Any] = {
        "quick": args.quick,
        "sizes": sizes,
        "repeats": args.repeats,
        "versions": {"mlflow": mlflow.__version__, "cairn": cairn.__version__},
        "servers": {},
    }
    plan: dict[str, dict[str, Workload]] = {
        "mlflow": {"mlflow_client": mlflow_workload},
        "cairn": {"mlflow_client": mlflow_workload, "cairn_sdk": sdk_workload},
    }
    for system in args.systems:
        with tempfile.TemporaryDirectory(prefix=f"cairn-bench-mlflow-api-{system}-") as tmp:
            results["servers"][system] = measure_server(system, Path(tmp), plan[system], sizes, args.repeats)
    results["machine"] = machine(load_before)
    return results


# --- The report ---------------------------------------------------------------------------


Record = Mapping[str, Any] | None


def _records(results: Mapping[str, Any], line: str) -> tuple[Record, Record, Record]:
    """The line's record on the MLflow server, on Cairn's through MLflow's client, and through the SDK."""

    def find(system: str, client: str) -> Record:
        return results["servers"].get(system, {}).get("clients", {}).get(client, {}).get(line)

    return find("mlflow", "mlflow_client"), find("cairn", "mlflow_client"), find("cairn", "cairn_sdk")


def _seconds(record: Record) -> str:
    if record is None:
        return MISSING
    seconds = record["s"]
    return f"{seconds:,.2f} s" if seconds >= 0.995 else f"{seconds * 1000:,.1f} ms"


def _cpu(record: Record) -> str:
    return MISSING if record is None or "cpu_s" not in record else f"{record['cpu_s']:,.2f} s"


def _megabytes(record: Record) -> str:
    return MISSING if record is None else f"{record['peak_rss_mb']:,.0f} MB"


def _ratio(numerator: Record, denominator: Record, key: str) -> str:
    if numerator is None or denominator is None or not denominator[key]:
        return MISSING
    return f"{numerator[key] / denominator[key]:,.1f}×"


def describe_line(line: str, sizes: Mapping[str, int]) -> str:
    return {
        "log_batch": f"log {sizes['points']:,} points of one metric",
        "create_runs": f"create {sizes['runs']:,} runs (2 params, 1 metric each)",
        "search_runs": "search those runs, filter + order by a metric, every page",
        "get_history": f"history of the {sizes['points']:,}-point metric",
        "artifact_upload": f"upload a {sizes['artifact_mib']} MiB artifact",
        "artifact_download": f"download the {sizes['artifact_mib']} MiB artifact",
    }[line]


def _table(
    results: Mapping[str, Any], header: list[str], cells: Callable[[Record, Record, Record], list[str]]
) -> list[str]:
    """A markdown table with a row per line: its description, then ``cells`` of its records on
    the MLflow server, on Cairn's through MLflow's client, and through Cairn's SDK."""
    rows = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    for line in LINES:
        row = [describe_line(line, results["sizes"]), *cells(*_records(results, line))]
        rows.append("| " + " | ".join(row) + " |")
    return rows


def markdown(results: Mapping[str, Any]) -> str:
    title = "MLflow's client against `mlflow server` and `cairn server`, and Cairn's SDK"
    lines = [f"## {title}{' (--quick: not for comparison)' if results['quick'] else ''}", ""]
    lines += _table(
        results,
        ["wall time", "mlflow server", "cairn server (MLflow client)", "mlflow / cairn", "cairn server (Cairn SDK)",
         "MLflow client / SDK, on cairn"],
        lambda theirs, ours, sdk: [_seconds(theirs), _seconds(ours), _ratio(theirs, ours, "s"), _seconds(sdk),
                                   _ratio(ours, sdk, "s")],
    )  # fmt: skip
    # MLflow's client spends most of a log_batch or a history call turning protobuf messages
    # into JSON and back (~57 ms of its own CPU per 1000-metric batch here, against ~5 ms
    # waiting for Cairn's answer), so wall time through it is bounded by the client; the
    # servers' own CPU time is what each server costs.
    lines += [""] + _table(
        results,
        ["server CPU time", "mlflow server", "cairn server (MLflow client)", "mlflow / cairn",
         "cairn server (Cairn SDK)"],
        lambda theirs, ours, sdk: [_cpu(theirs), _cpu(ours), _ratio(theirs, ours, "cpu_s"), _cpu(sdk)],
    )  # fmt: skip
    # No SDK ratio here: the SDK's lines run after the MLflow client's on the same server, so
    # its peak includes what the server kept from them.
    lines += [""] + _table(
        results,
        ["server's peak RSS", "mlflow server", "cairn server (MLflow client)", "mlflow / cairn",
         "cairn server (Cairn SDK, after the MLflow client's lines)"],
        lambda theirs, ours, sdk: [_megabytes(theirs), _megabytes(ours), _ratio(theirs, ours, "peak_rss_mb"),
                                   _megabytes(sdk)],
    )  # fmt: skip
    lines.append("")
    for system, server in results["servers"].items():
        lines.append(
            f"- {system} server: ready {server['ready_s']} s after start, {server['idle_rss_mb']:,.0f} MB RSS idle "
            f"({server['processes']} process{'es' if server['processes'] > 1 else ''})"
        )
    machine_info = results["machine"]
    lines.append(
        f"- MLflow {results['versions']['mlflow']}, Cairn {results['versions']['cairn']}; search, history and "
        f"artifact lines are the median of {results['repeats']}; {machine_info['cpus']} CPUs shared by client "
        f"and server, load average {machine_info['loadavg_1min_before']} before, "
        f"{machine_info['loadavg_1min_after']} after"
    )
    return "\n".join(lines) + "\n"


# --- Entry --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"small sizes, {QUICK}: checks the bench works")
    parser.add_argument("--points", type=int, help=f"metric points logged and read back (default {FULL['points']:,})")
    parser.add_argument("--runs", type=int, help=f"runs created and searched (default {FULL['runs']:,})")
    parser.add_argument("--artifact-mib", type=int, help=f"artifact size (default {FULL['artifact_mib']} MiB)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of search, history, artifacts (default 3)")
    parser.add_argument("--systems", nargs="+", choices=("mlflow", "cairn"), default=["mlflow", "cairn"])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where mlflow-api.json and .md go")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Turn SIGTERM into SystemExit so the finally blocks stop the servers and remove the temp dirs.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    results = measure(args)
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mlflow-api.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (args.out / "mlflow-api.md").write_text(table)
    print(table)
    log(f"wrote {args.out / 'mlflow-api.json'} in {results['bench_wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
