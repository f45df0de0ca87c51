"""Autologging a Keras 3 fit on the PyTorch backend (a small dense network, 306 batches):
Cairn against MLflow.

``python bench/autolog_keras.py`` runs every mode through bench/_autolog.py and prints the
table, then the per-batch figures; ``python bench/autolog_keras.py MODE`` is one workload
process:

- ``off``: the fit unlogged;
- ``cairn`` / ``cairn-away``: ``cairn.keras.autolog()`` (the server up / nothing listening):
  params, epoch metrics, the model;
- ``cairn-every-batch``: the same with ``log_every_n_batches=1``, the per-batch worst case;
- ``mlflow``: ``mlflow.keras.autolog()`` against MLflow's server (epoch metrics, the model);
- ``mlflow-every-batch``: ``mlflow.keras.autolog(log_every_epoch=False, log_every_n_steps=1)``
  (MLflow logs either per epoch or every n steps, not both).

The workload: sklearn's digits (1,797 rows of 64 pixels), 10% held out for validation,
``Dense(32, relu) -> Dense(10)`` with Adam, batch size 16, 3 epochs: 102 batches an epoch, 306
in all, on one CPU thread. Only the ``fit`` is timed. ``batch_hook_us`` is the mean time the
logging callback's per-batch hook took (Cairn's ``CairnCallback.on_train_batch_end``,
MLflow's ``MlflowCallback.on_batch_end``), measured inside the process, so the machine's load
affects it far less than the fit's total; ``log_model_s`` is the share of the fit Cairn spent
packaging and storing the model.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _autolog

MODES = ("off", "cairn", "cairn-every-batch", "cairn-away", "mlflow", "mlflow-every-batch")
EPOCHS = 3
BATCH_SIZE = 16
VALIDATION_SPLIT = 0.1


def workload(mode: str) -> dict[str, float]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import torch
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    started = time.perf_counter()
    timers = _switch_on(mode)
    autolog_s = time.perf_counter() - started

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    started = time.perf_counter()
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH_SIZE, validation_split=VALIDATION_SPLIT, verbose=0)
    train_s = time.perf_counter() - started
    batches = EPOCHS * math.ceil(len(x) * (1 - VALIDATION_SPLIT) / BATCH_SIZE)
    result = {"train_s": round(train_s, 4), "autolog_s": round(autolog_s, 3), "batches": batches}
    for name, spent in timers.items():
        if name == "batch_hook" and spent:
            result["batch_hook_us"] = round(sum(spent) / len(spent) * 1e6, 2)
        elif spent:
            result[f"{name}_s"] = round(sum(spent), 4)
    return result


def _switch_on(mode: str) -> dict[str, list[float]]:
    """Turn the mode's autologging on; lists the time of each timed call lands in."""
    timers: dict[str, list[float]] = {"batch_hook": [], "log_model": []}
    if mode == "off":
        return timers
    if mode.startswith("mlflow"):
        import mlflow
        from mlflow.keras.callback import MlflowCallback

        mlflow.set_experiment("bench-autolog-keras")
        if mode == "mlflow-every-batch":
            mlflow.keras.autolog(log_every_epoch=False, log_every_n_steps=1)
        else:
            mlflow.keras.autolog()
        timers["batch_hook"] = _autolog.time_calls(MlflowCallback, "on_batch_end")
        return timers
    import cairn.keras
    from cairn.client.run import Run
    from cairn.integrations.keras import CairnCallback

    cairn.keras.autolog(log_every_n_batches=1 if mode == "cairn-every-batch" else None)
    timers["batch_hook"] = _autolog.time_calls(CairnCallback, "on_train_batch_end")
    timers["log_model"] = _autolog.time_calls(Run, "log_model")
    return timers


def per_batch(summary: dict[str, dict[str, Any]]) -> None:
    """The fit's overhead against ``off`` spread over its batches, the hook's own time, and
    Cairn's against MLflow's."""
    base = float(summary["off"]["train_s"])
    print("\nper batch: (fit - off) / batches, and the logging hook's own mean time")
    hooks: dict[str, float] = {}
    for mode, row in summary.items():
        runs = row["runs"]
        batches = int(runs[0]["batches"])
        overhead_ms = (float(row["train_s"]) - base) / batches * 1e3
        hook = sorted(float(run.get("batch_hook_us", 0.0)) for run in runs)[len(runs) // 2]
        hooks[mode] = hook
        row["per_batch_overhead_ms"] = round(overhead_ms, 3)
        row["batch_hook_us"] = hook
        print(f"  {mode:<20} {overhead_ms:+8.3f} ms/batch   hook {hook:8.1f} µs")
    for cairn_mode, mlflow_mode in (("cairn", "mlflow"), ("cairn-every-batch", "mlflow-every-batch")):
        if hooks.get(cairn_mode) and hooks.get(mlflow_mode):
            print(f"  hook, {mlflow_mode} / {cairn_mode}: {hooks[mlflow_mode] / hooks[cairn_mode]:.1f}x")


if __name__ == "__main__":
    if results := _autolog.main(__file__, MODES, workload):
        per_batch(results)
        (_autolog.RESULTS / "autolog_keras.json").write_text(json.dumps(results, indent=2))
