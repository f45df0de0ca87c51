"""Evidently's side of bench/drift.py, run by bench/.venv-evidently/bin/python (setup_evidently.sh).

    bench/.venv-evidently/bin/python bench/drift_evidently.py REFERENCE.parquet CURRENT.parquet \
        --numeric n0,n1,... --categorical c0,c1,... [--repeat 1]

Reads both Parquet files into pandas and wraps them in Evidently Datasets with the column kinds
given (not timed: a user has their frames already), then times ``Report([DataDriftPreset()])
.run(current, reference)`` alone, ``--repeat`` times. Evidently's defaults pick the same
methods as Cairn's (normalised Wasserstein and Jensen-Shannon over 1,000 reference rows), and
its verdicts are read back from the snapshot. Progress goes to stderr; one JSON object to stdout.
Needs only Evidently, pandas and pyarrow (nothing from Cairn).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from importlib.metadata import version
from typing import Any

_VALUE_DRIFT = re.compile(r"ValueDrift\(column=(?P<column>.+?),method=(?P<method>.+?),threshold=(?P<threshold>[^)]+)\)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("--numeric", required=True, help="comma-separated numeric columns")
    parser.add_argument("--categorical", default="", help="comma-separated categorical columns")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    numeric = [c for c in args.numeric.split(",") if c]
    categorical = [c for c in args.categorical.split(",") if c]
    started = time.perf_counter()
    reference_frame = pd.read_parquet(args.reference)
    current_frame = pd.read_parquet(args.current)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    reference = Dataset.from_pandas(reference_frame, data_definition=definition)
    current = Dataset.from_pandas(current_frame, data_definition=definition)
    print(f"evidently: read and wrapped in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    seconds: list[float] = []
    snapshot: Any = None
    for i in range(args.repeat):
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(current, reference)
        seconds.append(time.perf_counter() - started)
        print(f"evidently: Report.run {i + 1}/{args.repeat}: {seconds[-1]:.1f} s", file=sys.stderr)

    features: dict[str, Any] = {}
    share = None
    for metric in snapshot.dict()["metrics"]:
        name = metric["metric_name"]
        if name.startswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
        elif match := _VALUE_DRIFT.fullmatch(name):
            threshold = float(match["threshold"])
            value = float(metric["value"])
            method = match["method"]
            # Evidently's p-value tests drift below their threshold, its distances at or above.
            drifted = value < threshold if "p_value" in method or "test" in method.lower() else value >= threshold
            features[match["column"]] = {"method": method, "value": value, "threshold": threshold, "drifted": drifted}
    print(
        json.dumps(
            {
                "evidently": version("evidently"),
                "pandas": version("pandas"),
                "rows": len(current_frame),
                "reference_rows": len(reference_frame),
                "evaluate_s": round(statistics.median(seconds), 3),
                "evaluate_runs_s": [round(s, 3) for s in seconds],
                "drifted_share": share,
                "features": features,
            }
        )
    )


if __name__ == "__main__":
    main()
