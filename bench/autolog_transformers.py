"""Logging a Hugging Face Trainer (a tiny BERT, 200 steps, every step logged): Cairn against MLflow.

``python bench/autolog_transformers.py`` runs every mode through bench/_autolog.py and prints
the table; ``python bench/autolog_transformers.py MODE`` is one workload process:

- ``off``: the Trainer with ``report_to=[]``;
- ``cairn`` / ``cairn-away``: ``report_to="cairn"`` (``import cairn.transformers``), the
  server up / nothing listening; the trained model is logged at the end, as by default;
- ``mlflow``: ``report_to="mlflow"`` against MLflow's server (its callback logs params and
  metrics; the model only with ``HF_MLFLOW_LOG_ARTIFACTS``, which is left off as by default).

Only ``trainer.train()`` is timed (``train_s``). ``loop_s`` is the Trainer's own
``train_runtime``, its loop over the steps (every ``on_log`` inside it), and ``per_step_ms``
that over the steps; ``outside_loop_s`` is the rest of ``train()``: the run's start before the
loop, and after it the model and the run's end. ``log_model_s`` is the share Cairn spent
packaging and storing the model. ``python bench/autolog_transformers.py on-log`` times the
callback's ``on_log`` alone (what one logged step costs the training thread).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _autolog

MODES = ("off", "cairn", "cairn-away", "mlflow")
STEPS = 200
BATCH = 8


def workload(mode: str) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    log_model_s = _switch_on(mode)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    model = BertForSequenceClassification(config)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (STEPS * BATCH, 12), generator=generator)
    data = [{"input_ids": row.tolist(), "labels": int(row[1] > 50)} for row in ids]
    report_to = {"off": [], "mlflow": "mlflow"}.get(mode, "cairn")
    with tempfile.TemporaryDirectory() as output:
        args = TrainingArguments(
            output_dir=output,
            max_steps=STEPS,
            per_device_train_batch_size=BATCH,
            logging_steps=1,
            save_strategy="no",
            use_cpu=True,
            report_to=report_to,
            disable_tqdm=True,
            log_level="error",
            seed=0,
        )
        trainer = Trainer(model=model, args=args, train_dataset=data)
        started = time.perf_counter()
        output = trainer.train()
        train_s = time.perf_counter() - started
    loop_s = float(output.metrics["train_runtime"])
    result = {
        "train_s": round(train_s, 4),
        "loop_s": round(loop_s, 4),
        "per_step_ms": round(loop_s / STEPS * 1000, 3),
        "outside_loop_s": round(train_s - loop_s, 4),
    }
    if log_model_s is not None:
        result["log_model_s"] = round(sum(log_model_s), 4)
    return result


def _switch_on(mode: str) -> list[float] | None:
    """Make ``report_to`` of the mode work; for Cairn, a list the time of each logged model lands in."""
    if mode == "off":
        return None
    if mode == "mlflow":
        os.environ["MLFLOW_EXPERIMENT_NAME"] = "bench-autolog-transformers"
        return None
    import cairn.transformers  # noqa: F401  (registers report_to="cairn")
    from cairn.client.run import Run

    return _autolog.time_calls(Run, "log_model")


def on_log_cost(calls: int = 20_000) -> dict[str, float]:
    """What one logged step costs the training thread, alone: ``CairnCallback.on_log`` with
    the Trainer's four numbers, into a run of the embedded store in a temporary CAIRN_HOME."""
    os.environ["CAIRN_HOME"] = tempfile.mkdtemp(prefix="cairn-bench-on-log-")
    os.environ["CAIRN_CAPTURE"] = "0"
    os.environ.pop("CAIRN_URI", None)
    from transformers import TrainerState

    import cairn
    from cairn.transformers import CairnCallback

    callback, state = CairnCallback(), TrainerState()
    with cairn.init("bench-on-log") as run:
        callback._run = run
        started = time.perf_counter()
        for step in range(1, calls + 1):
            state.global_step = step
            logs = {"loss": 0.69 - step * 1e-6, "grad_norm": 0.2, "learning_rate": 5e-5, "epoch": step / 100}
            callback.on_log(None, state, None, logs=logs)
        spent = time.perf_counter() - started
        callback._run = None
    return {"on_log_us": round(spent / calls * 1e6, 2), "calls": calls}


if __name__ == "__main__":
    if sys.argv[1:] == ["on-log"]:
        print(json.dumps(on_log_cost()))
    elif summary := _autolog.main(__file__, MODES, workload):
        loops = {}
        for mode, row in summary.items():
            runs: list[dict[str, float]] = row["runs"]  # type: ignore[assignment]
            loops[mode] = statistics.median(run["loop_s"] for run in runs)
        print(f"\nthe Trainer's loop ({STEPS} steps, each logged), median: per step, and over off")
        for mode, loop in loops.items():
            print(f"  {mode:<16} {loop / STEPS * 1000:8.3f} ms   {(loop - loops['off']) / STEPS * 1000:+8.3f} ms")
