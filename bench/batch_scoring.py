"""`make bench-batch`: `cairn predict` beside MLflow's pyfunc in a pandas loop, on one Parquet file.

    .venv/bin/python bench/batch_scoring.py                  # 10,000,000 rows, ~3.2 GB on disk at peak
    .venv/bin/python bench/batch_scoring.py --rows 1000000   # a quicker run

A Parquet file of `--rows` rows × 20 float64 columns is written in a temporary folder, a
`--chunk-rows` row group at a time (never whole in memory). The same scikit-learn pipeline as
the serving benchmark (StandardScaler + LogisticRegression, here on 20 features) is registered
in each tool (_registered.py), then each command runs alone, as its own process:

- Cairn: `python -m cairn predict models:/scorer@champion -i in.parquet -o cairn.parquet`, with
  its defaults (50,000-row batches, the scoring recorded as a run);
- MLflow: `mlflow_scoring.py score` in MLflow's venv, the loop an MLflow user writes:
  `mlflow.pyfunc.load_model("models:/scorer/1")`, pyarrow's `iter_batches(50_000)` to pandas,
  `predict`, each chunk with its `prediction` column appended to one Parquet output. MLflow's
  own `mlflow models predict` reads CSV or JSON only, whole into memory, and its distributed
  path, `mlflow.pyfunc.spark_udf`, needs Spark: neither scores a 10-million-row Parquet file
  on one machine.

Both write the same output (the input's columns and `prediction`). Timed from the process's
start to its exit (imports and the model's load included: what a user waits for); the summed
RSS of the process tree is sampled with psutil every 50 ms for its peak. Both outputs must hold
every row, and the predictions of their first and last row groups must equal the model's own.
Written to bench/results/batch.json and .md; the table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bigfile import machine
from _registered import BENCH_DIR, MLFLOW_BIN, cairn_env, public, register_cairn, register_mlflow
from _scoring_model import columns, describe, train

RESULTS_DIR = BENCH_DIR / "results"
FEATURES = 20
MISSING = "—"


def log(message: str) -> None:
    print(f"[batch] {message}", file=sys.stderr, flush=True)


def write_input(path: Path, rows: int, chunk_rows: int) -> dict[str, Any]:
    """`rows` rows of the training data's distribution, one row group per chunk, seeded."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    generator = np.random.default_rng(1)
    scales = np.linspace(0.5, 50.0, FEATURES)  # as _scoring_model.training_data
    names = columns(FEATURES)
    schema = pa.schema([(name, pa.float64()) for name in names])
    with pq.ParquetWriter(path, schema) as writer:
        for first in range(0, rows, chunk_rows):
            count = min(chunk_rows, rows - first)
            values = generator.normal(size=(count, FEATURES)) * scales
            writer.write_table(pa.Table.from_arrays(list(values.T), schema=schema))
    return {"rows": rows, "bytes": path.stat().st_size, "generated_s": round(time.perf_counter() - started, 1)}


