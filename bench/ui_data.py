"""The stores the dashboard paint benchmark (bench/ui_paint.py) opens pages on.

One SQLite file holds two projects:

- ``paint-runs``: 100,000 runs with 20 params, 10 metric summaries and 3 tags each. These are
  the search benchmark's runs (bench/search_data.py): its cached database
  (bench/results/search-cache/, built by bench/search_cairn.py with bulk inserts) is copied and
  its project renamed, so no second generator exists and a warm search cache makes this a copy.
- ``paint-metrics``: one finished run with 10 metrics ``m0``..``m9`` of 1,000,000 points each
  (steps 0..999,999), a noisy decaying curve; ``m0`` has exactly one spike, value 1000 at step
  777,777, so a chart that drops it while downsampling shows. The points go through Cairn's real
  ingest path (``TrackingService.log_metrics``) in the batches the SDK's background writer sends:
  100,000 points, here 10,000 consecutive steps of all 10 keys, so the run holds 100 chunks per
  key as a real training run would.

The file is kept in bench/results/ui-cache/<DATA_VERSION>/, named by the schema (the search
cache's key), and reused by the next run; ``<db>.json`` beside it records the metric run's id.

    .venv/bin/python bench/ui_data.py            # build (or find) it; prints one JSON object
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np

import search_cairn
import search_data
from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore

#: Bump whenever what this module builds changes: cached databases are keyed by it.
DATA_VERSION = "ui-data-v1"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

RUNS_PROJECT = "paint-runs"
RUNS = search_data.RUNS

METRICS_PROJECT = "paint-metrics"
METRIC_RUN_NAME = "million-points"
METRIC_KEYS = tuple(f"m{i}" for i in range(10))
POINTS = 1_000_000
#: What the SDK's background writer sends at most in one batch (BackgroundWriter.max_batch_points).
BATCH_POINTS = 100_000
SPIKE_KEY = "m0"
SPIKE_STEP = 777_777
SPIKE_VALUE = 1000.0
METRIC_SEED = 20261127
#: 2026-02-01T00:00:00Z, then one step every 10 ms.
METRIC_START_MS = 1_769_904_000_000
STEP_MS = 10


def log(message: str) -> None:
    print(f"[ui_data] {message}", file=sys.stderr, flush=True)


def cache_dir(results_dir: Path = RESULTS_DIR) -> Path:
    return results_dir / "ui-cache" / DATA_VERSION


def store_path(cache: Path) -> Path:
    return cache / f"cairn-{search_cairn.schema_key()}-{search_data.DATA_VERSION}.db"


# -- (a) 100,000 runs -------------------------------------------------------------------------


def build_runs(path: Path, n: int = RUNS, search_cache: Path | None = None) -> dict[str, Any]:
    """A new SQLite store at ``path`` holding ``paint-runs``: the search benchmark's ``n`` runs.

    Their database is built once (bulk INSERTs, see bench/search_cairn.py) and cached; here it is
    copied and the project renamed."""
    if path.exists():
        raise FileExistsError(path)
    started = time.perf_counter()
    source, load = search_cairn.ensure_sqlite(search_cache or search_data.cache_dir(RESULTS_DIR), n)
    shutil.copyfile(source, path)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        renamed = connection.execute(
            "UPDATE projects SET name = ?, description = ? WHERE name = ?",
            (RUNS_PROJECT, f"dashboard paint benchmark: {n:,} synthetic runs", search_data.PROJECT),
        ).rowcount
    finally:
        connection.close()
    if renamed != 1:
        raise RuntimeError(f"{source} has no project {search_data.PROJECT!r} to copy")
    return {"runs": n, "seconds": round(time.perf_counter() - started, 1), "search_cache": load}


# -- (b) one run of 10 × 1,000,000 points -----------------------------------------------------


def metric_values(index: int, steps: np.ndarray) -> np.ndarray:
    """Metric ``m<index>`` at ``steps``: a decaying curve with noise, deterministic."""
    rng = np.random.default_rng(METRIC_SEED + index)
    scale = 1.0 + index / 2
    curve = scale * (0.1 + np.exp(-steps / (150_000.0 * (1 + index % 3))))
    noise = rng.normal(0.0, 0.02 * scale, size=steps.shape[0])
    values = curve + noise
    if f"m{index}" == SPIKE_KEY:
        values[steps == SPIKE_STEP] = SPIKE_VALUE
    return values


def build_metrics(uri: str, points: int = POINTS) -> dict[str, Any]:
    """Into the store at ``uri`` (new or not): project ``paint-metrics`` and one finished run
    whose 10 metrics get ``points`` points each, logged batch by batch as the SDK's writer sends
    them. Returns the run's id and the time it took."""
    started = time.perf_counter()
    all_steps = np.arange(points, dtype=np.int64)
    timestamps = METRIC_START_MS + all_steps * STEP_MS
    values = {key: metric_values(i, all_steps) for i, key in enumerate(METRIC_KEYS)}
    steps_per_batch = max(1, BATCH_POINTS // len(METRIC_KEYS))
    tracking = TrackingService(SqlStore(uri), Principal("bench"))
    try:
        tracking.create_project(METRICS_PROJECT, f"dashboard paint benchmark: {len(METRIC_KEYS)} metrics of {points:,}")
        run = tracking.create_run(
            METRICS_PROJECT,
            name=METRIC_RUN_NAME,
            config={"points": points, "keys": len(METRIC_KEYS), "spike": f"{SPIKE_KEY}@{SPIKE_STEP}"},
            tags={"purpose": "ui-paint"},
            start_time=METRIC_START_MS,
        )
        for seq, low in enumerate(range(0, points, steps_per_batch)):
            high = min(points, low + steps_per_batch)
            columns = [
                MetricColumns(key, all_steps[low:high], timestamps[low:high], values[key][low:high])
                for key in METRIC_KEYS
            ]
            tracking.log_metrics(run.id, MetricBatch("ui-data", seq, columns))
        end_time = int(timestamps[-1]) if points else METRIC_START_MS
        tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED, end_time=end_time))
    finally:
        tracking.close()
    return {
        "run_id": run.id,
        "keys": len(METRIC_KEYS),
        "points_per_key": points,
        "batches": math.ceil(points / steps_per_batch),
        "spike": {"key": SPIKE_KEY, "step": SPIKE_STEP, "value": SPIKE_VALUE},
        "seconds": round(time.perf_counter() - started, 1),
    }


