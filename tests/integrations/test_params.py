"""Hyperparameter values of every kind become params a store keeps, the same way whichever
integration logs them."""

from __future__ import annotations

import numpy as np
import pytest

from cairn.integrations._params import MAX_PARAM_TEXT, loggable, loggable_params


def test_hostile_values_become_loggable_text() -> None:
    assert loggable(2**70) == str(2**70)
    assert loggable(-(2**70)) == str(-(2**70))
    assert loggable(float("nan")) != loggable(1.0)
    assert loggable("<b>x</b>\x00") == "<b>x</b>\\x00"
    long = loggable(list(range(10_000)))
    assert isinstance(long, str) and long.endswith(", 49, …]")
    huge = loggable("x" * 10_000)
    assert isinstance(huge, str) and len(huge) == MAX_PARAM_TEXT and huge.endswith("…")
    assert loggable({"scorer": len}) == "{'scorer': len}"
    assert loggable(None) is None and loggable(True) is True


def test_numpy_scalars_are_unwrapped_and_arrays_are_shown_as_text() -> None:
    assert loggable(np.int64(3)) == 3 and isinstance(loggable(np.int64(3)), int)
    assert loggable(np.float32(0.5)) == 0.5 and type(loggable(np.float64(0.5))) is float
    assert loggable(np.bool_(True)) is True
    assert loggable(np.array(7)) == 7
    assert isinstance(loggable(np.arange(3)), str)
    assert loggable({"betas": (np.float64(0.9), 0.999)}) == "{'betas': (0.9, 0.999)}"


def test_estimators_classes_and_functions_are_named_not_printed() -> None:
    sklearn = pytest.importorskip("sklearn.svm", reason="scikit-learn is not installed")
    assert loggable(sklearn.SVC()) == "SVC"
    assert loggable([("svc", sklearn.SVC())]) == "[('svc', SVC)]"
    assert loggable(dict) == "dict"


def test_keys_a_param_cannot_have_are_left_out() -> None:
    params = loggable_params({"lr": 0.1, "": 1, "x" * 10_000: 2, "bad\x00key": 3, 5: "five"})
    assert params == {"lr": 0.1, "5": "five"}
