"""One monitor evaluation end to end, at the size of the issue's target: a day of 1,000,000
logged predictions × 20 features (16 numeric, 4 categorical), in 24 hourly Parquet files in
the blob store, against a stored 100,000-row training reference.

    .venv/bin/python bench/monitor_eval.py                       # SQLite in a temp folder
    .venv/bin/python bench/monitor_eval.py --store postgresql://postgres@127.0.0.1:5432/bench

Timed, each ``--repeat`` times (median): reading the day's rows from the store and the blob
store (``monitor_data.read_window``), building the reference from its stored Parquet file, the
comparison (``cairn.core.drift.compare``), and ``run_monitor`` as the server runs it (all of
that, the window recorded and the alert opened; the reference cache is cleared first, as a new
process would have it). Evidently's side of the same comparison is bench/drift.py's.
Progress goes to stderr; one JSON object goes to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cairn.blobs.local import LocalBlobStore
from cairn.core.artifacts import ArtifactEntry, DatasetFileEntry, DatasetSpec
from cairn.core.drift import DriftSettings, Reference, compare
from cairn.core.models.manifest import Framework, ModelManifest, manifest_to_json
from cairn.core.models.signature import signature_from_wire
from cairn.service import monitor_data
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.registry import open_store

HOUR_MS = 3_600_000
DAY0 = 1_767_225_600_000  # 2026-01-01T00:00Z
NUMERIC, CATEGORICAL = 16, 4
CATEGORIES = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])


def columns(rng: np.random.Generator, rows: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    data: dict[str, np.ndarray] = {}
    for i in range(NUMERIC):
        data[f"n{i}"] = rng.normal(i, 1.0 + i / 10, rows) + (shift if i < 2 else 0.0)
    for i in range(CATEGORICAL):
        data[f"c{i}"] = CATEGORIES[rng.integers(0, 4 + (i % 3), rows)]
    return data


def parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def setup(service: TrackingService, rows: int, reference_rows: int) -> None:
    rng = np.random.default_rng(0)
    run = service.create_run("bench-monitoring")
    reference = parquet(pa.table(columns(rng, reference_rows)))
    digest = hashlib.sha256(reference).hexdigest()
    service.write_blob([reference], digest)
    spec = DatasetSpec(
        "history",
        digest,
        "memory://history",
        "dataframe",
        reference_rows,
        NUMERIC + CATEGORICAL,
        files=[DatasetFileEntry("data.parquet", digest, len(reference))],
        stored=True,
    )
    service.log_dataset(run.id, spec, "train")
    names = [*(f"n{i}" for i in range(NUMERIC)), *(f"c{i}" for i in range(CATEGORICAL))]
    signature = {
        "inputs": [{"name": n, "type": "double" if n.startswith("n") else "string"} for n in names],
        "outputs": None,
    }
    manifest = manifest_to_json(
        ModelManifest(
            flavor="python_function",
            loader={"format": "cloudpickle", "runs_code_on_load": True},
            framework=Framework("cloudpickle", "3.0.0"),
            python="3.11",
            signature=signature_from_wire(signature),
            files={"model.bin": hashlib.sha256(b"w").hexdigest()},
        )
    )
    for content in (b"w", manifest):
        service.write_blob([content], hashlib.sha256(content).hexdigest())
    service.log_artifacts(
        run.id,
        [
            ArtifactEntry("model/model.bin", hashlib.sha256(b"w").hexdigest(), 1),
            ArtifactEntry("model/cairn-model.json", hashlib.sha256(manifest).hexdigest(), len(manifest)),
        ],
    )
    service.register_model(f"runs:/{run.id}/model", "bench")
    service.set_model_alias("bench", "champion", 1)
    per_hour = rows // 24
    meta = {b"cairn.inputs": json.dumps(names).encode(), b"cairn.outputs": b"[]"}
    for hour in range(24):
        start = DAY0 + hour * HOUR_MS
        data = columns(rng, per_hour, shift=0.5)
        data.update(
            request_id=np.char.add("r", np.arange(per_hour).astype(str)),
            timestamp_ms=start + np.sort(rng.integers(0, HOUR_MS, per_hour)),
            latency_ms=np.full(per_hour, 1.0),
            model_version=np.ones(per_hour, dtype=np.int64),
        )
        service.log_predictions("bench", 1, start, parquet(pa.table(data).replace_schema_metadata(meta)))
        print(f"logged hour {hour + 1}/24", file=sys.stderr, end="\r")
    print(file=sys.stderr)


def timed(label: str, repeat: int, call: Callable[[], object]) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    print(f"{label:<28} {median:8.3f} s (median of {repeat})", file=sys.stderr)
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store URI (default: a new SQLite file in a temp folder)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(args.store or str(Path(folder) / "cairn.db"))
        service = TrackingService(
            store, Principal("bench", is_admin=True), blobs=LocalBlobStore(Path(folder) / "blobs")
        )
        setup(service, args.rows, args.reference_rows)
        end = DAY0 + 24 * HOUR_MS
        version = store.get_version("bench", 1)
        dataset = monitor_data.reference_dataset(store, version, service.create_monitor("bench").config.reference)
        table = monitor_data.read_window(store, service.blobs, "bench", 1, DAY0, end)
        reference_table = monitor_data.read_dataset_table(store, service.blobs, dataset)
        reference = Reference.from_table(reference_table)
        settings = DriftSettings()
        results = {
            "rows": table.num_rows,
            "features": NUMERIC + CATEGORICAL,
            "reference_rows": args.reference_rows,
            "read_window_s": timed(
                "read the day's rows",
                args.repeat,
                lambda: monitor_data.read_window(store, service.blobs, "bench", 1, DAY0, end),
            ),
            "build_reference_s": timed(
                "build the reference",
                args.repeat,
                lambda: Reference.from_table(monitor_data.read_dataset_table(store, service.blobs, dataset)),
            ),
            "compare_s": timed("compare", args.repeat, lambda: compare(reference, table, settings)),
        }

        def evaluate() -> None:
            monitor_data.REFERENCES._entries.clear()
            service.delete_monitor("bench")
            service.create_monitor("bench")
            run = service.run_monitor("bench", now=end + HOUR_MS)
            assert len(run.windows) == 1 and run.windows[0].rows == table.num_rows, run

        results["run_monitor_s"] = timed("run_monitor (end to end)", args.repeat, evaluate)
        results["rows_per_s"] = round(table.num_rows / results["run_monitor_s"])
        service.close()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
