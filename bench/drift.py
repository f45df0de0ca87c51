"""`make bench-drift`: one drift evaluation by Cairn's engine beside Evidently's DataDriftPreset.

    .venv/bin/python bench/drift.py                        # 1,000,000 rows against 100,000
    .venv/bin/python bench/drift.py --rows 100000 --reference-rows 10000   # a quicker run
    .venv/bin/python bench/drift.py --evidently skip       # Cairn's side only

The data (seeded): 20 features, 16 numeric (normal, log-normal, whole numbers; float64) and 4
categorical (text, 3 to 6 categories); the current rows move ``n0`` and ``n1`` by half a
standard deviation, so both tools must find those two and no other. Both are written once to
Parquet in a temporary folder and each side reads them there (not timed). Then, one after the
other, never at the same time (2 cores):

- Cairn (this interpreter, ``cairn.core.drift``): ``Reference.from_table`` on the reference's
  Arrow table, then ``compare(reference, current, DriftSettings())`` on the current one, with
  its defaults; median of ``--repeat``. A monitor builds its reference once and caches it, so
  the comparison alone is shown as well; the ratio is taken on both together, as Evidently
  does both in its one call.
- Evidently (bench/.venv-evidently, made by setup_evidently.sh; bench/drift_evidently.py): the
  same files as pandas frames in Evidently Datasets with the same column kinds, then
  ``Report([DataDriftPreset()]).run(current, reference)`` alone is timed, ``--evidently-repeat``
  times, in a subprocess stopped after ``--evidently-timeout-s``.

The two tools' statistics are compared per feature (same method names, values within 0.01) and
their verdicts must agree. Written to bench/results/drift.json; the table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cairn.core.drift import DriftSettings, Reference, compare

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
EVIDENTLY_PYTHON = BENCH_DIR / ".venv-evidently" / "bin" / "python"
NUMERIC, CATEGORICAL = 16, 4
SHIFTED = ("n0", "n1")
CATEGORIES = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])
#: Evidently's names of the methods Cairn calls by theirs.
EVIDENTLY_METHODS = {"wasserstein": "Wasserstein distance (normed)", "jensenshannon": "Jensen-Shannon distance"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def columns(rng: np.random.Generator, rows: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    data: dict[str, np.ndarray] = {}
    for i in range(NUMERIC):
        if i % 4 == 2:
            values = rng.lognormal(0.0, 0.5 + i / 20, rows)
        elif i % 4 == 3:
            values = rng.integers(0, 20 * (i + 1), rows).astype(np.float64)
        else:
            values = rng.normal(i, 1.0 + i / 10, rows)
        if f"n{i}" in SHIFTED:
            values = values + shift * float(np.std(values))
        data[f"n{i}"] = values
    for i in range(CATEGORICAL):
        kinds = 3 + i
        weights = np.arange(1, kinds + 1) / np.arange(1, kinds + 1).sum()
        data[f"c{i}"] = CATEGORIES[rng.choice(kinds, rows, p=weights)]
    return data


def timed(label: str, repeat: int, call: Callable[[], Any]) -> tuple[float, Any]:
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    log(f"cairn: {label:<22} {median:8.3f} s (median of {repeat})")
    return median, result


def run_cairn(reference_path: Path, current_path: Path, repeat: int) -> dict[str, Any]:
    reference_table = pq.read_table(reference_path)
    current_table = pq.read_table(current_path)
    settings = DriftSettings()
    build_s, reference = timed("build the reference", repeat, lambda: Reference.from_table(reference_table))
    compare_s, drift = timed("compare", repeat, lambda: compare(reference, current_table, settings))
    both_s, _ = timed("both", repeat, lambda: compare(Reference.from_table(reference_table), current_table, settings))
    return {
        "rows": current_table.num_rows,
        "reference_rows": reference_table.num_rows,
        "build_reference_s": round(build_s, 3),
        "compare_s": round(compare_s, 3),
        "evaluate_s": round(both_s, 3),
        "drifted_share": drift.drifted_share,
        "features": {
            name: {"method": f.method.value, "value": f.value, "threshold": f.threshold, "drifted": f.drifted}
            for name, f in drift.features.items()
        },
    }


def run_evidently(
    reference_path: Path, current_path: Path, names: dict[str, list[str]], repeat: int, timeout_s: float
) -> dict[str, Any]:
    if not EVIDENTLY_PYTHON.exists():
        raise RuntimeError(f"{EVIDENTLY_PYTHON} is missing: run bash bench/setup_evidently.sh")
    argv = [
        str(EVIDENTLY_PYTHON),
        str(BENCH_DIR / "drift_evidently.py"),
        str(reference_path),
        str(current_path),
        "--numeric",
        ",".join(names["numeric"]),
        "--categorical",
        ",".join(names["categorical"]),
        "--repeat",
        str(repeat),
    ]
    log(f"evidently: {' '.join(argv[1:2])} … (timeout {timeout_s:.0f} s)")
    # Its own session, so that a timeout stops the interpreter and anything it started.
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.communicate()
        return {"timed_out_after_s": timeout_s}
    if process.returncode != 0:
        raise RuntimeError(f"drift_evidently.py failed ({process.returncode})")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


def agreement(cairn: dict[str, Any], evidently: dict[str, Any]) -> dict[str, Any]:
    """Per feature: same method, values within 0.01, same verdict."""
    differences, disagreements = {}, []
    for name, ours in cairn["features"].items():
        theirs = evidently["features"].get(name)
        if theirs is None or theirs["method"] != EVIDENTLY_METHODS.get(ours["method"]):
            disagreements.append(f"{name}: method {ours['method']} vs {theirs and theirs['method']}")
            continue
        differences[name] = abs(ours["value"] - theirs["value"])
        if ours["drifted"] != theirs["drifted"]:
            disagreements.append(f"{name}: drifted {ours['drifted']} vs {theirs['drifted']}")
    return {
        "max_value_difference": max(differences.values(), default=None),
        "disagreements": disagreements,
        "values_within_0.01": all(d <= 0.01 for d in differences.values()),
    }


def table(results: dict[str, Any]) -> str:
    cairn, evidently = results["cairn"], results.get("evidently") or {}
    other = evidently.get("evaluate_s")
    timed_out = evidently.get("timed_out_after_s")

    def theirs() -> str:
        if other is not None:
            return f"{other:,.2f} s"
        return f"> {timed_out:,.0f} s (stopped)" if timed_out else "—"

    def ratio(ours: float) -> str:
        if other is not None:
            return f"{other / ours:,.0f}×"
        return f"> {timed_out / ours:,.0f}×" if timed_out else "—"

    evaluate = cairn["evaluate_s"]
    rows = [
        "| | Cairn `core/drift` | Evidently `DataDriftPreset` | Cairn faster by |",
        "| --- | ---: | ---: | ---: |",
        f"| reference built + window compared | {evaluate:.2f} s | {theirs()} | {ratio(evaluate)} |",
        f"| window compared (reference cached) | {cairn['compare_s']:.2f} s | — | |",
        f"| reference built | {cairn['build_reference_s']:.2f} s | — | |",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the window (default 1,000,000)")
    parser.add_argument("--reference-rows", type=int, default=100_000, help="rows of the reference (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="Cairn's repeats (the median is kept)")
    parser.add_argument("--evidently-repeat", type=int, default=1, help="Evidently's repeats")
    parser.add_argument("--evidently-timeout-s", type=float, default=3600, help="the longest Evidently may take")
    parser.add_argument("--evidently", choices=["run", "skip"], default="run")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    names = {
        "numeric": [f"n{i}" for i in range(NUMERIC)],
        "categorical": [f"c{i}" for i in range(CATEGORICAL)],
    }
    results: dict[str, Any] = {"load_before": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="cairn-bench-drift-") as folder:
        reference_path, current_path = Path(folder) / "reference.parquet", Path(folder) / "current.parquet"
        pq.write_table(pa.table(columns(rng, args.reference_rows)), reference_path)
        pq.write_table(pa.table(columns(rng, args.rows, shift=0.5)), current_path)
        log(f"data: {args.rows:,} rows against {args.reference_rows:,}, {NUMERIC + CATEGORICAL} features")
        results["cairn"] = run_cairn(reference_path, current_path, args.repeat)
        drifted = sorted(n for n, f in results["cairn"]["features"].items() if f["drifted"])
        if drifted != sorted(SHIFTED):
            raise RuntimeError(f"Cairn found {drifted} drifted, not {sorted(SHIFTED)}")
        if args.evidently == "run":
            evidently = run_evidently(
                reference_path, current_path, names, args.evidently_repeat, args.evidently_timeout_s
            )
            results["evidently"] = evidently
            if "features" in evidently:
                results["agreement"] = agreement(results["cairn"], evidently)
                results["ratio"] = round(evidently["evaluate_s"] / results["cairn"]["evaluate_s"], 1)
    results["load_after"] = round(os.getloadavg()[0], 2)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "drift.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    if "agreement" in results:
        print(f"\nagreement: {json.dumps(results['agreement'])}")
    if "ratio" in results:
        print(f"Cairn is {results['ratio']}× faster than Evidently on the same evaluation.")
    return 1 if results.get("agreement", {}).get("disagreements") else 0


if __name__ == "__main__":
    sys.exit(main())
