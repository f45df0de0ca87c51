"""What both halves of the model benchmark share: the model, its data and the timing loop.

Imported from either venv (each has scikit-learn: Cairn's for its sklearn flavor, MLflow's
because mlflow depends on it). The model is trained once, untimed, on iris, which scikit-learn
ships: `logreg` (LogisticRegression, the default) or `forest` (a 20-tree random forest).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

MODELS = ("logreg", "forest")
CALLS = ("log_model", "register_model", "load_model")


def train(kind: str) -> tuple[Any, Any]:
    """The fitted model and iris's features (a DataFrame, as users log an input example)."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500) if kind == "logreg" else RandomForestClassifier(20, random_state=0)
    return model.fit(features, target), features


def describe(kind: str) -> str:
    return "LogisticRegression(max_iter=500)" if kind == "logreg" else "RandomForestClassifier(20)"


def first_cycle(cycle: Callable[[int], dict[str, float]]) -> dict[str, float]:
    """The untimed warm-up cycle 0, timed all the same: each call's first run in the process,
    lazy imports of the client's code paths included (the model's framework is already in:
    it was trained here). Reported beside the medians, not in them."""
    return {call: round(seconds * 1000, 1) for call, seconds in cycle(0).items()}


def time_cycles(cycle: Callable[[int], dict[str, float]], repeats: int, label: str) -> dict[str, Any]:
    """``repeats`` cycles (after the caller's untimed warm-up cycle 0); each cycle returns the
    seconds of each of CALLS. Returns, per call, the median in ms and every repeat."""
    samples: dict[str, list[float]] = {call: [] for call in CALLS}
    for number in range(1, repeats + 1):
        for call, seconds in cycle(number).items():
            samples[call].append(seconds * 1000)
        print(f"[{label}] cycle {number}: " + ", ".join(f"{c} {samples[c][-1]:.0f} ms" for c in CALLS), file=sys.stderr)
    return {
        call: {"value": round(statistics.median(ms), 1), "repeats": len(ms), "all_ms": [round(m, 1) for m in ms]}
        for call, ms in samples.items()
    }


def stopwatch() -> Callable[[], float]:
    """Seconds since this was called, each time the returned function is called."""
    started = time.perf_counter()
    return lambda: time.perf_counter() - started
