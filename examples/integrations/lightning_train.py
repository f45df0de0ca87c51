"""Train a small classifier on the iris data with PyTorch Lightning, Cairn logging it.

    python examples/integrations/lightning_train.py

One run (in the project CAIRN_PROJECT names, else "integrations", this folder's name; in the
embedded store under CAIRN_HOME, or at CAIRN_URI): the hyperparameters, train and validation
loss and accuracy at every step, each checkpoint with the best one tagged, the trained model
at runs:/RUN/model, and the tensors of the two loaders as the run's datasets "train" and
"eval". Takes a few seconds on a CPU.
"""

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cairn.lightning import CairnLogger


class IrisClassifier(pl.LightningModule):
    def __init__(self, hidden: int = 16, lr: float = 0.02):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3))
        self.example_input_array = torch.zeros(1, 4)

    def forward(self, x):
        return self.net(x)

    def step(self, batch, stage):
        x, y = batch
        logits = self(x)
        loss = nn.functional.cross_entropy(logits, y)
        self.log(f"{stage}_loss", loss)
        self.log(f"{stage}_acc", (logits.argmax(dim=1) == y).float().mean())
        return loss

    def training_step(self, batch, batch_idx):
        return self.step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self.step(batch, "val")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def loader(X, y, shuffle=False):
    data = TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    return DataLoader(data, batch_size=16, shuffle=shuffle)


if __name__ == "__main__":
    torch.manual_seed(0)
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)

    trainer = pl.Trainer(
        max_epochs=15,
        log_every_n_steps=1,
        callbacks=[ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=2)],
        logger=CairnLogger(),  # the one added line
        enable_progress_bar=False,
    )
    trainer.fit(IrisClassifier(), loader(X_train, y_train, shuffle=True), loader(X_val, y_val))
    print(f"run {trainer.logger.version}: val_loss {trainer.callback_metrics['val_loss']:.3f}")