class TreeSampler:
    """The peak summed RSS of a process and its descendants, sampled with psutil in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-rss", daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return  # the root exited
            for process in processes:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    pass  # a child exited between the listing and the read
            self.peak_bytes = max(self.peak_bytes, total)
            self.samples += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(argv: Sequence[str], env: Mapping[str, str] | None, label: str, timeout_s: float) -> dict[str, Any]:
    """Run one scoring command: wall seconds from start to exit, peak tree RSS, its stdout."""
    log(f"{label}: {' '.join(argv)}")
    started = time.perf_counter()
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        with TreeSampler(process.pid) as sampler:
            stdout, stderr = process.communicate(timeout=timeout_s)
    except BaseException:
        process.kill()
        process.communicate()
        raise
    wall_s = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{label} failed ({process.returncode}):\n{stderr[-3000:]}")
    return {
        "wall_s": round(wall_s, 2),
        "peak_rss_mb": round(sampler.peak_bytes / 2**20, 1),
        "rss_samples": sampler.samples,
        "stdout": stdout,
    }


def check_output(path: Path, rows: int, model: Any) -> None:
    """Every row is there, and the first and last row groups' predictions are the model's."""
    import pyarrow.parquet as pq

    output = pq.ParquetFile(path)
    if output.metadata.num_rows != rows:
        raise RuntimeError(f"{path.name} holds {output.metadata.num_rows} rows, not {rows}")
    for group in {0, output.num_row_groups - 1}:
        frame = output.read_row_group(group).to_pandas()
        expected = model.predict(frame[columns(FEATURES)])
        if list(frame["prediction"]) != list(expected):
            raise RuntimeError(f"{path.name}: row group {group}'s predictions differ from the model's")


def score_cairn(registered: Mapping[str, Any], source: Path, output: Path, timeout_s: float) -> dict[str, Any]:
    argv = [sys.executable, "-m", "cairn", "predict", registered["model_uri"], "-i", str(source), "-o", str(output)]
    measured = run_measured(argv, cairn_env(registered["home"]), "cairn predict", timeout_s)
    measured["command"] = "cairn predict models:/scorer@champion -i in.parquet -o cairn.parquet"
    return measured


def score_mlflow(registered: Mapping[str, Any], source: Path, output: Path, timeout_s: float) -> dict[str, Any]:
    argv = [str(MLFLOW_BIN / "python"), str(BENCH_DIR / "mlflow_scoring.py"), "score"]
    argv += ["--workdir", str(registered["folder"]), "--model-uri", registered["model_uri"]]
    argv += ["-i", str(source), "-o", str(output), "--batch-rows", "50000"]
    measured = run_measured(argv, None, "mlflow pyfunc loop", timeout_s)
    inner = json.loads(measured["stdout"])
    measured.update(load_model_s=inner["load_model_s"], loop_s=inner["seconds"])
    measured["command"] = "mlflow_scoring.py score: pyfunc.load_model, iter_batches(50,000), predict, ParquetWriter"
    return measured


def measure(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {"model": describe(FEATURES), "tools": {}, "scoring": {}}
    with tempfile.TemporaryDirectory(prefix="cairn-bench-batch-", dir=args.tmp_dir) as tmp:
        workdir = Path(tmp)
        model, frame = train(FEATURES)
        registered: dict[str, dict[str, Any]] = {}
        if "cairn" in args.systems:
            log("cairn: logging, registering and aliasing the model")
            registered["cairn"] = register_cairn(workdir, FEATURES, frame.head(1))
        if "mlflow" in args.systems:
            log("mlflow: logging and registering the model (mlflow_scoring.py register)")
            registered["mlflow"] = register_mlflow(workdir, FEATURES)
        for system, side in registered.items():
            results["tools"][system] = public(side)
        source = workdir / "in.parquet"
        log(f"writing {args.rows:,} rows × {FEATURES} columns to {source}")
        results["input"] = write_input(source, args.rows, args.chunk_rows)
        log(f"input: {results['input']['bytes'] / 2**30:.2f} GiB in {results['input']['generated_s']} s")
        scorers = {"cairn": score_cairn, "mlflow": score_mlflow}
        for system in args.systems:  # one after the other
            output = workdir / f"{system}.parquet"
            load = os.getloadavg()[0]
            measured = scorers[system](registered[system], source, output, args.timeout_s)
            check_output(output, args.rows, model)
            measured.update(
                rows=args.rows,
                rows_per_s=round(args.rows / measured["wall_s"]),
                output_bytes=output.stat().st_size,
                loadavg_1min_before=round(load, 2),
            )
            measured["stdout"] = measured["stdout"].strip()[-500:]
            output.unlink()  # the disk holds one output at a time
            log(f"{system}: {measured['rows_per_s']:,} rows/s, peak RSS {measured['peak_rss_mb']:,} MB")
            results["scoring"][system] = measured
    results["machine"] = machine(load_before)
    return results


def markdown(results: Mapping[str, Any]) -> str:
    scoring = results["scoring"]
    cairn, mlflow = scoring.get("cairn"), scoring.get("mlflow")
    rows = results["input"]["rows"]

    def cell(side: Mapping[str, Any] | None, key: str, unit: str = "") -> str:
        return MISSING if side is None else f"{side[key]:,}{unit}"

    def ratio(key: str, higher_is_better: bool) -> str:
        if cairn is None or mlflow is None:
            return MISSING
        value = cairn[key] / mlflow[key] if higher_is_better else mlflow[key] / cairn[key]
        return f"{value:.1f}×"

    lines = [
        f"## Batch scoring: {rows:,} rows × {FEATURES} float64 columns, Parquet "
        f"({results['input']['bytes'] / 2**30:.2f} GiB)",
        "",
        "| | Cairn `cairn predict` | MLflow pyfunc in a pandas loop | Cairn better by |",
        "| --- | ---: | ---: | ---: |",
        f"| rows/s (start to exit) | {cell(cairn, 'rows_per_s')} | {cell(mlflow, 'rows_per_s')} "
        f"| {ratio('rows_per_s', True)} |",
        f"| wall time | {cell(cairn, 'wall_s', ' s')} | {cell(mlflow, 'wall_s', ' s')} | {ratio('wall_s', False)} |",
        f"| peak RSS of the process tree | {cell(cairn, 'peak_rss_mb', ' MB')} | {cell(mlflow, 'peak_rss_mb', ' MB')} "
        f"| {ratio('peak_rss_mb', False)} |",
        "",
    ]
    for name, side in (("Cairn", cairn), ("MLflow", mlflow)):
        if side is not None:
            lines.append(f"- {name}: `{side['command']}`")
    if mlflow is not None:
        lines.append(f"- MLflow's load_model took {mlflow['load_model_s']} s, its loop {mlflow['loop_s']} s")
    if cairn is not None:
        lines.append(f"- Cairn printed: {cairn['stdout'].splitlines()[0]}")
    info = results["machine"]
    lines.append(
        f"- {info['cpus']} CPUs, load average {info['loadavg_1min_before']} before, {info['loadavg_1min_after']} after"
    )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the input (default 10,000,000)")
    parser.add_argument("--chunk-rows", type=int, default=500_000, help="rows per row group of the input")
    parser.add_argument("--systems", nargs="+", choices=("cairn", "mlflow"), default=["cairn", "mlflow"])
    parser.add_argument("--timeout-s", type=float, default=3600, help="the longest one scoring may take")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the input and outputs are written")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where batch.json and batch.md go")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # SystemExit runs the finally blocks: the child is killed and the temp dir removed.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if "mlflow" in args.systems and not (MLFLOW_BIN / "python").exists():
        log(f"{MLFLOW_BIN / 'python'} is missing: run bash bench/setup_mlflow.sh")
        return 2
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    results = measure(args)
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "batch.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (args.out / "batch.md").write_text(table)
    print(table)
    log(f"wrote {args.out / 'batch.json'} in {results['bench_wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
