"""Log a small demo project: an SGD classifier on scikit-learn's digits, a few settings.

    python examples/sklearn_demo.py            # logs 4 runs into project "demo"
    python examples/sklearn_demo.py --skip-if-logged

Each epoch is one pass of ``partial_fit``; train loss and validation accuracy are logged per
epoch, the settings as params. Each run also keeps its model (``run.log_model``), a confusion
matrix of the validation set and a plot of its weights, and records the digits data it used as
a dataset. Each run's model is then registered as a version of the model ``digits-sgd``.
Where the runs go follows CAIRN_URI (the embedded store under CAIRN_HOME by default), exactly
as for any training script.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import cairn

PROJECT = "demo"
MODEL = "digits-sgd"
SETTINGS = [
    {"model": {"loss": "log_loss", "alpha": 1e-4}, "learning_rate": "optimal", "epochs": 20},
    {"model": {"loss": "log_loss", "alpha": 1e-3}, "learning_rate": "optimal", "epochs": 20},
    {"model": {"loss": "modified_huber", "alpha": 1e-4}, "learning_rate": "optimal", "epochs": 20},
    {"model": {"loss": "log_loss", "alpha": 1e-2}, "learning_rate": "adaptive", "eta0": 0.01, "epochs": 20},
]


def train(config: dict, data: tuple, frame: object) -> str:
    """One run; the URI of the model it logged."""
    x_train, x_val, y_train, y_val = data
    classes = np.unique(y_train)
    model = SGDClassifier(
        loss=config["model"]["loss"],
        alpha=config["model"]["alpha"],
        learning_rate=config["learning_rate"],
        eta0=config.get("eta0", 0.01),
        random_state=0,
    )
    with cairn.init(PROJECT, config=config, tags={"dataset": "digits", "library": "scikit-learn"}) as run:
        run.notes = f"SGDClassifier ({config['model']['loss']}) on the 8×8 digits dataset."
        for epoch in range(config["epochs"]):
            model.partial_fit(x_train, y_train, classes=classes)
            probabilities = model.predict_proba(x_train)
            run.log(
                {
                    "train/loss": log_loss(y_train, probabilities, labels=classes),
                    "train/accuracy": accuracy_score(y_train, model.predict(x_train)),
                    "val/accuracy": accuracy_score(y_val, model.predict(x_val)),
                },
                step=epoch,
            )
        model_uri = keep_outputs(run, model, x_val, y_val, frame)
        print(f"logged {run.project}/{run.name}: val/accuracy {accuracy_score(y_val, model.predict(x_val)):.3f}")
    return model_uri


def keep_outputs(run: cairn.Run, model: SGDClassifier, x_val: np.ndarray, y_val: np.ndarray, frame: object) -> str:
    """What a real training script keeps: the model, how it errs, and which data it saw."""
    model_uri = run.log_model(model, name="model", input_example=x_val[:5]).uri
    run.log_confusion_matrix(y_val, model.predict(x_val), labels=list(range(10)), name="val/confusion_matrix")
    run.log_dataset(frame, "digits", context="train")
    try:
        from matplotlib.figure import Figure
    except ImportError:  # plots are optional
        return model_uri
    figure = Figure(figsize=(5, 3))
    axes = figure.add_subplot()
    axes.plot(model.coef_.std(axis=1), marker="o")
    axes.set_xlabel("class")
    axes.set_ylabel("spread of weights")
    run.log_figure(figure, "plots/weights")
    return model_uri


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-if-logged", action="store_true", help="do nothing if the demo project has runs")
    args = parser.parse_args()
    if args.skip_if_logged:
        with cairn.Api() as api:
            if any(p.name == PROJECT and p.run_count for p in api.projects()):
                print(f"the {PROJECT!r} project is already logged; skipping the demo")
                return
    digits = load_digits(as_frame=True)
    x = StandardScaler().fit_transform(digits.data)
    data = train_test_split(x, digits.target.to_numpy(), test_size=0.25, random_state=0, stratify=digits.target)
    for config in SETTINGS:
        model_uri = train(config, data, digits.frame)
        loss, alpha = config["model"]["loss"], config["model"]["alpha"]
        version = cairn.register_model(model_uri, MODEL, description=f"SGDClassifier, {loss} loss, alpha {alpha}.")
        print(f"registered {model_uri} as {MODEL} version {version.version}")


if __name__ == "__main__":
    main()
