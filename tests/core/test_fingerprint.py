"""Fingerprints: equal params (as same_param_value sees them) and only they share one."""

from __future__ import annotations

import hashlib
import math
import random
import struct
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.entities import ParamValue
from cairn.core.errors import InvalidValue
from cairn.core.fingerprint import canonical_value, check_fingerprint, fingerprint
from cairn.core.limits import MAX_INT64, MIN_INT64
from cairn.core.params import flatten_config, same_param_value

FAST = settings(max_examples=200, deadline=None)

keys = st.text(min_size=1, max_size=6)
# Few distinct values, so that two draws often collide and equal-but-differently-typed pairs
# (1 and 1.0, 0.0 and -0.0, True and 1) come up.
small = st.sampled_from([0, 1, 2, -1, 0.0, -0.0, 1.0, 2.0, 0.1, 0.5, True, False, None, "", "1", "a", math.nan])
values = st.one_of(
    small,
    st.integers(MIN_INT64, MAX_INT64),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.booleans(),
    st.text(max_size=5),
)
params = st.dictionaries(keys, values, max_size=6)


def same_params(a: dict[str, ParamValue], b: dict[str, ParamValue]) -> bool:
    return a.keys() == b.keys() and all(same_param_value(a[k], b[k]) for k in a)


def test_the_digest_is_sha256_of_the_documented_encoding() -> None:
    document = {"v": 1, "params": [["a", "number", "1"], ["b", "str", "x"], ["c", "none", None]]}
    expected = hashlib.sha256(orjson.dumps(document)).hexdigest()
    assert fingerprint({"c": None, "b": "x", "a": 1.0}) == expected
    assert len(expected) == 64


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (0.1, float("0.10")),
        (1, 1.0),
        (-3, -3.0),
        (2**60, float(2**60)),
        (0.0, -0.0),
        (0, -0.0),
        (math.nan, float("nan")),
        (math.nan, struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_0001))[0]),  # another NaN payload
        (math.inf, float("inf")),
    ],
)
def test_equal_values_one_fingerprint(a: ParamValue, b: ParamValue) -> None:
    assert same_param_value(a, b)
    assert fingerprint({"x": a}) == fingerprint({"x": b})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (True, 1),
        (False, 0),
        (True, 1.0),
        ("1", 1),
        ("0.1", 0.1),
        (None, "None"),
        (None, 0),
        ("nan", math.nan),
        (math.inf, -math.inf),
        (2**53 + 1, float(2**53)),  # an int a float cannot hold exactly is not that float
        (0.1, 0.1 + 2**-56),
        (0.1, 0.2),
    ],
)
def test_different_values_different_fingerprints(a: ParamValue, b: ParamValue) -> None:
    assert not same_param_value(a, b)
    assert fingerprint({"x": a}) != fingerprint({"x": b})


def test_keys_matter_and_order_does_not() -> None:
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"b": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 1, "b": None})  # a key more is a change
    assert fingerprint({}) != fingerprint({"a": None})
    # Flattened config: nesting is spelled by the keys, so {"a": {"b": 1}} is {"a.b": 1}.
    assert fingerprint(flatten_config({"a": {"b": 1}})) == fingerprint({"a.b": 1})


def test_the_encoding_cannot_be_confused_by_clever_keys_or_values() -> None:
    # The JSON document separates fields: no key or text can impersonate another layout.
    assert fingerprint({"a": "b", "c": "d"}) != fingerprint({"a": 'b", "c": "d'})
    assert fingerprint({"a,b": 1}) != fingerprint({"a": "b", "b": 1})


@FAST
@given(params, st.randoms(use_true_random=False))
def test_order_independence(p: dict[str, Any], rnd: random.Random) -> None:
    items = list(p.items())
    rnd.shuffle(items)
    assert fingerprint(dict(items)) == fingerprint(p)


@FAST
@given(st.integers(-(2**53), 2**53), keys)
def test_an_int_and_the_equal_float_agree(n: int, key: str) -> None:
    assert fingerprint({key: n}) == fingerprint({key: float(n)})


@FAST
@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_a_float_written_another_way_is_the_same(x: float) -> None:
    # Whatever text a float came from ("0.10", "1e-1", "%.17g"), the value is what counts.
    for text in (repr(x), f"{x:.17g}", f"{x:.20e}"):
        assert fingerprint({"x": float(text)}) == fingerprint({"x": x})


@FAST
@given(params, params)
def test_same_fingerprint_exactly_when_the_params_are_the_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert (fingerprint(a) == fingerprint(b)) is same_params(a, b)


@FAST
@given(values, values)
def test_canonical_values_agree_with_same_param_value(a: ParamValue, b: ParamValue) -> None:
    assert (canonical_value(a) == canonical_value(b)) is same_param_value(a, b)


def test_check_fingerprint() -> None:
    good = fingerprint({"a": 1})
    assert check_fingerprint(good) == good
    for bad in ("", good[:-1], good.upper(), good + "0", "g" * 64, None, 7):
        with pytest.raises(InvalidValue):
            check_fingerprint(bad)
