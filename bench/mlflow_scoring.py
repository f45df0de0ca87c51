"""MLflow's side of the serving and batch-scoring benchmarks, run in MLflow's venv.

    bench/.venv-mlflow/bin/python bench/mlflow_scoring.py register --workdir DIR --features 30 --name scorer
    bench/.venv-mlflow/bin/python bench/mlflow_scoring.py score --workdir DIR --model-uri models:/scorer/1 \\
        -i in.parquet -o out.parquet

`register` trains the benchmark's pipeline (_scoring_model.py), logs it as an MLflow user does,
`mlflow.sklearn.log_model(model, name="model", input_example=X[:5], registered_model_name=NAME)`,
into a SQLite tracking store in DIR (`sqlite:///DIR/mlflow.db`, artifacts under DIR), and prints
the version and the model's own predictions on the rows the benchmark sends, to check the server's
answers against.

`score` is the batch loop an MLflow user writes without Spark: `mlflow.pyfunc.load_model(URI)`,
then the Parquet input read `--batch-rows` rows at a time (pyarrow's `iter_batches`, to pandas),
`model.predict(frame)` on each chunk, and the chunk with a `prediction` column appended to one
Parquet output (`pyarrow.parquet.ParquetWriter`): the same output `cairn predict` writes.
`mlflow models predict` would be the CLI's equivalent, but it takes CSV or JSON only and reads the
whole input into memory, so it could not take a 10-million-row Parquet file at all.

Each prints one JSON object on stdout; progress and MLflow's warnings go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scoring_model import describe, train

try:
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
except ImportError:
    sys.exit("mlflow is not importable: run bench/setup_mlflow.sh, then run this with bench/.venv-mlflow/bin/python")


def log(message: str) -> None:
    print(f"[mlflow_scoring] {message}", file=sys.stderr, flush=True)


def use_store(workdir: Path) -> str:
    """The SQLite tracking and registry store in `workdir`, artifacts beside it (MLflow puts a
    new experiment's artifacts under the working directory's mlruns/ by default)."""
    os.chdir(workdir)
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    return uri


def register(args: argparse.Namespace) -> dict[str, Any]:
    tracking_uri = use_store(args.workdir)
    model, frame = train(args.features)
    probe = frame.head(args.probe_rows)
    started = time.perf_counter()
    with mlflow.start_run(run_name="bench-scoring"):
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=frame.head(5), registered_model_name=args.name
        )
    seconds = time.perf_counter() - started
    return {
        "tool": "mlflow",
        "version": mlflow.__version__,
        "model": describe(args.features),
        "tracking_uri": tracking_uri,
        "model_uri": f"models:/{args.name}/{info.registered_model_version}",
        "log_and_register_s": round(seconds, 2),
        "probe_predictions": [int(value) for value in model.predict(probe)],
    }


def score(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    use_store(args.workdir)
    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(args.model_uri)
    loaded_s = time.perf_counter() - started
    started = time.perf_counter()
    source = pq.ParquetFile(args.input)
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        for batch in source.iter_batches(batch_size=args.batch_rows):
            frame = batch.to_pandas()
            frame["prediction"] = model.predict(frame)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(args.output, table.schema)
            writer.write_table(table)
            rows += len(frame)
    finally:
        if writer is not None:
            writer.close()
    seconds = time.perf_counter() - started
    return {
        "tool": "mlflow",
        "version": mlflow.__version__,
        "rows": rows,
        "load_model_s": round(loaded_s, 2),
        "seconds": round(seconds, 2),  # the loop: read, predict, write; the load is apart
        "batch_rows": args.batch_rows,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    registering = commands.add_parser("register", help="train, log and register the model")
    registering.add_argument("--workdir", type=Path, required=True)
    registering.add_argument("--features", type=int, required=True)
    registering.add_argument("--name", required=True)
    registering.add_argument("--probe-rows", type=int, default=1, help="training rows to report predictions of")
    scoring = commands.add_parser("score", help="the pyfunc batch loop over a Parquet file")
    scoring.add_argument("--workdir", type=Path, required=True)
    scoring.add_argument("--model-uri", required=True)
    scoring.add_argument("-i", "--input", required=True)
    scoring.add_argument("-o", "--output", required=True)
    scoring.add_argument("--batch-rows", type=int, default=50_000)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    warnings.simplefilter("ignore")  # MLflow's deprecation and version notes: not results
    results = register(args) if args.command == "register" else score(args)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
