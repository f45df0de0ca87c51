"""The MLflow half of the search benchmark: `search_runs` over 100,000 runs in one experiment.

Run with the MLflow venv's interpreter (see setup_mlflow.sh):

    bench/.venv-mlflow/bin/python bench/search_mlflow.py > search-mlflow.json

The runs (bench/search_data.py, the same data the Cairn half loads) are not created through
MLflow's API, which would take hours at this size: MLflow's own `SqlAlchemyStore` creates the
SQLite database with its migrations and the experiment, then the runs, params, tags,
latest_metrics and metrics rows are bulk-inserted as MLflow writes them (its dbmodels). The
database is kept in bench/results/search-cache/ and reused by the next run.

`MlflowClient(tracking_uri="sqlite:///…").search_runs(...)` is timed in this process, with no
server: that isolates the store's search from HTTP and is the closest match to Cairn's
in-process `Api(uri).runs(...)`. Every answer is checked against the generator's expected one.
Progress goes to stderr; one JSON object goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import search_data as data

try:
    import mlflow
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking import MlflowClient
except ImportError:
    sys.exit("mlflow is not importable: run bench/setup_mlflow.sh, then run this with bench/.venv-mlflow/bin/python")

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: The largest page MLflow's search_runs returns (SEARCH_MAX_RESULTS_THRESHOLD).
MAX_PAGE = 50_000
LOAD_CHUNK_RUNS = 5_000


def log(message: str) -> None:
    print(f"[search_mlflow] {message}", file=sys.stderr, flush=True)


# -- loading ----------------------------------------------------------------------------------


def db_path(cache: Path, n: int) -> Path:
    return cache / f"mlflow-{mlflow.__version__}-{n}.db"


def _rows(chunk: list[data.SyntheticRun], experiment_id: int, artifact_location: str) -> dict[str, list[tuple]]:
    """The rows MLflow writes for these runs: what create_run, log_batch and set_terminated do."""
    rows: dict[str, list[tuple]] = {"runs": [], "params": [], "tags": [], "latest_metrics": [], "metrics": []}
    for run in chunk:
        rows["runs"].append(
            (
                run.id,
                run.name,
                "UNKNOWN",  # create_run's source_type
                "",
                "",
                run.user,
                run.status.upper(),
                run.start_time,
                run.end_time,
                "",
                "active",
                f"{artifact_location}/{run.id}/artifacts",
                experiment_id,
                None,
            )
        )
        rows["params"].extend((key, data.mlflow_param_value(value), run.id) for key, value in run.params.items())
        # create_run stores the run name as the mlflow.runName tag as well.
        rows["tags"].append(("mlflow.runName", run.name, run.id))
        rows["tags"].extend((key, value, run.id) for key, value in run.tags.items())
        for key, m in run.metrics.items():
            rows["latest_metrics"].append((key, m.last, m.last_timestamp, m.last_step, 0, run.id))
            # The history itself is not loaded (search never reads it): one point per metric,
            # the last, so that get_metric_history agrees with latest_metrics.
            rows["metrics"].append((key, m.last, m.last_timestamp, run.id, m.last_step, 0))
    return rows


INSERTS = {
    "runs": "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
    "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "params": "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
    "tags": "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
    "latest_metrics": "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
    "VALUES (?, ?, ?, ?, ?, ?)",
    "metrics": "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
}


def _chunks(n: int) -> Iterator[list[data.SyntheticRun]]:
    chunk: list[data.SyntheticRun] = []
    for run in data.runs(n):
        chunk.append(run)
        if len(chunk) == LOAD_CHUNK_RUNS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load(path: Path, n: int) -> tuple[str, dict[str, Any]]:
    """Create MLflow's database at `path` and bulk-load `n` runs; returns the experiment id."""
    temporary = path.with_name(path.name + f".loading{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        store = SqlAlchemyStore(f"sqlite:///{temporary}", str(temporary.parent / "mlflow-artifacts"))
        experiment_id = store.create_experiment(data.PROJECT)
        artifact_location = store.get_experiment(experiment_id).artifact_location
        store.engine.dispose()
        schema_s = time.perf_counter() - started
        counts = insert_rows(temporary, n, int(experiment_id), artifact_location)
    except BaseException:
        temporary.unlink(missing_ok=True)  # never leave a half-loaded database to be reused
        raise
    temporary.replace(path)
    return experiment_id, {
        "seconds": round(time.perf_counter() - started, 1),
        "schema_s": round(schema_s, 1),
        "rows": counts,
        "bytes": path.stat().st_size,
        "method": "MLflow's SqlAlchemyStore creates the schema (its migrations) and the experiment; "
        "then one sqlite3 transaction of executemany INSERTs into runs, params, tags, "
        "latest_metrics and metrics (one point per metric)",
    }


def insert_rows(path: Path, n: int, experiment_id: int, artifact_location: str) -> dict[str, int]:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # A throw-away file until it is renamed into place: no journal, no fsync while loading.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-1000000")
        counts = dict.fromkeys(INSERTS, 0)
        connection.execute("BEGIN")
        for chunk in _chunks(n):
            for table, rows in _rows(chunk, experiment_id, artifact_location).items():
                connection.executemany(INSERTS[table], rows)
                counts[table] += len(rows)
        connection.execute("COMMIT")
    finally:
        connection.close()
    return counts


def experiment_id_of(path: Path) -> str:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT experiment_id FROM experiments WHERE name = ?", (data.PROJECT,)).fetchone()
    finally:
        connection.close()
    if row is None:
        raise RuntimeError(f"{path} has no experiment {data.PROJECT!r}")
    return str(row[0])


def ensure_db(cache: Path, n: int) -> tuple[Path, str, dict[str, Any]]:
    path = db_path(cache, n)
    if path.exists():
        log(f"reusing {path}")
        return path, experiment_id_of(path), {"cached": True, "bytes": path.stat().st_size}
    log(f"loading {n:,} runs into {path}")
    experiment_id, info = load(path, n)
    log(f"loaded {n:,} runs in {info['seconds']} s")
    removed = data.prune(path, f"mlflow-*-{n}.db")
    if removed:
        log(f"removed stale cached databases: {', '.join(removed)}")
    return path, experiment_id, info


def verify(client: MlflowClient, n: int, sample: int = 5) -> int:
    """Read a few runs back through MLflow's own get_run: every field must be as generated."""
    wanted = {0, n // 3, n // 2, n - 1, max(0, n - 2)}
    checked = 0
    for run in data.runs(max(wanted) + 1):
        if run.index not in wanted:
            continue
        got = client.get_run(run.id)
        problems = []
        if got.info.run_name != run.name or got.info.status != run.status.upper():
            problems.append(f"name/status {got.info.run_name}/{got.info.status}")
        if got.info.start_time != run.start_time or got.info.end_time != run.end_time:
            problems.append("times")
        if got.data.params != {k: data.mlflow_param_value(v) for k, v in run.params.items()}:
            problems.append(f"params {got.data.params}")
        if got.data.tags != {**run.tags, "mlflow.runName": run.name}:
            problems.append(f"tags {got.data.tags}")
        if got.data.metrics != {k: m.last for k, m in run.metrics.items()}:
            problems.append(f"metrics {got.data.metrics}")
        history = client.get_metric_history(run.id, "acc")
        if [(p.step, p.value) for p in history] != [(run.metrics["acc"].last_step, run.metrics["acc"].last)]:
            problems.append("acc history")
        if problems:
            raise RuntimeError(f"run {run.id} reads back wrong through MlflowClient.get_run: {problems}")
        checked += 1
    if checked < min(sample, n):
        raise RuntimeError(f"verified only {checked} runs")
    return checked


# -- the queries ------------------------------------------------------------------------------


def search_one(client: MlflowClient, experiment_id: str, filter_string: str, order_by: list[str] | None) -> list[Any]:
    return list(
        client.search_runs([experiment_id], filter_string=filter_string, order_by=order_by, max_results=data.LIMIT)
    )


def query_call(client: MlflowClient, experiment_id: str, key: str) -> Callable[[], list[str]]:
    spec = data.MLFLOW_QUERIES[key]
    filters, order_by = spec["filters"], spec["order_by"]
    if len(filters) == 1:
        return lambda: [r.info.run_id for r in search_one(client, experiment_id, filters[0], order_by)]

    def union() -> list[str]:
        # No `or` in MLflow's filter: one search per branch, each the first 100 in the default
        # order (newest first), merged; the first 100 of the union are the answer.
        found = {}
        for filter_string in filters:
            for run in search_one(client, experiment_id, filter_string, order_by):
                found[run.info.run_id] = run
        ordered = sorted(found.values(), key=lambda r: (-r.info.start_time, r.info.run_id))
        return [r.info.run_id for r in ordered[: data.LIMIT]]

    return union


def group_by_call(client: MlflowClient, experiment_id: str) -> Callable[[], dict[str, dict[str, float]]]:
    def group() -> dict[str, dict[str, float]]:
        # No group-by in MLflow: fetch every matching run (pages of 50,000, MLflow's most) and
        # average on the client, as an MLflow user must.
        sums: dict[str, list[float]] = {}
        token = None
        while True:
            page = client.search_runs(
                [experiment_id], filter_string=data.MLFLOW_GROUP_FILTER, max_results=MAX_PAGE, page_token=token
            )
            for run in page:
                acc = run.data.metrics.get("acc")
                if acc is not None:
                    sums.setdefault(run.data.params["optimizer"], []).append(acc)
            token = page.token
            if not token:
                break
        return {opt: {"count": len(v), "mean": sum(v) / len(v)} for opt, v in sorted(sums.items())}

    return group


def check_ids(key: str, expected: dict[str, Any]) -> Callable[[list[str]], None]:
    def check(ids: list[str]) -> None:
        if ids != expected[key]["first_ids"]:
            raise RuntimeError(f"MLflow's answer to {key} differs from the expected one")

    return check


def check_groups(expected: dict[str, Any]) -> Callable[[dict[str, dict[str, float]]], None]:
    def check(groups: dict[str, dict[str, float]]) -> None:
        want = expected["group_by"]["groups"]
        if set(groups) != set(want) or any(
            groups[g]["count"] != want[g]["count"] or abs(groups[g]["mean"] - want[g]["mean"]) > 1e-9 for g in want
        ):
            raise RuntimeError(f"MLflow's group means differ from the expected ones: {groups}")

    return check


def describe(key: str) -> dict[str, Any]:
    spec = data.MLFLOW_QUERIES[key]
    call = (
        f"MlflowClient.search_runs([exp], filter_string={spec['filters'][0]!r}, "
        f"order_by={spec['order_by']!r}, max_results={data.LIMIT})"
    )
    described: dict[str, Any] = {"filter_strings": spec["filters"], "order_by": spec["order_by"], "call": call}
    if len(spec["filters"]) > 1:
        described["call"] = (
            f"{len(spec['filters'])} x MlflowClient.search_runs(max_results={data.LIMIT}), one per branch: "
            + " | ".join(repr(f) for f in spec["filters"])
        )
        described["method"] = (
            "MLflow's filter has no `or`: one search per branch, timed together, "
            "merged and cut to the first 100 by start_time desc (the same answer)"
        )
    return described


class Watchdog:
    """Interrupts the SQLite statements of one MLflow client when a first search runs too long.

    A "connect" hook on MLflow's engine notes each sqlite3 connection (the engine is disposed
    once, so every later connection passes the hook); nothing runs per query. A timer thread
    calls `sqlite3.Connection.interrupt()` on them past the deadline, and the search fails
    with "interrupted" instead of running for many minutes.
    """

    def __init__(self, client: MlflowClient) -> None:
        from sqlalchemy import event

        self.connections: list[Any] = []
        engine = client._tracking_client.store.engine
        event.listen(engine, "connect", lambda dbapi_connection, _record: self.connections.append(dbapi_connection))
        engine.dispose()

    def run(self, call: Callable[[], Any], timeout_s: float) -> tuple[Any, float] | None:
        """(result, seconds) of `call`, or None if it was interrupted after `timeout_s`."""
        import threading

        expired = threading.Event()

        def interrupt() -> None:
            expired.set()
            for connection in list(self.connections):
                try:
                    connection.interrupt()
                except Exception:  # closed meanwhile
                    pass

        # MLflow logs the interrupted statement and its traceback at ERROR: expected here.
        quiet = logging.getLogger("mlflow.store.db.utils")
        level = quiet.level
        timer = threading.Timer(timeout_s, interrupt)
        timer.start()
        started = time.perf_counter()
        try:
            quiet.setLevel(logging.CRITICAL)
            result = call()
        except Exception:
            if expired.is_set():
                return None
            raise
        finally:
            timer.cancel()
            quiet.setLevel(level)
        if expired.is_set():  # finished just as the timer fired
            return None
        return result, time.perf_counter() - started


def calls_for(client: MlflowClient, experiment_id: str, n: int, key: str, cache: Path) -> tuple[Callable, Callable]:
    expected = data.expected(n, cache)
    if key == "group_by":
        return group_by_call(client, experiment_id), check_groups(expected)
    return query_call(client, experiment_id, key), check_ids(key, expected)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"tool": "mlflow", "version": mlflow.__version__}
    load_before = os.getloadavg()[0]
    path, experiment_id, load_info = ensure_db(args.cache_dir, args.runs)
    results["load"] = {**load_info, "runs": args.runs}
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    results["verified_runs"] = verify(client, args.runs)
    watchdog = Watchdog(client)
    small: tuple[MlflowClient, str] | None = None
    queries: dict[str, Any] = {}
    for key in [q[0] for q in data.CAIRN_QUERIES] + ["group_by"]:
        log(f"timing {key} at {args.runs:,} runs")
        call, check = calls_for(client, experiment_id, args.runs, key, args.cache_dir)
        # The warm-up, bounded: MLflow's sort by a metric can take many minutes at 100,000 runs.
        first = watchdog.run(call, args.slow_s)
        if first is not None:
            check(first[0])
            timing = data.time_query(
                call, check, repeats=args.repeats, budget_s=args.budget_s, min_repeats=2, warmed_up=first[1]
            )
            timing["runs"] = args.runs
        else:
            log(f"{key}: no answer within {args.slow_s:g} s at {args.runs:,} runs; measuring at {data.SMALL_RUNS:,}")
            if small is None:
                small_path, small_experiment, small_load = ensure_db(args.cache_dir, data.SMALL_RUNS)
                results["load_small"] = {**small_load, "runs": data.SMALL_RUNS}
                small = (MlflowClient(tracking_uri=f"sqlite:///{small_path}"), small_experiment)
            call, check = calls_for(small[0], small[1], data.SMALL_RUNS, key, args.cache_dir)
            timing = data.time_query(call, check, repeats=args.repeats, budget_s=args.budget_s, min_repeats=2)
            timing["runs"] = data.SMALL_RUNS
            timing["skipped_full_size"] = (
                f"one search_runs did not finish within {args.slow_s:g} s at {args.runs:,} runs "
                f"(interrupted); measured at {data.SMALL_RUNS:,} runs"
            )
            timing["full_size_timeout_s"] = args.slow_s
        if key == "group_by":
            timing.update(
                filter_strings=[data.MLFLOW_GROUP_FILTER],
                call=f"MlflowClient.search_runs([exp], filter_string={data.MLFLOW_GROUP_FILTER!r}, "
                f"max_results={MAX_PAGE}) page by page, then the mean of metrics['acc'] per params['optimizer'] "
                "computed in Python",
                method="MLflow has no group-by: every matching run is fetched and averaged on the client",
            )
        else:
            timing.update(describe(key))
        queries[key] = timing
        log(f"{key}: p50 {timing['p50_ms']} ms, p95 {timing['p95_ms']} ms ({timing['repeats']} repeats)")
    results["queries"] = queries
    results["store"] = {
        "backend": "sqlite",
        "uri": "sqlite:///…/mlflow-….db",
        "in_process": True,
        "note": "MlflowClient with a sqlite:/// tracking URI: the store's search in this process, no server",
    }
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=data.RUNS)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per query after one warm-up")
    parser.add_argument(
        "--budget-s", type=float, default=10.0, help="stop repeating a query after this long (at least 3 repeats)"
    )
    parser.add_argument(
        "--slow-s",
        type=float,
        default=60.0,
        help="a first search still running after this long is interrupted and measured at 10,000 runs instead",
    )
    parser.add_argument("--cache-dir", type=Path, default=data.cache_dir(RESULTS_DIR))
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    results = measure(args)
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    log(f"done in {results['bench_wall_s']} s")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
