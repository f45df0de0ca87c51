"""The envelope that downsampling keeps: every bucket's first, last, min, max and a NaN."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.limits import MAX_INT64, MIN_INT64
from cairn.core.metrics import envelope_indices

FAST = settings(max_examples=50, deadline=None)

values_strategy = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def series(draw: st.DrawFn, *, wide: bool = False) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    n = draw(st.integers(min_value=1, max_value=300))
    if wide:
        steps = draw(st.lists(st.integers(MIN_INT64, MAX_INT64), min_size=n, max_size=n))
    else:
        start = draw(st.integers(-1_000, 1_000))
        gaps = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
        steps = list(np.cumsum(gaps) + start)
    values = draw(
        st.one_of(
            st.lists(values_strategy, min_size=n, max_size=n),
            st.lists(st.floats(-10, 10), min_size=n, max_size=n),
            st.lists(st.sampled_from([0.0, 1.0, math.nan, math.inf]), min_size=n, max_size=n),
        )
    )
    return np.array(sorted(steps), dtype=np.int64), np.array(values, dtype=np.float64)


def _buckets(steps: npt.NDArray[np.int64], buckets: int) -> list[int]:
    """The bucket of each point, by the documented rule: the step range cut into equal spans."""
    first, last = int(steps[0]), int(steps[-1])
    span = last - first + 1
    return [min((int(s) - first) * buckets // span, buckets - 1) for s in steps]


def _check_envelope(steps: npt.NDArray[np.int64], values: npt.NDArray[np.float64], buckets: int) -> None:
    keep = envelope_indices(steps, values, buckets)
    n = len(steps)
    assert keep.dtype.kind == "i"
    assert np.all(np.diff(keep) > 0), "indices are sorted and unique"
    assert keep.size == 0 or (keep[0] >= 0 and keep[-1] < n)
    kept = set(keep.tolist())
    assert len(kept) <= 5 * buckets

    assert 0 in kept and n - 1 in kept
    numbers = values[~np.isnan(values)]
    if numbers.size:
        assert numbers.min() in values[keep] and numbers.max() in values[keep]
    if numbers.size < n:
        assert np.isnan(values[keep]).any()
    span = int(steps[-1]) - int(steps[0]) + 1
    if span * buckets >= 2**64:
        return  # buckets computed in floating point over such a range: boundaries may round

    groups: dict[int, list[int]] = {}
    for index, bucket in enumerate(_buckets(steps, buckets)):
        groups.setdefault(bucket, []).append(index)
    for bucket, members in groups.items():
        assert members[0] in kept and members[-1] in kept, f"bucket {bucket} lost an end"
        numbers = [i for i in members if not math.isnan(values[i])]
        mine = [i for i in members if i in kept]
        if numbers:
            low = min(values[i] for i in numbers)
            high = max(values[i] for i in numbers)
            assert any(values[i] == low for i in mine), f"bucket {bucket} lost its minimum"
            assert any(values[i] == high for i in mine), f"bucket {bucket} lost its maximum"
        if len(numbers) < len(members):
            assert any(math.isnan(values[i]) for i in mine), f"bucket {bucket} lost its NaN"
        assert len(mine) <= 5


@FAST
@given(data=series(), buckets=st.integers(1, 60))
def test_every_bucket_keeps_its_extremes(
    data: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]], buckets: int
) -> None:
    _check_envelope(*data, buckets)


@FAST
@given(data=series(wide=True), buckets=st.integers(1, 60))
def test_steps_across_the_whole_int64_range(
    data: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]], buckets: int
) -> None:
    _check_envelope(*data, buckets)


def test_a_spike_among_a_million_points_survives() -> None:
    steps = np.arange(1_000_000, dtype=np.int64)
    values = np.zeros(1_000_000)
    values[123_457] = 9.0
    values[654_321] = -9.0
    values[999_998] = math.nan
    keep = envelope_indices(steps, values, 250)
    assert {123_457, 654_321, 999_998, 0, 999_999} <= set(keep.tolist())
    assert len(keep) <= 5 * 250


def test_more_buckets_than_points_keeps_every_point() -> None:
    steps = np.array([0, 3, 3, 10], dtype=np.int64)
    values = np.array([1.0, math.nan, -1.0, 2.0])
    assert envelope_indices(steps, values, 100).tolist() == [0, 1, 2, 3]


def test_empty_input_and_no_buckets() -> None:
    empty_steps = np.empty(0, dtype=np.int64)
    assert envelope_indices(empty_steps, np.empty(0), 10).size == 0
    assert envelope_indices(np.arange(5, dtype=np.int64), np.ones(5), 0).size == 0


def test_step_differences_beyond_int64() -> None:
    # A regression: offsets from the first step used to overflow int64 and drop extremes.
    rng = np.random.default_rng(0)
    steps = np.sort(rng.integers(MIN_INT64, MAX_INT64, size=40, dtype=np.int64, endpoint=True))
    values = rng.normal(size=40)
    for buckets in (1, 3, 7):
        _check_envelope(steps, values, buckets)
    edges = np.array([MIN_INT64, -1, 0, MAX_INT64], dtype=np.int64)
    assert envelope_indices(edges, np.array([3.0, -3.0, 9.0, 0.0]), 1).tolist() == [0, 1, 2, 3]
