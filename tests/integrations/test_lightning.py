"""PyTorch Lightning: a real LightningModule trained on iris on the CPU, with CairnLogger and
with autologging, read back from the embedded store."""

from __future__ import annotations

import argparse
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lightning", reason="PyTorch Lightning is not installed (pip install 'cairn[lightning]')")

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from sklearn.datasets import load_iris
from tests.integrations.logged import datasets, only_run, runs, steps
from torch.utils.data import DataLoader, Dataset, TensorDataset

import cairn
import cairn.lightning
from cairn.integrations._base import Guard
from cairn.lightning import CairnLogger
from cairn.settings import cairn_home

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*does not have many workers:UserWarning"),
    pytest.mark.filterwarnings("ignore:The number of training batches:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning"),
]
PROJECT = "iris"
BATCHES_PER_EPOCH = 3  # 150 rows in batches of 50
EPOCHS = 2


class IrisClassifier(pl.LightningModule):
    def __init__(self, lr: float = 0.05, hidden: int = 8, optimizer: dict | None = None, fail_at: int = -1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 3))
        self.example_input_array = torch.zeros(2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if self.global_step == self.hparams.fail_at:
            raise RuntimeError("the training step broke")
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


@pytest.fixture(autouse=True)
def quiet_and_single_threaded() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    Guard._guards.pop("lightning", None)  # each test sees its own first warning
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        cairn.lightning.autolog(disable=True)


def iris_loader() -> DataLoader:
    X, y = load_iris(return_X_y=True)
    data = TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    return DataLoader(data, batch_size=50, shuffle=False)


def trainer(tmp_path: Path, logger: object = None, **options: object) -> pl.Trainer:
    torch.manual_seed(0)
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="val_loss", mode="min", save_top_k=1)
    return pl.Trainer(
        accelerator="cpu",
        max_epochs=EPOCHS,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[checkpoints],
        logger=logger,
        **options,
    )


def fit(trainer: pl.Trainer, model: pl.LightningModule) -> None:
    trainer.fit(model, iris_loader(), iris_loader())


def test_the_logger_logs_params_metrics_at_the_global_step_checkpoints_and_the_model(tmp_path: Path) -> None:
    model = IrisClassifier(lr=0.02, optimizer={"name": "sgd", "momentum": {"beta": 0.9}})
    logger = CairnLogger(project=PROJECT, name="first")
    fit(trainer(tmp_path, logger), model)

    run = only_run(PROJECT)
    assert run.name == "first" and run.status.value == "finished"
    assert run.tags["cairn.autolog"] == "lightning"
    assert dict(run.params) == {
        "lr": 0.02,
        "hidden": 8,
        "optimizer.name": "sgd",
        "optimizer.momentum.beta": 0.9,
        "fail_at": -1,
    }
    assert set(run.metrics) == {"train_loss", "val_loss", "epoch", "best_model_score"}
    total = BATCHES_PER_EPOCH * EPOCHS
    assert steps(run.id, "train_loss") == list(range(total))  # Lightning's global step, every step
    assert steps(run.id, "val_loss") == [BATCHES_PER_EPOCH - 1, total - 1]  # at the end of each epoch
    assert (logger.name, logger.version) == (PROJECT, run.id)
    # The TensorDatasets the train and validation dataloaders read: (features, labels).
    assert datasets(run.id) == {("train", "train", "array", 150), ("eval", "eval", "array", 150)}
    with cairn.Api() as api:
        named = {i.dataset.name: [array["name"] for array in i.dataset.schema] for i in api.inputs(run.id)}
    assert named == {"train": ["x", "y"], "eval": ["x", "y"]}

    with cairn.Api() as api:
        paths = {artifact.path for artifact in api.artifacts(run.id)}
    checkpoints = {path for path in paths if path.startswith("checkpoints/")}
    # save_top_k=1: Lightning deleted the first epoch's file, the run kept its copy.
    assert checkpoints == {"checkpoints/epoch=0-step=3.ckpt", "checkpoints/epoch=1-step=6.ckpt"}
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["epoch=1-step=6.ckpt"]
    best = run.tags["best_model_path"]
    assert best in checkpoints and run.tags["best_model_monitor"] == "val_loss"
    assert float(run.tags["best_model_score"]) == pytest.approx(run.metrics["val_loss"].min)
    assert run.metrics["best_model_score"].last == pytest.approx(float(run.tags["best_model_score"]))

    loaded = cairn.load_model(f"runs:/{run.id}/model")
    assert loaded.flavor == "pytorch"
    X = load_iris(return_X_y=True)[0][:10].astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(X)).numpy()
    assert np.allclose(loaded.predict(X), expected, atol=1e-6)
    assert loaded.signature is not None and loaded.signature.inputs.shape == (-1, 4)
    assert not [p for p in (cairn_home() / "staging").iterdir() if not p.name.startswith(".")]


