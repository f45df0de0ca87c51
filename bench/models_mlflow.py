"""The MLflow half of the model benchmark: log, register and load the same scikit-learn model
through MLflow's server.

Run with the MLflow venv's interpreter (made by bench/setup_mlflow.sh):

    bench/.venv-mlflow/bin/python bench/models_mlflow.py > models-mlflow.json

It starts `mlflow server --backend-store-uri sqlite:///TMP/mlflow.db --serve-artifacts
--artifacts-destination TMP/artifacts` on 127.0.0.1 (MLflow's default workers), so every
artifact goes through the server over HTTP, as Cairn's do. Each cycle opens a run
(`mlflow.start_run()`, untimed) and times, each on its own, with MLflow's defaults:

- `mlflow.sklearn.log_model(model, name="model", input_example=X[:5])`: the model (pickled
  with cloudpickle), its signature inferred from the example, its pip requirements inferred;
- `mlflow.register_model(info.model_uri, "iris")`;
- `mlflow.pyfunc.load_model("models:/iris/N")`: the folder downloaded, the model unpickled,
  wrapped for `predict` with signature enforcement (what `cairn.load_model` returns); its
  `predict` on the example is checked afterwards, untimed. `mlflow.sklearn.load_model` of the
  same URI is timed too (`sklearn_load_model`, not in the table).

One warm-up cycle, then `--repeats` cycles; medians in ms. One JSON object goes to stdout,
progress to stderr. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bigfile import machine
from _models import MODELS, describe, first_cycle, stopwatch, time_cycles, train
from _procs import LOOPBACK, free_port, start_mlflow_server, stop_tree, wait_until_ready

try:
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
except ImportError:
    sys.exit("mlflow is not importable: run bench/setup_mlflow.sh, then run this with bench/.venv-mlflow/bin/python")

MODEL_NAME = "iris"


def log(message: str) -> None:
    print(f"[models_mlflow] {message}", file=sys.stderr, flush=True)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    model, features = train(args.model)
    example = features.head(5)
    results: dict[str, Any] = {"tool": "mlflow", "version": mlflow.__version__, "model": describe(args.model)}
    sklearn_loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cairn-bench-models-mlflow-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        log("starting mlflow server --serve-artifacts")
        server = start_mlflow_server(str(Path(sys.executable).parent / "mlflow"), workdir, port)
        try:
            url = f"http://{LOOPBACK}:{port}"
            results["start_s"] = round(wait_until_ready(server, f"{url}/health"), 3)
            mlflow.set_tracking_uri(url)
            experiment_id = mlflow.create_experiment("cairn-bench-models")

            def cycle(number: int) -> dict[str, float]:
                with mlflow.start_run(experiment_id=experiment_id, run_name=f"models-{number}"):
                    elapsed = stopwatch()
                    info = mlflow.sklearn.log_model(model, name="model", input_example=example)
                    logged = elapsed()
                elapsed = stopwatch()
                version = mlflow.register_model(info.model_uri, MODEL_NAME)
                registered = elapsed()
                uri = f"models:/{MODEL_NAME}/{version.version}"
                elapsed = stopwatch()
                loaded = mlflow.pyfunc.load_model(uri)
                load_s = elapsed()
                elapsed = stopwatch()
                mlflow.sklearn.load_model(uri)
                if number:
                    sklearn_loads.append(elapsed() * 1000)
                if list(loaded.predict(example)) != list(model.predict(example)):
                    raise RuntimeError(f"version {version.version} predicts differently from the model logged")
                return {"log_model": logged, "register_model": registered, "load_model": load_s}

            results["first_cycle_ms"] = first_cycle(cycle)
            results["calls_ms"] = time_cycles(cycle, args.repeats, "models_mlflow")
            results["sklearn_load_model_ms"] = {
                "value": round(statistics.median(sklearn_loads), 1),
                "all_ms": [round(m, 1) for m in sklearn_loads],
            }
        finally:
            log("stopping the server tree")
            stop_tree(server)
    results["calls"] = {
        "log_model": "mlflow.sklearn.log_model(model, name='model', input_example=X[:5]) in mlflow.start_run()",
        "register_model": f"mlflow.register_model(info.model_uri, {MODEL_NAME!r})",
        "load_model": f"mlflow.pyfunc.load_model('models:/{MODEL_NAME}/N')",
    }
    results["server"] = {
        "argv": ["mlflow", *(arg.replace(str(workdir), "TMP") for arg in server.process.args[1:])],
        "workers": "MLflow's default: uvicorn --workers 4, plus job runner huey consumers",
        "backend": "sqlite + proxied artifacts (--serve-artifacts --artifacts-destination DIR)",
    }
    results["machine"] = machine(load_before)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=MODELS, default="logreg", help="the model logged (default: logreg)")
    parser.add_argument("--repeats", type=int, default=7, help="timed cycles after one warm-up (default 7)")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Turn SIGTERM into SystemExit so the finally blocks stop the server and remove the temp dir.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    # MLflow prints "View run at ..." lines to stdout; stdout is reserved for the JSON.
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = measure(args)
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    log(f"done in {results['bench_wall_s']} s")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
