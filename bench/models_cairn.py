"""The Cairn half of the model benchmark: log, register and load a small scikit-learn model
through Cairn's server.

    .venv/bin/python bench/models_cairn.py > models-cairn.json
    .venv/bin/python bench/models_cairn.py --model forest --repeats 9

It starts `python -m cairn server --store TMP/cairn.db --blobs TMP/blobs --workers 2` on
127.0.0.1 in a fresh temporary folder, as a user starts it, and the SDK talks to it over HTTP
(`uri=http://127.0.0.1:PORT`). Each cycle opens a run (`cairn.init(..., capture=False)`,
untimed) and times, each on its own:

- `run.log_model(model, input_example=X[:5])`: the model folder (manifest, skops or pickle
  file, input example), its signature inferred from the example, uploaded before it returns;
- `cairn.register_model(info.uri, "iris")`: the next version, with its lineage;
- `cairn.load_model("models:/iris/N")`: every file fetched and checked against the manifest,
  the model deserialized; its `predict` on the example is checked afterwards, untimed.

One warm-up cycle, then `--repeats` cycles; medians in ms. One JSON object goes to stdout,
progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cairn
from _bigfile import machine
from _models import MODELS, describe, first_cycle, stopwatch, time_cycles, train
from _procs import LOOPBACK, free_port, start_cairn_server, stop_tree, wait_until_ready

PROJECT = "cairn-bench-models"
MODEL_NAME = "iris"


def log(message: str) -> None:
    print(f"[models_cairn] {message}", file=sys.stderr, flush=True)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    model, features = train(args.model)
    example = features.head(5)
    results: dict[str, Any] = {"tool": "cairn", "version": cairn.__version__, "model": describe(args.model)}
    with tempfile.TemporaryDirectory(prefix="cairn-bench-models-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        log(f"starting cairn server --workers {args.workers}")
        server = start_cairn_server(sys.executable, workdir, port, args.workers)
        try:
            url = f"http://{LOOPBACK}:{port}"
            results["start_s"] = round(wait_until_ready(server, f"{url}/health"), 3)

            def cycle(number: int) -> dict[str, float]:
                run = cairn.init(PROJECT, name=f"models-{number}", uri=url, capture=False)
                try:
                    elapsed = stopwatch()
                    info = run.log_model(model, input_example=example)
                    logged = elapsed()
                finally:
                    run.finish()
                elapsed = stopwatch()
                version = cairn.register_model(info.uri, MODEL_NAME, uri=url)
                registered = elapsed()
                elapsed = stopwatch()
                loaded = cairn.load_model(f"models:/{MODEL_NAME}/{version.version}", uri=url)
                load_s = elapsed()
                if list(loaded.predict(example)) != list(model.predict(example)):
                    raise RuntimeError(f"version {version.version} predicts differently from the model logged")
                return {"log_model": logged, "register_model": registered, "load_model": load_s}

            results["first_cycle_ms"] = first_cycle(cycle)
            results["calls_ms"] = time_cycles(cycle, args.repeats, "models_cairn")
        finally:
            log("stopping the server tree")
            stop_tree(server)
    results["calls"] = {
        "log_model": "run.log_model(model, input_example=X[:5]) in cairn.init(project, uri=URL, capture=False)",
        "register_model": f"cairn.register_model(info.uri, {MODEL_NAME!r}, uri=URL)",
        "load_model": f"cairn.load_model('models:/{MODEL_NAME}/N', uri=URL)",
    }
    results["server"] = {
        "argv": ["cairn", "server", "--store", "TMP/cairn.db", "--blobs", "TMP/blobs", "--workers", str(args.workers)],
        "backend": "sqlite",
    }
    results["machine"] = machine(load_before)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=MODELS, default="logreg", help="the model logged (default: logreg)")
    parser.add_argument("--repeats", type=int, default=7, help="timed cycles after one warm-up (default 7)")
    parser.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Turn SIGTERM into SystemExit so the finally blocks stop the server and remove the temp dir.
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