def test_a_checkpoint_logged_is_the_file_as_lightning_saved_it(tmp_path: Path) -> None:
    fit(trainer(tmp_path, CairnLogger(project=PROJECT)), IrisClassifier())
    run = only_run(PROJECT)
    kept = tmp_path / "ckpt" / "epoch=1-step=6.ckpt"
    with cairn.Api() as api:
        assert api.read_artifact(run.id, "checkpoints/epoch=1-step=6.ckpt") == kept.read_bytes()


def test_an_open_run_is_used_and_left_open_and_namespaces_are_flattened(tmp_path: Path) -> None:
    with cairn.init("mine", config={"dataset": "iris"}) as run:
        logger = CairnLogger()
        fit(trainer(tmp_path, logger), IrisClassifier())
        logger.log_hyperparams(argparse.Namespace(data=argparse.Namespace(rows=150), seed=1))
        assert not run.finished and logger.experiment is run
    assert runs(PROJECT) == []
    mine = only_run("mine")
    assert mine.status.value == "finished"
    assert mine.params["dataset"] == "iris" and mine.params["lr"] == 0.05
    assert mine.params["data.rows"] == 150 and mine.params["seed"] == 1
    assert steps(mine.id, "train_loss") == list(range(BATCHES_PER_EPOCH * EPOCHS))


def test_a_run_handed_to_the_logger_is_logged_into_and_left_open(tmp_path: Path) -> None:
    run = cairn.init("handed")
    fit(trainer(tmp_path, CairnLogger(run=run, log_model=False, log_checkpoints=False)), IrisClassifier())
    assert not run.finished
    run.finish()
    record = only_run("handed")
    assert {"train_loss", "val_loss"} <= set(record.metrics)
    with cairn.Api() as api:
        assert [artifact.path for artifact in api.artifacts(record.id)] == []


def test_training_that_raises_fails_the_run(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="the training step broke"):
        fit(trainer(tmp_path, CairnLogger(project=PROJECT)), IrisClassifier(fail_at=4))
    run = only_run(PROJECT)
    assert run.status.value == "failed"
    assert steps(run.id, "train_loss") == list(range(4))
    with cairn.Api() as api:
        paths = {artifact.path for artifact in api.artifacts(run.id)}
    assert "checkpoints/epoch=0-step=3.ckpt" in paths
    assert not any(path.startswith("model/") for path in paths)
    assert datasets(run.id) == set()  # nor the data of a fit that failed


def test_autolog_gives_every_trainer_one_logger_and_each_fit_its_run(tmp_path: Path) -> None:
    cairn.lightning.autolog(project=PROJECT)
    patched = pl.Trainer.__init__
    assert getattr(patched, "cairn_autolog", False)
    first = trainer(tmp_path, logger=False)
    assert [type(logger).__name__ for logger in first.loggers] == ["CairnLogger"]
    fit(first, IrisClassifier())
    fit(trainer(tmp_path / "second", logger=CairnLogger(project=PROJECT, name="mine")), IrisClassifier(hidden=4))
    assert len(trainer(tmp_path, logger=CairnLogger()).loggers) == 1  # it had one already

    found = sorted(runs(PROJECT), key=lambda run: run.params["hidden"])
    assert [run.params["hidden"] for run in found] == [4, 8]
    assert found[0].name == "mine"
    assert all(run.status.value == "finished" for run in found)
    assert all(datasets(run.id) == {("train", "train", "array", 150), ("eval", "eval", "array", 150)} for run in found)
    assert all(
        cairn.load_model(f"runs:/{run.id}/model").predict(np.zeros((1, 4), np.float32)).shape == (1, 3) for run in found
    )

    cairn.lightning.autolog(disable=True)
    assert not getattr(pl.Trainer.__init__, "cairn_autolog", False)
    assert trainer(tmp_path, logger=False).loggers == []


def test_autolog_keeps_the_default_logger_and_logs_beside_it(tmp_path: Path) -> None:
    cairn.lightning.autolog(project=PROJECT, log_models=False)
    made = trainer(tmp_path, logger=None)
    assert [type(logger).__name__ for logger in made.loggers][-1] == "CairnLogger"
    assert len(made.loggers) == 2  # Lightning's own default first
    fit(made, IrisClassifier())
    run = only_run(PROJECT)
    with cairn.Api() as api:
        assert not any(artifact.path.startswith("model/") for artifact in api.artifacts(run.id))


