"""The input checks of ``cairn.core.limits`` and of metric columns, at and past each limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.errors import InvalidKey, InvalidRequest, InvalidValue
from cairn.core.limits import (
    MAX_INT64,
    MAX_KEY_LENGTH,
    MAX_PAGE_SIZE,
    MAX_POINTS_PER_BATCH,
    MIN_INT64,
    check_key,
    check_metric_value,
    check_name,
    check_page_size,
    check_step,
    check_text,
    check_timestamp,
)
from cairn.core.metrics import MetricBatch, MetricColumns

FAST = settings(max_examples=50, deadline=None)


@FAST
@given(key=st.text(min_size=1, max_size=MAX_KEY_LENGTH).filter(lambda k: k.isprintable()))
def test_printable_keys_pass(key: str) -> None:
    assert check_key(key, "param") == key


@pytest.mark.parametrize(
    "key",
    ["", "k" * (MAX_KEY_LENGTH + 1), "a\nb", "a\x00", "\t", "a\x1fb", "a\x7f", 5, None, b"bytes"],
)
def test_bad_keys(key: object) -> None:
    with pytest.raises(InvalidKey) as raised:
        check_key(key, "tag")
    assert "tag" in raised.value.message


def test_text_and_names() -> None:
    assert check_text("a\nb\tc", "notes", 5) == "a\nb\tc"
    for bad in ("x" * 6, "a\x00", 3):
        with pytest.raises(InvalidValue):
            check_text(bad, "notes", 5)
    assert check_name("ok name", "run name") == "ok name"
    for bad_name in ("", "  ", "a\nb", "n" * 251, None):
        with pytest.raises(InvalidValue):
            check_name(bad_name, "run name")


def test_metric_values() -> None:
    assert check_metric_value("m", 1) == 1.0
    assert check_metric_value("m", 0.5) == 0.5
    assert math.isnan(check_metric_value("m", "NaN"))
    assert check_metric_value("m", "Infinity") == math.inf
    assert check_metric_value("m", "-Infinity") == -math.inf
    for bad in (True, None, "nan", "inf", "1.0", [1.0], {}):
        with pytest.raises(InvalidValue):
            check_metric_value("m", bad)


def test_steps_and_timestamps() -> None:
    assert check_step(MIN_INT64) == MIN_INT64
    assert check_step(MAX_INT64) == MAX_INT64
    assert check_step(np.int32(7)) == 7
    for bad in (MAX_INT64 + 1, MIN_INT64 - 1, 1.0, True, "3", None):
        with pytest.raises(InvalidValue):
            check_step(bad)
    assert check_timestamp(0) == 0
    for bad_time in (-1, 1.5, True, MAX_INT64 + 1):
        with pytest.raises(InvalidValue):
            check_timestamp(bad_time)


def test_page_size() -> None:
    assert check_page_size(1) == 1
    assert check_page_size(MAX_PAGE_SIZE) == MAX_PAGE_SIZE
    for bad in (0, -1, MAX_PAGE_SIZE + 1):
        with pytest.raises(InvalidRequest):
            check_page_size(bad)


# -- metric columns ----------------------------------------------------------------------------


def test_bad_step_and_timestamp_values_in_the_sdk() -> None:
    for steps in (["1", 2], [None, 1], [2**63, 0], [True, False]):
        with pytest.raises(InvalidValue):
            MetricColumns.from_lists("m", steps, [0, 0], [1.0, 2.0])
    with pytest.raises(InvalidValue):
        MetricColumns.from_lists("m", [0, 1], [-1, 0], [1.0, 2.0])
    with pytest.raises(InvalidRequest):
        MetricColumns.from_lists("m", [0, 1], [0], [1.0, 2.0])


def test_columns_from_lists() -> None:
    columns = MetricColumns.from_lists("m", [3, 1], [10, 11], [0.5, "NaN"])
    assert columns.steps.dtype == np.int64 and columns.steps.tolist() == [3, 1]
    assert columns.timestamps.tolist() == [10, 11]
    assert columns.values.dtype == np.float64
    assert columns.values[0] == 0.5 and math.isnan(columns.values[1])
    assert len(columns) == 2
    columns.check()
    ints = MetricColumns.from_lists("m", [0], [0], [7])
    assert ints.values.dtype == np.float64 and ints.values.tolist() == [7.0]


def _columns(steps: object, timestamps: object, values: object, key: str = "m") -> MetricColumns:
    return MetricColumns(key=key, steps=steps, timestamps=timestamps, values=values)  # type: ignore[arg-type]


def test_check_of_columns_built_directly() -> None:
    good = _columns(np.arange(3), np.zeros(3, dtype=np.int64), np.ones(3))
    good.check()
    _columns(np.arange(3, dtype=np.uint32), np.zeros(3, dtype=np.int32), np.ones(3, dtype=np.float32)).check()
    cases: list[tuple[MetricColumns, type[Exception]]] = [
        (_columns(np.arange(3), np.zeros(3, dtype=np.int64), np.ones(3), key=""), InvalidKey),
        (_columns(np.arange(3), np.zeros(2, dtype=np.int64), np.ones(3)), InvalidRequest),
        (_columns([0, 1], np.zeros(2, dtype=np.int64), np.ones(2)), InvalidRequest),
        (
            _columns(np.zeros((1, 2), dtype=np.int64), np.zeros((1, 2), dtype=np.int64), np.ones((1, 2))),
            InvalidRequest,
        ),
        (_columns(np.array([0.0, 1.5]), np.zeros(2, dtype=np.int64), np.ones(2)), InvalidValue),
        (_columns(np.arange(2), np.array([0.0, 1.0]), np.ones(2)), InvalidValue),
        (_columns(np.arange(2), np.array([0, -1]), np.ones(2)), InvalidValue),
        (
            _columns(np.array([0, 2**64 - 1], dtype=np.uint64), np.zeros(2, dtype=np.int64), np.ones(2)),
            InvalidValue,
        ),
        (_columns(np.arange(2), np.zeros(2, dtype=np.int64), np.array(["1", "x"])), InvalidValue),
        (
            _columns(np.arange(2), np.zeros(2, dtype=np.int64), np.array([True, False])),
            InvalidValue,
        ),
        (_columns(np.arange(2), np.zeros(2, dtype=np.int64), np.array([1.0, None])), InvalidValue),
    ]
    for columns, error in cases:
        with pytest.raises(error):
            columns.check()


def test_batch_check_covers_size_and_every_column() -> None:
    bad = _columns(np.arange(1), np.zeros(1, dtype=np.int64), np.ones(1), key="a\nb")
    good = MetricColumns.from_lists("m", [0], [0], [1.0])
    MetricBatch(client_id="c", seq=0, columns=[good]).check()
    with pytest.raises(InvalidKey):
        MetricBatch(client_id="c", seq=0, columns=[good, bad]).check()
    n = MAX_POINTS_PER_BATCH + 1
    big = _columns(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n))
    with pytest.raises(InvalidRequest):
        MetricBatch(client_id="c", seq=0, columns=[big]).check()
