"""Flattening configs into typed params, and what counts as "the same value again"."""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.entities import ParamValue
from cairn.core.errors import InvalidKey, InvalidValue
from cairn.core.limits import MAX_CONFIG_DEPTH, MAX_INT64, MAX_PARAM_VALUE_LENGTH, MIN_INT64
from cairn.core.params import (
    decode_param,
    encode_param,
    flatten_config,
    param_type_name,
    same_param_value,
    typed_param_value,
)

FAST = settings(max_examples=50, deadline=None)

param_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(MIN_INT64, MAX_INT64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50).filter(lambda s: "\x00" not in s),
)


def _identical(a: ParamValue, b: ParamValue) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, float) and isinstance(b, float):
        return np.float64(a).view(np.uint64) == np.float64(b).view(np.uint64)
    return type(a) is type(b) and a == b


def test_flatten_nested_mappings_with_dots() -> None:
    config = {
        "optimizer": {"name": "adam", "lr": 1e-3, "betas": {"b1": 0.9}},
        "epochs": 3,
        "layers": [64, 32],
        "empty": {},
        "ordered": OrderedDict(a=1),
        "path": Path("/data/x"),
    }
    assert flatten_config(config) == {
        "optimizer.name": "adam",
        "optimizer.lr": 1e-3,
        "optimizer.betas.b1": 0.9,
        "epochs": 3,
        "layers": "[64,32]",
        "empty": "{}",
        "ordered.a": 1,
        "path": "/data/x",
    }


def test_flatten_keeps_types() -> None:
    flat = flatten_config({"i": 1, "f": 1.0, "b": True, "s": "1", "n": None})
    assert [type(flat[k]) for k in "ifbsn"] == [int, float, bool, str, type(None)]


def test_numpy_scalars_become_python_values() -> None:
    flat = flatten_config({"i": np.int64(7), "f": np.float32(0.5), "b": np.bool_(True), "a": np.arange(3)})
    assert flat == {"i": 7, "f": 0.5, "b": True, "a": "[0,1,2]"}
    assert (type(flat["i"]), type(flat["f"]), type(flat["b"])) == (int, float, bool)


def test_flatten_checks_the_full_key() -> None:
    with pytest.raises(InvalidKey):
        flatten_config({"": 1})
    with pytest.raises(InvalidKey):
        flatten_config({"a" * 200: {"b" * 50: 1}})  # 251 characters once joined
    assert flatten_config({"a" * 200: {"b" * 49: 1}}) == {"a" * 200 + "." + "b" * 49: 1}
    with pytest.raises(InvalidKey):
        flatten_config({"line\nbreak": 1})


def test_value_limits() -> None:
    assert typed_param_value("k", "x" * MAX_PARAM_VALUE_LENGTH) == "x" * MAX_PARAM_VALUE_LENGTH
    with pytest.raises(InvalidValue):
        typed_param_value("k", "x" * (MAX_PARAM_VALUE_LENGTH + 1))
    with pytest.raises(InvalidValue):
        typed_param_value("k", ["x" * MAX_PARAM_VALUE_LENGTH])
    with pytest.raises(InvalidValue):
        typed_param_value("k", "nul\x00inside")
    assert typed_param_value("k", MAX_INT64) == MAX_INT64
    assert typed_param_value("k", MIN_INT64) == MIN_INT64
    for too_big in (MAX_INT64 + 1, MIN_INT64 - 1, 10**400):
        with pytest.raises(InvalidValue):
            typed_param_value("k", too_big)


class _Opaque:
    def __str__(self) -> str:
        return "<opaque thing>"