class IrisRows(Dataset):
    """A map-style dataset of its own kind: read row by row, not logged."""

    def __init__(self) -> None:
        X, y = load_iris(return_X_y=True)
        self.X, self.y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[index], self.y[index]


def test_a_dataset_other_than_tensors_is_trained_on_and_not_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = trainer(tmp_path, CairnLogger(project=PROJECT))
    made.fit(IrisClassifier(), DataLoader(IrisRows(), batch_size=50), iris_loader())
    run = only_run(PROJECT)
    assert run.status.value == "finished" and steps(run.id, "train_loss") == list(range(BATCHES_PER_EPOCH * EPOCHS))
    assert datasets(run.id) == {("eval", "eval", "array", 150)}  # the validation data is tensors
    assert "logging failed" not in capsys.readouterr().err


class IrisData(pl.LightningDataModule):
    def train_dataloader(self) -> DataLoader:
        return iris_loader()

    def val_dataloader(self) -> DataLoader:
        return DataLoader(iris_loader().dataset, batch_size=100)


def test_a_datamodules_dataloaders_are_logged_too(tmp_path: Path) -> None:
    cairn.lightning.autolog(project=PROJECT, log_models=False)
    trainer(tmp_path, logger=False).fit(IrisClassifier(), datamodule=IrisData())
    run = only_run(PROJECT)
    assert datasets(run.id) == {("train", "train", "array", 150), ("eval", "eval", "array", 150)}


def test_tensors_are_named_x_and_y_when_two_else_by_position() -> None:
    from cairn.integrations.lightning import _tensor_dataset_arrays

    rows = torch.zeros(6, 2)
    three = DataLoader(TensorDataset(rows, rows[:, 0], rows[:, 1]))
    assert list(_tensor_dataset_arrays(three, "train") or {}) == ["0", "1", "2"]
    assert list(_tensor_dataset_arrays([DataLoader(TensorDataset(rows, rows))], "eval") or {}) == ["x", "y"]
    assert _tensor_dataset_arrays(DataLoader(torch.utils.data.Subset(TensorDataset(rows), [0, 1])), "train") is None
    assert _tensor_dataset_arrays([three, three], "eval") is None  # several dataloaders
    assert _tensor_dataset_arrays(None, "eval") is None  # no validation


def test_log_datasets_false_leaves_the_data_out(tmp_path: Path) -> None:
    fit(trainer(tmp_path, CairnLogger(project=PROJECT, log_datasets=False)), IrisClassifier())
    cairn.lightning.autolog(project=PROJECT, log_datasets=False)
    fit(trainer(tmp_path / "autologged", logger=False), IrisClassifier())
    found = runs(PROJECT)
    assert len(found) == 2 and all(datasets(run.id) == set() for run in found)


def test_when_logging_fails_training_finishes_and_warns_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = cairn_home() / "staging"
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.write_text("not a folder: every checkpoint copy and the model fail")
    model = IrisClassifier()
    made = trainer(tmp_path, CairnLogger(project=PROJECT))
    fit(made, model)
    assert made.state.finished and made.global_step == BATCHES_PER_EPOCH * EPOCHS

    warnings = [line for line in capsys.readouterr().err.splitlines() if "lightning logging failed" in line]
    assert len(warnings) == 1
    run = only_run(PROJECT)
    assert run.status.value == "finished" and {"train_loss", "val_loss"} <= set(run.metrics)


def test_with_no_store_to_reach_training_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{port}")  # nothing listens there
    made = trainer(tmp_path, CairnLogger(project=PROJECT))
    fit(made, IrisClassifier())
    assert made.state.finished and made.global_step == BATCHES_PER_EPOCH * EPOCHS
    assert "starts offline" in capsys.readouterr().err


def test_cairn_autolog_switches_lightning_on_too(tmp_path: Path) -> None:
    import sklearn  # noqa: F401  # imported already: cairn.autolog switches it on as well

    switched = cairn.autolog(project=PROJECT, log_models=False)
    try:
        assert "lightning" in switched
        assert getattr(pl.Trainer.__init__, "cairn_autolog", False)
        fit(trainer(tmp_path, logger=False), IrisClassifier())
        assert only_run(PROJECT).tags["cairn.autolog"] == "lightning"
    finally:
        cairn.autolog(disable=True)
