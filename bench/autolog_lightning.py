"""Logging a PyTorch Lightning training loop every step: Cairn against MLflow.

``python bench/autolog_lightning.py`` runs every mode through bench/_autolog.py and prints the
table; ``python bench/autolog_lightning.py MODE`` is one workload process. The workload: a
small MLP (16 → 32 → 4) on 40,000 synthetic rows in batches of 32, one epoch of 1,250 steps
on the CPU (one torch thread), ``self.log("train_loss", ...)`` every step and
``log_every_n_steps=1``, so every step reaches the logger; Lightning's default checkpoint at
the end of the epoch. Modes:

- ``off``: ``Trainer(logger=False)``, the baseline;
- ``noop-logger``: a Lightning ``Logger`` that does nothing: what any logger costs in
  Lightning itself (its logger connector gathers and converts the step's metrics for it);
- ``cairn`` / ``cairn-away``: ``cairn.lightning.autolog()`` (the server up / nothing
  listening), which adds a CairnLogger: every step's metrics, the checkpoint, the model;
- ``mlflow``: ``mlflow.pytorch.autolog(log_every_n_step=1)`` against MLflow's server;
- ``mlflow-logger``: Lightning's own ``MLFlowLogger`` against the same server (metrics and
  params; ``log_model=False``, its default).

``train_s`` is the whole ``trainer.fit`` (model and checkpoint logging at its end included);
``loop_s`` the 1,250 steps alone (from the first batch to the last), the figure the per-step
overhead is read from; ``autolog_s`` the ``autolog()`` call itself.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _autolog

MODES = ("off", "noop-logger", "cairn", "cairn-away", "mlflow", "mlflow-logger")
STEPS = 1_250
BATCH = 32


def workload(mode: str) -> dict[str, float]:
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(1)
    torch.manual_seed(0)
    X = torch.randn(STEPS * BATCH, 16)
    y = (X[:, :4].argmax(dim=1)).long()
    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH, shuffle=False)

    class Net(pl.LightningModule):
        def __init__(self, hidden: int = 32, lr: float = 0.01) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(16, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 4))
            self.example_input_array = torch.zeros(1, 16)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, target = batch
            loss = torch.nn.functional.cross_entropy(self(x), target)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    class LoopTimer(pl.Callback):
        def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx == 0:
                self.started = time.perf_counter()

        def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            self.ended = time.perf_counter()

    started = time.perf_counter()
    logger, in_logger = _switch_on(mode)
    autolog_s = time.perf_counter() - started
    timer = LoopTimer()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            accelerator="cpu",
            max_epochs=1,
            log_every_n_steps=1,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=root,
            logger=logger,
            callbacks=[timer],
        )
        started = time.perf_counter()
        trainer.fit(Net(), loader)
        train_s = time.perf_counter() - started
    assert trainer.global_step == STEPS
    loop_s = timer.ended - timer.started
    result = {
        "train_s": round(train_s, 4),
        "loop_s": round(loop_s, 4),
        "step_ms": round(loop_s / STEPS * 1000, 4),
        "autolog_s": round(autolog_s, 3),
    }
    if in_logger:
        result["log_metrics_calls"] = len(in_logger)
        result["log_metrics_s"] = round(sum(in_logger), 4)
    return result


def _switch_on(mode: str) -> tuple[Any, list[float]]:
    """Turn the mode's logging on; the ``logger`` argument its Trainer gets, and a list the
    time of each ``log_metrics`` call of the mode's logger lands in (Cairn's and MLflow's)."""
    spent: list[float] = []
    if mode == "off":
        return False, spent
    if mode == "noop-logger":
        from lightning.pytorch.loggers.logger import Logger

        class NoopLogger(Logger):
            name = "noop"
            version = "0"

            def log_metrics(self, metrics: Any, step: Any = None) -> None:
                pass

            def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
                pass

        return NoopLogger(), spent
    if mode == "mlflow":
        import mlflow

        mlflow.set_experiment("bench-autolog-lightning")
        mlflow.pytorch.autolog(log_every_n_step=1)
        return False, spent
    if mode == "mlflow-logger":
        from lightning.pytorch.loggers import MLFlowLogger

        uri = os.environ["MLFLOW_TRACKING_URI"]
        logger = MLFlowLogger(experiment_name="bench-autolog-lightning", tracking_uri=uri)
        return logger, _autolog.time_calls(MLFlowLogger, "log_metrics")
    import cairn.lightning

    cairn.lightning.autolog()
    return False, _autolog.time_calls(cairn.lightning.logger_class("lightning.pytorch"), "log_metrics")


if __name__ == "__main__":
    if summary := _autolog.main(__file__, MODES, workload):
        base = float(summary["off"]["runs"][0]["loop_s"])  # type: ignore[index]
        print("\nper-step loop time, median of the rounds:")
        for mode, row in summary.items():
            loops = sorted(float(run["loop_s"]) for run in row["runs"])  # type: ignore[attr-defined]
            median = loops[len(loops) // 2]
            if mode == "off":
                base = median
            print(f"  {mode:<16} {median / STEPS * 1000:8.3f} ms/step   {(median / base - 1) * 100:+6.1f}%")
