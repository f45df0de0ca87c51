"""`make bench-ingest`: prediction logs into a real `cairn server` on loopback, through the SDK
(`cairn.monitor`) and through a file upload (`cairn monitor upload`).

    .venv/bin/python bench/monitor_ingest.py                    # 1,000,000 SDK rows, a 1,000,000-row file
    .venv/bin/python bench/monitor_ingest.py --sdk-rows 500000  # a quicker run

A server (`python -m cairn server --workers 2`, store and blobs in a temporary folder) gets a
model of 20 float features (bench/_scoring_model.py, registered through the SDK). Then:

- SDK: `monitor.log(frame, predictions)` of batches of `--batch-rows` rows (10,000) × 20
  features, with the defaults a user gets (files of 100,000 rows, flush every 5 s), timed from
  the first `log` until `monitor.flush()` returns True: every row acknowledged by the server.
  Each `log` call is timed too (median, p99, max): it must not wait for the network.
- File: a Parquet file of `--file-rows` rows (1,000,000) × 20 features, a prediction, times and
  ids is written untimed; then `python -m cairn monitor upload scorer 1 FILE --uri URL` runs as
  its own process, timed from its start to its exit (the interpreter's start included); before
  it, the same upload in this process (read, convert, encode, send), without the start.

Afterwards the server's listing must hold every row of both. Prints one JSON object; the
figures in bench/README.md ("Prediction log ingest") come from it. Target: ≥ 500,000 rows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _procs import free_port, start_cairn_server, stop_tree, wait_until_ready  # noqa: E402
from _scoring_model import columns, train  # noqa: E402

FEATURES = 20
MODEL = "scorer"
TARGET_ROWS_PER_S = 500_000


def register(url: str) -> None:
    import cairn

    model, frame = train(FEATURES)
    with cairn.init("bench-monitor", name=MODEL, uri=url, capture=False) as run:
        info = run.log_model(model, input_example=frame.head(5))
    cairn.register_model(info.uri, MODEL, uri=url)


def sdk_ingest(url: str, rows: int, batch_rows: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    import cairn

    generator = np.random.default_rng(1)
    frames = [pd.DataFrame(generator.normal(size=(batch_rows, FEATURES)), columns=columns(FEATURES)) for _ in range(4)]
    predictions = generator.integers(0, 2, size=batch_rows)
    calls_ns: list[int] = []
    # Logged faster than any store takes them, rows beyond the queue's bound (1,000,000 by
    # default) would be dropped: the bound grows with --sdk-rows, so that every row is counted.
    monitor = cairn.monitor(MODEL, 1, uri=url, max_queued_rows=max(rows, 1_000_000))
    try:
        started = time.perf_counter()
        for i in range(rows // batch_rows):
            before = time.perf_counter_ns()
            monitor.log(frames[i % len(frames)], predictions)
            calls_ns.append(time.perf_counter_ns() - before)
        logged = time.perf_counter() - started
        flushed = monitor.flush(timeout=600)
        seconds = time.perf_counter() - started
        if not flushed or monitor.rows_sent != rows or monitor.rows_dropped:
            raise RuntimeError(f"sent {monitor.rows_sent} of {rows}, dropped {monitor.rows_dropped}")
        files = len(monitor.files)
    finally:
        monitor.close()
    calls_ms = np.array(calls_ns) / 1e6
    return {
        "rows": rows,
        "batch_rows": batch_rows,
        "features": FEATURES,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds),
        "log_calls_seconds": round(logged, 3),
        "log_call_ms": {
            "median": round(float(np.median(calls_ms)), 3),
            "p99": round(float(np.percentile(calls_ms, 99)), 3),
            "max": round(float(calls_ms.max()), 3),
        },
        "files": files,
    }


def file_upload(url: str, workdir: Path, rows: int) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    generator = np.random.default_rng(2)
    now_ms = time.time_ns() // 1_000_000
    table = pa.table(
        {
            **{name: generator.normal(size=rows) for name in columns(FEATURES)},
            "prediction": generator.integers(0, 2, size=rows),
            "timestamp_ms": np.sort(generator.integers(now_ms - 6 * 3_600_000, now_ms, size=rows)),
            "request_id": [f"r{i}" for i in range(rows)],
        }
    )
    path = workdir / "predictions.parquet"
    pq.write_table(table, path)
    in_process = _upload_in_process(url, path)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "cairn", "monitor", "upload", MODEL, "1", str(path), "--uri", url, "--json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"cairn monitor upload failed:\n{completed.stderr[-3000:]}")
    summary = json.loads(completed.stdout)
    if summary["rows"] != rows:
        raise RuntimeError(f"uploaded {summary['rows']} of {rows} rows")
    return {
        "cli_seconds": round(seconds, 3),
        "cli_rows_per_s": round(rows / seconds),
        "in_process_seconds": round(in_process, 3),
        "in_process_rows_per_s": round(rows / in_process),
        "rows": rows,
        "features": FEATURES,
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "files": summary["files"],
        "partitions": len(summary["partitions"]),
        "mismatched_rows": summary["mismatched_rows"],
    }


def _upload_in_process(url: str, path: Path) -> float:
    """The same upload without the interpreter's start: read, convert, encode and send (what
    the command does after its imports), timed in this process."""
    import pyarrow.parquet as pq

    from cairn.client.connect import connect
    from cairn.client.monitor import prediction_batch, upload_batch

    tracking = connect(url)
    try:
        started = time.perf_counter()
        table = pq.read_table(path)
        inputs = table.drop_columns(["prediction", "timestamp_ms", "request_id"])
        batch = prediction_batch(
            inputs, table.select(["prediction"]), table.column("timestamp_ms"), table.column("request_id"), 1
        )
        upload_batch(tracking, MODEL, batch, 1)
        return time.perf_counter() - started
    finally:
        tracking.close()


def stored_rows(url: str) -> int:
    from cairn.client.connect import connect

    tracking = connect(url)
    try:
        total, token = 0, None
        while True:
            page = tracking.list_prediction_logs(MODEL, page_token=token)
            total += sum(f.rows for f in page.items)
            token = page.next_page_token
            if token is None:
                return total
    finally:
        tracking.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sdk-rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--file-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cairn-bench-ingest-") as folder:
        workdir = Path(folder)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_cairn_server(sys.executable, workdir, port, workers=2)
        try:
            wait_until_ready(server, f"{url}/health")
            os.environ.pop("CAIRN_URI", None)
            print("registering the model", file=sys.stderr)
            register(url)
            print(f"SDK: {args.sdk_rows:,} rows", file=sys.stderr)
            sdk = sdk_ingest(url, args.sdk_rows, args.batch_rows)
            print(f"file: {args.file_rows:,} rows", file=sys.stderr)
            upload = file_upload(url, workdir, args.file_rows)
            stored = stored_rows(url)
            if stored != args.sdk_rows - args.sdk_rows % args.batch_rows + 2 * args.file_rows:
                raise RuntimeError(f"the server lists {stored} rows")
        finally:
            stop_tree(server)
    result = {
        "sdk": sdk,
        "file_upload": upload,
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "met": sdk["rows_per_s"] >= TARGET_ROWS_PER_S and upload["cli_rows_per_s"] >= TARGET_ROWS_PER_S,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
