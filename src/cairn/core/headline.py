"""Which of a run's metrics a person looks at first, and which way is better.

Cairn guesses both from the metric's key, as MLflow and W&B users name them:

- **System metrics** (``system/cpu_percent``, what the SDK samples on its own) are never a
  headline: they come last, and pages show them apart.
- **The headline** is, best first: a held-out quality metric (``val/accuracy``, ``test_f1``),
  then a quality metric of any split (``train/acc``), then any held-out metric, then the rest.
  Within a tier, the quality word decides (:data:`QUALITY_WORDS`, accuracy first), then the key.
  A split is held out when a word of the key (split at ``/ _ . -`` and spaces) is one of
  :data:`HELD_OUT_WORDS`, so ``interval`` is not ``val``.
- **Lower is better** for losses, errors and times (:data:`LOWER_IS_BETTER_WORDS`, found
  anywhere in the key) and for the boosting libraries' short names of losses when they are a
  word of the key (:data:`LOWER_IS_BETTER_NAMES`: LightGBM's ``valid_0-l2``); higher is
  better for the rest.

The runs table's default columns, the compare page's default metric, the run page's rank, the
projects page's best runs and the SDK's "already tried?" line all read :func:`by_headline`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: The prefix of the metrics the SDK records about the machine (docs/sdk.md).
SYSTEM_PREFIX = "system/"
HELD_OUT_WORDS = frozenset({"val", "valid", "validation", "test", "eval", "dev", "holdout"})
#: Words that make a metric a quality measure, most quoted first (substrings: "acc" is in
#: "accuracy" and "top1_acc").
QUALITY_WORDS = ("acc", "f1", "auc", "score", "precision", "recall", "loss", "error")
LOWER_IS_BETTER_WORDS = ("loss", "error", "err", "mse", "mae", "rmse", "perplexity", "time", "latency")
#: XGBoost's and LightGBM's metric names that say "lower is better" without a word above:
#: matched as whole words of the key, so ``l1`` is not found in ``val1``.
LOWER_IS_BETTER_NAMES = frozenset({"l1", "l2", "mape", "huber", "rmsle", "mphe", "nloglik", "deviance"})
_WORD_SPLIT = re.compile(r"[/_.\-\s]+")


def is_system_metric(key: str) -> bool:
    return key.startswith(SYSTEM_PREFIX)


def lower_is_better(key: str) -> bool:
    """A guess from the key: losses and errors go down, accuracies and scores go up."""
    name = key.lower()
    if any(word in name for word in LOWER_IS_BETTER_WORDS):
        return True
    return not LOWER_IS_BETTER_NAMES.isdisjoint(_WORD_SPLIT.split(name))


def headline_rank(key: str) -> tuple[int, int, str]:
    """A sort key: the smaller, the more of a headline ``key`` is."""
    name = key.lower()
    quality = next((i for i, word in enumerate(QUALITY_WORDS) if word in name), len(QUALITY_WORDS))
    held_out = not HELD_OUT_WORDS.isdisjoint(_WORD_SPLIT.split(name))
    if is_system_metric(key):
        tier = 9
    elif quality < len(QUALITY_WORDS):
        tier = 0 if held_out else 1
    else:
        tier = 2 if held_out else 3
    return tier, quality, key


def by_headline(keys: Iterable[str]) -> list[str]:
    """``keys``, the headline first and system metrics last."""
    return sorted(keys, key=headline_rank)


def headline_metric(keys: Iterable[str]) -> str | None:
    """The metric a run's page ranks it by; None when there are no metrics."""
    return min(keys, key=headline_rank, default=None)


def table_keys(metrics: Iterable[str], params: Iterable[str], count: int = 4) -> tuple[list[str], list[str]]:
    """The metrics and params a runs table shows before anyone chooses (the dashboard's and a
    notebook's): up to ``count`` metrics, headlines first (system metrics only where there are
    no others), and the first ``count`` params by name."""
    metric_keys = list(metrics)
    user_metrics = [key for key in metric_keys if not is_system_metric(key)]
    return by_headline(user_metrics or metric_keys)[:count], sorted(params)[:count]