def test_other_objects_are_stored_as_text() -> None:
    assert typed_param_value("k", (1, "a")) == '[1,"a"]'
    assert typed_param_value("k", {"nested": [1, 2]}) == '{"nested":[1,2]}'
    assert typed_param_value("k", _Opaque()) == "<opaque thing>"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (0.1, 0.10, True),
        (1, 1.0, True),
        (1.0, 1, True),
        (math.nan, math.nan, True),
        (math.inf, math.inf, True),
        (math.inf, -math.inf, False),
        (0.0, -0.0, True),
        (None, None, True),
        ("a", "a", True),
        (True, True, True),
        (0.1, 0.2, False),
        (math.nan, 1.0, False),
        (True, 1, False),
        (1, True, False),
        (False, 0.0, False),
        (1, "1", False),
        ("1", 1, False),
        (None, 0, False),
        (None, "", False),
        ("None", None, False),
        (2**53 + 1, float(2**53 + 1), False),  # compared exactly, not through a float
    ],
)
def test_same_param_value(a: ParamValue, b: ParamValue, same: bool) -> None:
    assert same_param_value(a, b) is same
    assert same_param_value(b, a) is same


@FAST
@given(value=param_values)
def test_encode_decode_round_trip(value: ParamValue) -> None:
    kind, text = encode_param(value)
    assert kind == param_type_name(value)
    assert text is None or isinstance(text, str)
    back = decode_param(kind, text)
    assert _identical(back, value)
    assert same_param_value(value, back)


@FAST
@given(config=st.dictionaries(st.text("abc.", min_size=1, max_size=5), param_values, max_size=8))
def test_flat_configs_stay_as_they_are(config: dict[str, Any]) -> None:
    # A flat config of plain values flattens to itself (what the HTTP client relies on).
    flat = flatten_config(config)
    assert flat.keys() == config.keys()
    assert all(_identical(flat[k], config[k]) for k in config)
    again = flatten_config(flat)
    assert all(_identical(again[k], flat[k]) for k in flat)


# -- nesting depth ---------------------------------------------------------------------------


def _nested(depth: int, leaf: Any = 1, *, container: str = "dict") -> Any:
    """A value ``depth`` levels deep: {"a": {"a": ... leaf}} or [[... leaf]]."""
    value = leaf
    for _ in range(depth):
        value = {"a": value} if container == "dict" else [value]
    return value


@pytest.mark.parametrize("container", ["dict", "list"])
def test_a_config_nested_ten_thousand_deep_is_invalid_value_not_a_recursion_error(container: str) -> None:
    config = {"top": _nested(10_000, container=container)}
    with pytest.raises(InvalidValue, match=f"nested more than {MAX_CONFIG_DEPTH} levels") as raised:
        flatten_config(config)
    assert raised.value.details["limit"] == MAX_CONFIG_DEPTH


def test_the_depth_limit_counts_mappings_lists_and_tuples_alike() -> None:
    # {"a": ...} at the top is one level; each further dict, list or tuple is one more.
    at_limit = _nested(MAX_CONFIG_DEPTH)
    assert len(flatten_config(at_limit)) == 1
    assert flatten_config({"a": _nested(MAX_CONFIG_DEPTH - 1, container="list")}) == {
        "a": "[" * (MAX_CONFIG_DEPTH - 1) + "1" + "]" * (MAX_CONFIG_DEPTH - 1)
    }
    for past in (
        _nested(MAX_CONFIG_DEPTH + 1),
        {"a": _nested(MAX_CONFIG_DEPTH, container="list")},
        _nested(MAX_CONFIG_DEPTH - 1, {"t": ((1,),)}),
        _nested(MAX_CONFIG_DEPTH - 1, {"d": [{"x": 1}]}),
    ):
        with pytest.raises(InvalidValue, match="nested more than"):
            flatten_config(past)


def test_flattening_keeps_the_order_and_a_later_key_wins_a_clash() -> None:
    config = {"z": 1, "a": {"b": 2, "c": {"d": 3}}, "a.b": 4, "m": 5}
    flat = flatten_config(config)
    assert list(flat) == ["z", "a.b", "a.c.d", "m"]
    assert flat["a.b"] == 4
