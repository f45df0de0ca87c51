"""Which metric is a run's headline, and which way is better (:mod:`cairn.core.headline`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cairn.core.headline import by_headline, headline_metric, is_system_metric, lower_is_better


def test_held_out_quality_metrics_lead_and_system_metrics_trail() -> None:
    keys = ["system/cpu", "train/loss", "val/loss", "lr", "train/acc", "val/accuracy", "epoch", "test_f1"]
    assert by_headline(keys) == [
        "val/accuracy",  # held out, accuracy
        "test_f1",  # held out, f1
        "val/loss",  # held out, a loss
        "train/acc",  # any split, accuracy
        "train/loss",
        "epoch",
        "lr",
        "system/cpu",
    ]
    assert headline_metric(keys) == "val/accuracy"


@pytest.mark.parametrize(
    ("keys", "headline"),
    [
        ([], None),
        (["system/cpu_percent"], "system/cpu_percent"),  # rather than none
        (["loss", "val_loss"], "val_loss"),
        (["val/samples_per_s", "train/acc"], "train/acc"),  # a quality word beats a split
        (["interval_loss", "eval-loss"], "eval-loss"),  # "interval" is not "val"
        (["epoch", "Val Score"], "Val Score"),
        (["b", "a"], "a"),
    ],
)
def test_headline_metric(keys: list[str], headline: str | None) -> None:
    assert headline_metric(keys) == headline


@pytest.mark.parametrize(
    ("key", "lower"),
    [
        ("loss", True),
        ("val/Loss", True),
        ("test_error_rate", True),
        ("rmse", True),
        ("perplexity", True),
        ("step_time_s", True),
        ("p99_latency_ms", True),
        ("accuracy", False),
        ("val/f1", False),
        ("reward", False),
        ("valid_0-l2", True),  # LightGBM's names, as words of the key
        ("best/training-l1", True),
        ("valid-poisson-nloglik", True),
        ("val1", False),
        ("valid_1-auc", False),
    ],
)
def test_lower_is_better(key: str, lower: bool) -> None:
    assert lower_is_better(key) is lower


def test_system_metrics() -> None:
    assert is_system_metric("system/gpu.0.util") and not is_system_metric("val/system/x")


@given(st.lists(st.text(max_size=12), max_size=8))
def test_the_headline_is_the_first_of_the_order_and_the_order_is_a_permutation(keys: list[str]) -> None:
    ordered = by_headline(keys)
    assert sorted(ordered) == sorted(keys)
    assert headline_metric(keys) == (ordered[0] if keys else None)
    assert by_headline(ordered) == ordered
    users = [k for k in ordered if not is_system_metric(k)]
    assert ordered[: len(users)] == users