def metrics_run_id(uri: str) -> str:
    """The id of the ``paint-metrics`` run in a store this module built."""
    import cairn

    with cairn.Api(uri) as api:
        runs = api.runs(METRICS_PROJECT, limit=2)
    if len(runs) != 1:
        raise RuntimeError(f"{uri}: expected one run in {METRICS_PROJECT!r}, found {len(runs)}")
    return runs[0].id


# -- both, cached -----------------------------------------------------------------------------


def ensure_store(cache: Path | None = None, *, runs: int = RUNS, points: int = POINTS) -> dict[str, Any]:
    """The cached store with both projects, built first if missing: ``path``, ``metrics_run_id``
    and how it was made (``cached`` true when it was already there)."""
    cache = cache or cache_dir()
    path = store_path(cache)
    if (runs, points) != (RUNS, POINTS):  # a smaller store for a quick check: not the cached one
        path = path.with_name(f"{path.stem}-{runs}-{points}.db")
    sidecar = path.with_name(path.name + ".json")
    if path.exists() and sidecar.exists():
        log(f"reusing {path}")
        return {**json.loads(sidecar.read_text()), "path": str(path), "cached": True}
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    temporary = path.with_name(f"{path.name}.loading{os.getpid()}")
    leftovers = [temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")]
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    try:
        log(f"copying {runs:,} runs from the search benchmark's cache")
        runs_info = build_runs(temporary, runs)
        log(f"logging {len(METRIC_KEYS)} metrics × {points:,} points through TrackingService.log_metrics")
        metrics_info = build_metrics(str(temporary), points)
        connection = sqlite3.connect(temporary, isolation_level=None)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
    except BaseException:
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        raise
    temporary.replace(path)
    info = {
        "data_version": DATA_VERSION,
        "runs_project": RUNS_PROJECT,
        "metrics_project": METRICS_PROJECT,
        "metrics_run_id": metrics_info["run_id"],
        "build": {"runs": runs_info, "metrics": metrics_info, "seconds": round(time.perf_counter() - started, 1)},
        "bytes": path.stat().st_size,
    }
    sidecar.write_text(json.dumps(info, indent=1))
    if (runs, points) == (RUNS, POINTS):
        _prune(cache, path)
    return {**info, "path": str(path), "cached": False}


def _prune(cache: Path, keep: Path) -> None:
    """Databases of older schemas here, and other data versions' folders: each is ~1 GB."""
    for stale in cache.glob("cairn-*.db*"):
        if not stale.name.startswith(keep.name) and ".loading" not in stale.name:
            stale.unlink(missing_ok=True)
    for other in cache.parent.glob("ui-data-*"):
        if other != cache and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=cache_dir())
    parser.add_argument("--runs", type=int, default=RUNS, help="runs in paint-runs (not cached unless the default)")
    parser.add_argument("--points", type=int, default=POINTS, help="points per metric (likewise)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cairn-bench-ui-data-") as home:
        os.environ["CAIRN_HOME"] = home  # nothing of this lands in ~/.cairn
        os.environ.pop("CAIRN_URI", None)
        print(json.dumps(ensure_store(args.cache_dir, runs=args.runs, points=args.points), indent=1))


if __name__ == "__main__":
    main()
