"""The drift engine (``cairn.core.drift``) against scipy, on the same arrays.

Every statistic is one scipy call in ``statistics.py``; these tests compute the same number
with scipy from the raw values, apart from Cairn's code, so that a wrong bin, a wrong
normalisation or a swapped argument shows as a difference. The one approximation (the
Wasserstein distance over 1,000 quantile bins of the reference instead of every value) is held
to an absolute error of 0.001, a hundredth of its default threshold.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from cairn.core.drift import (
    DEFAULT_THRESHOLDS,
    DriftSettings,
    Method,
    Reference,
    WindowDrift,
    compare,
    parse_window,
    split_windows,
)
from cairn.core.drift import statistics as stats
from cairn.core.drift.reference import OTHER
from cairn.core.errors import InvalidValue

HOUR = 3_600_000
DAY = 24 * HOUR


def one(reference: Reference, current: pa.Table, name: str = "x", **settings: object):
    return compare(reference, current, DriftSettings(**settings)).features[name]  # type: ignore[arg-type]


def category_table(reference: dict[str, int], current: dict[str, int]) -> np.ndarray:
    keys = sorted(set(reference) | set(current))
    return np.array([[reference.get(k, 0) for k in keys], [current.get(k, 0) for k in keys]], dtype=np.float64)


def repeat(counts: dict[str, int]) -> list[str]:
    return [k for k, n in counts.items() for _ in range(n)]


# -- the statistics against scipy -------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ks_is_scipys_two_sample_test_on_the_finite_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = rng.normal(0, 1, 800), rng.normal(0.1, 1.2, 600)
    drift = one(Reference.from_table(pa.table({"x": reference})), pa.table({"x": current}))
    assert drift.method is Method.KS  # 800 rows: a small reference
    assert drift.value == pytest.approx(ks_2samp(reference, current).pvalue, rel=1e-12)
    assert drift.drifted == (drift.value < 0.05)
    assert drift.rows == 600


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", ["normal", "lognormal", "integers"])
def test_wasserstein_is_scipys_distance_over_the_reference_std(seed: int, shape: str) -> None:
    rng = np.random.default_rng(seed)

    def draw(n: int) -> np.ndarray:
        if shape == "normal":
            return rng.normal(3, 2, n)
        if shape == "lognormal":
            return rng.lognormal(0, 2, n)  # a heavy tail, where binning loses most
        return rng.integers(0, 50, n).astype(np.float64)

    reference, current = draw(20_000), draw(30_000) + 0.1
    drift = one(Reference.from_table(pa.table({"x": reference})), pa.table({"x": current}))
    assert drift.method is Method.WASSERSTEIN  # 20,000 rows: a large reference
    # Evidently's wasserstein_distance_norm: the distance over np.std(reference) (ddof 0).
    exact = wasserstein_distance(reference, current) / np.std(reference)
    assert drift.value == pytest.approx(exact, abs=1e-3)


def test_wasserstein_divides_by_at_least_the_minimum_std() -> None:
    # Six values within a millionth: a numeric feature whose std is below MIN_STD.
    reference = np.repeat(1 + np.arange(6) * 2e-7, 300)
    drift = one(Reference.from_table(pa.table({"x": reference})), pa.table({"x": reference + 1e-4}))
    assert drift.method is Method.WASSERSTEIN
    assert drift.value == pytest.approx(wasserstein_distance(reference, reference + 1e-4) / stats.MIN_STD, rel=1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chisquare_is_scipys_contingency_test_on_the_category_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.choice(["a", "b", "c", "d"], 900, p=[0.4, 0.3, 0.2, 0.1])
    current = rng.choice(["a", "b", "c", "d", "e"], 700, p=[0.35, 0.3, 0.2, 0.1, 0.05])
    drift = one(Reference.from_table(pa.table({"x": reference})), pa.table({"x": current}))
    assert drift.method is Method.CHI_SQUARE
    ref_counts = dict(zip(*np.unique(reference, return_counts=True), strict=True))
    cur_counts = dict(zip(*np.unique(current, return_counts=True), strict=True))
    expected = chi2_contingency(category_table(ref_counts, cur_counts)).pvalue
    assert drift.value == pytest.approx(expected, rel=1e-9)
    assert drift.new_categories == ["e"]


def test_chisquare_of_two_categories_is_scipys_with_yates_correction() -> None:
    reference = {"yes": 300, "no": 200}
    current = {"yes": 280, "no": 220}
    drift = one(Reference.from_table(pa.table({"x": repeat(reference)})), pa.table({"x": repeat(current)}))
    assert drift.value == pytest.approx(chi2_contingency(category_table(reference, current), correction=True).pvalue)


def test_chisquare_with_one_category_or_an_empty_side_is_no_evidence() -> None:
    assert stats.chisquare_pvalue(np.array([10, 0]), np.array([5, 0])) == 1.0
    assert stats.chisquare_pvalue(np.array([10, 4]), np.array([0, 0])) == 1.0


@pytest.mark.parametrize("seed", [0, 1])
def test_jensenshannon_is_scipys_distance_on_the_category_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.choice(["a", "b", "c"], 5000, p=[0.5, 0.3, 0.2])
    current = rng.choice(["a", "b", "c", "new"], 3000, p=[0.3, 0.3, 0.3, 0.1])
    drift = one(Reference.from_table(pa.table({"x": reference})), pa.table({"x": current}))
    assert drift.method is Method.JENSEN_SHANNON  # 5,000 rows: a large reference
    table = category_table(
        dict(zip(*np.unique(reference, return_counts=True), strict=True)),
        dict(zip(*np.unique(current, return_counts=True), strict=True)),
    )
    assert drift.value == pytest.approx(jensenshannon(table[0], table[1]), rel=1e-9)  # natural log
    assert drift.drifted == (drift.value >= 0.1)


def psi_by_formula(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI as it is usually written: Σ (c − r) · ln(c / r) over the shares, empty bins at 0.0001."""
    r = reference / reference.sum()
    c = current / current.sum()
    r = np.where(r == 0, 1e-4, r)
    c = np.where(c == 0, 1e-4, c)
    return float(np.sum((c - r) * np.log(c / r)))


@given(
    hnp.arrays(np.int64, st.integers(2, 12), elements=st.integers(0, 10_000)),
    st.data(),
)
@settings(max_examples=200, deadline=None)
def test_psi_is_the_textbook_formula(reference: np.ndarray, data: st.DataObject) -> None:
    current = data.draw(hnp.arrays(np.int64, reference.size, elements=st.integers(0, 10_000)))
    if reference.sum() == 0 or current.sum() == 0:
        return
    assert stats.psi(reference, current) == pytest.approx(psi_by_formula(reference, current), rel=1e-9, abs=1e-12)


def test_psi_on_numbers_bins_by_the_reference_deciles() -> None:
    rng = np.random.default_rng(7)
    reference, current = rng.normal(0, 1, 50_000), rng.normal(0.5, 1, 40_000)
    drift = one(Reference.from_table(pa.table({"x": reference})), pa.table({"x": current}), methods={"x": "psi"})
    edges = np.quantile(reference, np.linspace(0, 1, 11)[1:-1])
    # Bins [edge_i, edge_i+1): searchsorted "left" on the sorted values, as np.histogram would
    # with -inf and +inf outer edges and right-open bins.
    ref_counts = np.diff(np.searchsorted(np.sort(reference), edges, side="left"), prepend=0, append=reference.size)
    cur_counts = np.diff(np.searchsorted(np.sort(current), edges, side="left"), prepend=0, append=current.size)
    assert ref_counts.sum() == reference.size and cur_counts.sum() == current.size
    assert drift.method is Method.PSI
    assert drift.value == pytest.approx(psi_by_formula(ref_counts, cur_counts), rel=1e-9)
    assert drift.drifted  # half a standard deviation: a PSI near 0.25, past 0.1


@pytest.mark.parametrize("method", ["chisquare", "jensenshannon"])
def test_binned_methods_on_numbers_use_the_same_deciles(method: str) -> None:
    rng = np.random.default_rng(3)
    reference, current = rng.uniform(0, 1, 10_000), rng.uniform(0, 1.1, 8_000)
    drift = one(Reference.from_table(pa.table({"x": reference})), pa.table({"x": current}), methods={"x": method})
    edges = np.quantile(reference, np.linspace(0, 1, 11)[1:-1])
    ref_counts = np.histogram(reference, np.concatenate(([-np.inf], edges, [np.inf])))[0]
    cur_counts = np.histogram(current, np.concatenate(([-np.inf], edges, [np.inf])))[0]
    if method == "chisquare":
        expected = chi2_contingency(np.vstack([ref_counts, cur_counts])).pvalue
    else:
        expected = jensenshannon(ref_counts, cur_counts)
    assert drift.value == pytest.approx(expected, rel=1e-6)


# scipy's exact KS p-value falls back to its asymptotic one on some inputs, with a warning.
@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning")
@given(
    hnp.arrays(np.float64, st.integers(1, 200), elements=st.floats(-1e6, 1e6)),
    hnp.arrays(np.float64, st.integers(1, 200), elements=st.floats(-1e6, 1e6)),
)
@settings(max_examples=100, deadline=None)
def test_statistics_functions_equal_scipy_on_any_values(reference: np.ndarray, current: np.ndarray) -> None:
    assert stats.ks_pvalue(reference, current) == ks_2samp(reference, current).pvalue
    ones = np.ones(reference.size)
    exact = wasserstein_distance(reference, current)
    assert stats.wasserstein_normalised(
        reference, ones, current, np.ones(current.size), float(np.std(reference))
    ) == pytest.approx(exact / max(float(np.std(reference)), stats.MIN_STD), rel=1e-9, abs=1e-9)


# -- defaults ---------------------------------------------------------------------------------


def test_the_method_follows_kind_and_reference_size_at_1000_rows() -> None:
    s = DriftSettings()
    assert s.method_for("x", "numeric", 1000) is Method.KS
    assert s.method_for("x", "numeric", 1001) is Method.WASSERSTEIN
    assert s.method_for("x", "categorical", 1000) is Method.CHI_SQUARE
    assert s.method_for("x", "categorical", 1001) is Method.JENSEN_SHANNON
    assert dict(DEFAULT_THRESHOLDS) == {
        Method.KS: 0.05,
        Method.CHI_SQUARE: 0.05,
        Method.WASSERSTEIN: 0.1,
        Method.JENSEN_SHANNON: 0.1,
        Method.PSI: 0.1,
    }
    assert s.drift_share == 0.5


def test_the_reference_size_counts_rows_with_a_value() -> None:
    # 1,200 rows of which 300 are null: 900 with a value, a small reference.
    rng = np.random.default_rng(0)
    values = [None if i % 4 == 0 else float(v) for i, v in enumerate(rng.normal(size=1200))]
    assert one(Reference.from_table(pa.table({"x": values})), pa.table({"x": [0.0, 1.0]})).method is Method.KS


def test_numbers_with_at_most_five_distinct_values_are_categories() -> None:
    reference = Reference.from_table(pa.table({"few": [1, 2, 3, 4, 5] * 48, "many": list(range(6)) * 40}))
    assert reference.features["few"].kind == "categorical"
    assert reference.features["many"].kind == "numeric"
    # The window's 1.0 (float) is the reference's 1 (int): the same category, not a new one.
    drift = one(reference, pa.table({"few": [1.0, 2.0, 3.0]}), "few")
    assert drift.new_categories == []


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({"thresholds": {"ks": 1.5}}, "p-value"),
        ({"thresholds": {"wasserstein": 0}}, "above 0"),
        ({"thresholds": {"ks": "0.1"}}, "finite number"),
        ({"thresholds": {"ks": float("nan")}}, "finite number"),
        ({"thresholds": {"nope": 0.1}}, "unknown drift method"),
        ({"methods": {"x": "t-test"}}, "unknown drift method"),
        ({"drift_share": 0}, "drift_share"),
        ({"drift_share": True}, "drift_share"),
        ({"small_reference_rows": -1}, "small_reference_rows"),
        ({"bins": 10}, "unknown drift settings"),
    ],
)
def test_bad_settings_are_refused(wire: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        DriftSettings.from_wire(wire)


def test_a_method_that_cannot_measure_the_kind_is_refused_before_any_work() -> None:
    reference = Reference.from_table(pa.table({"c": ["a", "b", "c"] * 10}))
    with pytest.raises(InvalidValue, match="categorical: ks cannot measure it"):
        compare(reference, pa.table({"c": ["a"]}), DriftSettings(methods={"c": "ks"}))


# -- verdicts ---------------------------------------------------------------------------------


def test_a_distance_at_its_threshold_drifts_and_a_p_value_at_its_threshold_does_not() -> None:
    rng = np.random.default_rng(1)
    reference = Reference.from_table(pa.table({"x": rng.normal(size=5000)}))
    current = pa.table({"x": rng.normal(0.2, 1, 5000)})
    value = one(reference, current).value
    assert value is not None
    assert one(reference, current, thresholds={"wasserstein": value}).drifted
    assert not one(reference, current, thresholds={"wasserstein": math.nextafter(value, math.inf)}).drifted
    small = Reference.from_table(pa.table({"x": rng.normal(size=500)}))
    p = one(small, current).value
    assert p is not None
    assert not one(small, current, thresholds={"ks": p}).drifted
    assert one(small, current, thresholds={"ks": math.nextafter(p, 1)}).drifted


def test_the_dataset_drifts_when_the_drifted_share_reaches_drift_share() -> None:
    rng = np.random.default_rng(2)
    names = [f"f{i}" for i in range(4)]
    reference = Reference.from_table(pa.table({n: rng.normal(size=5000) for n in names}))
    # Two of four features shifted by a whole standard deviation.
    current = pa.table({n: rng.normal(1.0 if i < 2 else 0.0, 1, 5000) for i, n in enumerate(names)})
    window = compare(reference, current, DriftSettings())
    assert [n for n, f in window.features.items() if f.drifted] == ["f0", "f1"]
    assert window.drifted_share == 0.5 and window.drifted
    assert not compare(reference, current, DriftSettings(drift_share=0.75)).drifted


def false_alarm_data(seed: int, rows: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    """Twenty features: twelve numeric of different shapes, eight categorical; ``shift`` moves
    ``n0`` by that many of its standard deviations."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i in range(4):
        data[f"n{i}"] = rng.normal(i, 1 + i, rows) + (shift * (1 + i) if i == 0 else 0.0)
        data[f"l{i}"] = rng.lognormal(0, 0.5 + i / 4, rows)
        data[f"u{i}"] = rng.integers(0, 100 * (i + 1), rows)
    for i in range(8):
        letters = list("abcdefgh")[: 3 + i % 5]
        data[f"c{i}"] = rng.choice(letters, rows, p=np.arange(1, len(letters) + 1) / sum(range(1, len(letters) + 1)))
    return data


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_no_false_alarm_from_the_same_distribution_with_a_large_reference(seed: int) -> None:
    reference = Reference.from_table(pa.table(false_alarm_data(seed, 100_000)))
    window = compare(reference, pa.table(false_alarm_data(seed + 100, 20_000)), DriftSettings())
    assert {f.method for f in window.features.values()} == {Method.WASSERSTEIN, Method.JENSEN_SHANNON}
    assert [n for n, f in window.features.items() if f.drifted] == []
    assert not window.drifted


@pytest.mark.parametrize("seed", [21, 22, 23, 24, 25])
def test_a_shift_of_half_a_standard_deviation_drifts_that_feature_only(seed: int) -> None:
    reference = Reference.from_table(pa.table(false_alarm_data(seed, 100_000)))
    window = compare(reference, pa.table(false_alarm_data(seed + 100, 20_000, shift=0.5)), DriftSettings())
    assert [n for n, f in window.features.items() if f.drifted] == ["n0"]
    assert window.features["n0"].value == pytest.approx(0.5, abs=0.05)
    assert not window.drifted  # one feature of twenty


def test_small_references_false_alarm_at_about_their_significance_level() -> None:
    # A p-value test at 0.05 flags one same-distribution feature in twenty by design: over
    # 10 seeds × 20 features, the share flagged stays near 5%, and no window's verdict drifts.
    flagged, total = 0, 0
    for seed in range(10):
        reference = Reference.from_table(pa.table(false_alarm_data(seed, 1000)))
        window = compare(reference, pa.table(false_alarm_data(seed + 100, 1000)), DriftSettings())
        assert {f.method for f in window.features.values()} == {Method.KS, Method.CHI_SQUARE}
        assert not window.drifted
        flagged += sum(f.drifted for f in window.features.values())
        total += len(window.features)
    assert flagged / total <= 0.10
    # The shifted feature is found by KS as well.
    reference = Reference.from_table(pa.table(false_alarm_data(0, 1000)))
    window = compare(reference, pa.table(false_alarm_data(100, 1000, shift=0.5)), DriftSettings())
    assert window.features["n0"].drifted and window.features["n0"].value < 1e-6  # type: ignore[operator]


# -- missing, out of range, new categories ------------------------------------------------------


def test_out_of_range_rate_is_the_share_of_values_beyond_the_reference_min_and_max() -> None:
    reference = Reference.from_table(pa.table({"x": np.linspace(0, 1, 2000)}))
    current = np.concatenate((np.full(10, -0.5), np.linspace(0, 1, 70), np.full(20, 1.0 + 1e-9)))
    drift = one(reference, pa.table({"x": current}))
    assert drift.out_of_range_rate == pytest.approx(0.3)
    assert drift.missing_rate == 0.0


def test_nan_inf_and_null_are_missing_and_the_rest_is_measured() -> None:
    rng = np.random.default_rng(4)
    reference = rng.normal(size=500)
    current = rng.normal(size=96)
    column = pa.array([*current.tolist(), math.nan, math.inf, -math.inf, None], pa.float64())
    drift = one(Reference.from_table(pa.table({"x": reference})), pa.table({"x": column}))
    assert drift.missing_rate == pytest.approx(4 / 100)
    assert drift.rows == 96
    assert drift.value == pytest.approx(ks_2samp(reference, current).pvalue, rel=1e-12)


def test_new_categories_are_listed_most_frequent_first_and_capped() -> None:
    reference = Reference.from_table(pa.table({"x": ["a", "b"] * 50}))
    current = ["a"] * 5 + ["z"] * 3 + ["y"] * 3 + ["q"] + [f"n{i:02}" for i in range(30)]
    drift = one(reference, pa.table({"x": current}))
    assert drift.new_categories[:4] == ["y", "z", "n00", "n01"]
    assert len(drift.new_categories) == 20
    assert drift.drifted


def test_strings_with_nul_bytes_and_html_are_categories_as_they_are() -> None:
    weird = ["a\x00b", "<script>alert(1)</script>", "&amp;", "é\u200b", ""]
    reference = Reference.from_table(pa.table({"x": weird * 20}))
    assert set(reference.features["x"].categories) == set(weird)
    drift = one(reference, pa.table({"x": [*weird, "<b>new</b>", "x\x00"]}))
    assert drift.new_categories == ["<b>new</b>", "x\x00"]
    assert drift.histogram.labels is not None and weird[0] in drift.histogram.labels
    orjson.dumps(drift.to_wire())  # JSON-safe as it is


def test_boolean_columns_are_categories_named_true_and_false() -> None:
    reference = Reference.from_table(pa.table({"b": [True, False, False, None] * 100}))
    feature = reference.features["b"]
    assert feature.kind == "categorical" and dict(feature.categories) == {"false": 200, "true": 100}
    assert feature.missing == 100
    drift = one(reference, pa.table({"b": [True] * 60 + [False] * 40}), "b")
    expected = chi2_contingency(np.array([[200, 100], [40, 60]])).pvalue
    assert drift.value == pytest.approx(expected)
    # A window that logged the booleans as text counts them the same.
    assert one(reference, pa.table({"b": ["true"] * 60 + ["false"] * 40}), "b").value == drift.value


def test_dictionary_and_large_string_columns_count_as_their_values() -> None:
    reference = Reference.from_table(pa.table({"x": pa.array(["a", "b", "c"] * 30).dictionary_encode()}))
    plain = one(reference, pa.table({"x": ["a", "a", "b"]}))
    assert one(reference, pa.table({"x": pa.array(["a", "a", "b"], pa.large_string())})).value == plain.value
    assert one(reference, pa.table({"x": pa.array(["a", "a", "b"]).dictionary_encode()})).value == plain.value


# -- edge cases --------------------------------------------------------------------------------


def test_an_empty_window_has_no_data_and_no_verdict() -> None:
    reference = Reference.from_table(pa.table({"x": np.arange(100.0), "c": ["a", "b"] * 50}))
    window = compare(
        reference, pa.table({"x": pa.array([], pa.float64()), "c": pa.array([], pa.string())}), DriftSettings()
    )
    assert window.rows == 0
    assert all(f.no_data and not f.drifted and f.value is None for f in window.features.values())
    assert window.drifted_share == 0.0 and not window.drifted
    assert WindowDrift.from_wire(orjson.loads(orjson.dumps(window.to_wire()))) == window


@pytest.mark.parametrize("column", [pa.array([None] * 5, pa.float64()), pa.nulls(5), pa.array([math.nan] * 5)])
def test_an_all_null_window_column_is_no_data_with_every_value_missing(column: pa.Array) -> None:
    reference = Reference.from_table(pa.table({"x": np.arange(100.0)}))
    drift = one(reference, pa.table({"x": column}))
    assert drift.no_data and not drift.drifted
    assert drift.missing_rate == 1.0


def test_an_all_null_window_column_of_a_categorical_feature_is_no_data() -> None:
    reference = Reference.from_table(pa.table({"c": ["a", "b"] * 50}))
    drift = one(reference, pa.table({"c": pa.nulls(4)}), "c")
    assert drift.no_data and drift.missing_rate == 1.0


def test_an_all_null_reference_column_never_drifts() -> None:
    reference = Reference.from_table(pa.table({"x": pa.array([None] * 50, pa.float64())}))
    assert reference.features["x"].count == 0
    drift = one(reference, pa.table({"x": [1.0, 2.0, 3.0]}))
    assert drift.no_data and not drift.drifted


def test_a_feature_missing_from_the_window_is_listed_and_not_compared() -> None:
    reference = Reference.from_table(pa.table({"x": np.arange(100.0), "gone": np.arange(100.0)}))
    window = compare(reference, pa.table({"x": np.arange(100.0)}), DriftSettings())
    assert list(window.features) == ["x"]
    assert window.missing_features == ["gone"]
    assert window.drifted_share == 0.0


def test_asking_for_a_feature_the_reference_lacks_is_refused() -> None:
    reference = Reference.from_table(pa.table({"x": np.arange(100.0)}))
    with pytest.raises(InvalidValue, match="'y' is not in the drift reference"):
        compare(reference, pa.table({"x": np.arange(10.0)}), DriftSettings(), features=["y"])


def test_integers_beyond_float_precision_are_measured_not_refused() -> None:
    # int64's extremes and uint64's top are past 2**53, where float64 rounds: drift reads the
    # nearest float, as any distance over a distribution would.
    rng = np.random.default_rng(5)
    spread = rng.integers(-(2**63), 2**63 - 1, 2000, dtype=np.int64)
    spread[:3] = [2**63 - 1, -(2**63), -1]  # -1 is uint64's 2**64 - 1
    reference = Reference.from_table(pa.table({"i": spread, "u": spread.view(np.uint64)}))
    assert reference.features["i"].kind == "numeric" and reference.features["i"].max == 2.0**63
    assert reference.features["u"].max == 2.0**64
    window = compare(reference, pa.table({"i": spread[::-1], "u": spread.view(np.uint64)}), DriftSettings())
    assert not window.features["i"].drifted and window.features["i"].value == pytest.approx(0.0, abs=1e-9)
    assert not window.features["u"].drifted
    huge = one(reference, pa.table({"i": pa.array([2**63 - 1] * 10, pa.int64())}), "i")
    assert huge.drifted and huge.out_of_range_rate == 0.0  # at the reference's max, not beyond it


def test_huge_integers_in_a_categorical_column_keep_their_exact_names() -> None:
    # 2**63 - 1 and 2**63 - 2 are one float64 but two categories.
    values = [2**63 - 1, 2**63 - 2, 2**63 - 3] * 10
    reference = Reference.from_table(pa.table({"i": pa.array(values, pa.int64())}))
    assert set(reference.features["i"].categories) == {str(2**63 - 1), str(2**63 - 2), str(2**63 - 3)}


def test_decimal_columns_are_numbers() -> None:
    reference = Reference.from_table(
        pa.table({"d": pa.array([Decimal(i).scaleb(-3) for i in range(200)], pa.decimal128(38, 3))})
    )
    assert reference.features["d"].kind == "numeric"
    many_digits = pa.array([Decimal("12345678901234567890123456789.123")] * 3, pa.decimal128(38, 3))
    assert one(reference, pa.table({"d": many_digits}), "d").out_of_range_rate == 1.0


def test_dates_and_timestamps_are_skipped_with_a_reason_or_refused_when_named() -> None:
    table = pa.table(
        {
            "x": np.arange(10.0),
            "day": pa.array([dt.date(2026, 1, i + 1) for i in range(10)]),
            "at": pa.array(np.arange(10), pa.timestamp("ms", tz="UTC")),
            "tags": pa.array([["a"]] * 10),
        }
    )
    reference = Reference.from_table(table)
    assert list(reference.features) == ["x"]
    assert reference.skipped == {
        "day": "values of type date32[day]",
        "at": "values of type timestamp[ms, tz=UTC]",
        "tags": "values of type list<item: string>",
    }
    with pytest.raises(InvalidValue, match="'day' has values of type date32"):
        Reference.from_table(table, features=["x", "day"])
    # A window whose numeric feature arrives as timestamps is a type mismatch, named.
    with pytest.raises(InvalidValue, match="numeric in the reference but timestamp"):
        compare(reference, pa.table({"x": table.column("at")}), DriftSettings())


def test_a_numeric_feature_that_arrives_as_text_is_refused() -> None:
    reference = Reference.from_table(pa.table({"x": np.arange(100.0)}))
    with pytest.raises(InvalidValue, match="numeric in the reference but string"):
        compare(reference, pa.table({"x": ["1", "2"]}), DriftSettings())


def test_histograms_hold_shares_of_each_side() -> None:
    rng = np.random.default_rng(6)
    reference = Reference.from_table(pa.table({"x": rng.normal(size=3000)}))
    drift = one(reference, pa.table({"x": rng.normal(1, 1, 3000)}))
    h = drift.histogram
    assert h.edges is not None and len(h.edges) == 31 and h.edges == sorted(h.edges)
    assert sum(h.reference) == pytest.approx(1) and sum(h.current) == pytest.approx(1)


def test_window_drift_round_trips_through_json() -> None:
    rng = np.random.default_rng(8)
    reference = Reference.from_table(pa.table({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000)}))
    window = compare(reference, pa.table({"x": rng.normal(size=500), "c": ["a", "c"] * 250}), DriftSettings())
    assert WindowDrift.from_wire(orjson.loads(orjson.dumps(window.to_wire()))) == window


def test_one_worker_and_two_give_the_same_answer() -> None:
    data = false_alarm_data(9, 5000, shift=0.3)
    reference = Reference.from_table(pa.table(false_alarm_data(10, 5000)))
    assert compare(reference, pa.table(data), DriftSettings(), workers=1) == compare(
        reference, pa.table(data), DriftSettings(), workers=2
    )


# -- references from a stored profile ------------------------------------------------------------


def test_a_profile_reference_from_percentiles_measures_like_the_data() -> None:
    rng = np.random.default_rng(12)
    data = rng.normal(10, 3, 50_000)
    profile = {
        "columns": {
            "x": {"type": "float", "nulls": 0, "quantiles": np.quantile(data, np.linspace(0, 1, 101)).tolist()},
        }
    }
    from_profile = Reference.from_profile(profile, rows=50_000)
    from_data = Reference.from_table(pa.table({"x": data}))
    feature = from_profile.features["x"]
    assert feature.from_profile and feature.kind == "numeric" and feature.count == 50_000
    # The profile's 0th and 100th percentiles are the data's min and max: out of range means the same.
    assert feature.min == data.min() and feature.max == data.max()
    for shift in (0.0, 0.5, 1.5):
        current = pa.table({"x": rng.normal(10 + shift * 3, 3, 20_000)})
        a, b = one(from_profile, current), one(from_data, current)
        assert a.method is b.method is Method.WASSERSTEIN
        # 101 percentiles lose the shape within each percent: within 5% of the data's value.
        assert a.value == pytest.approx(b.value, rel=0.05, abs=0.01)
        assert a.out_of_range_rate == b.out_of_range_rate
        assert a.drifted == b.drifted == (shift > 0)


def test_a_profile_reference_from_top_values_pools_the_rest() -> None:
    profile = {
        "columns": {
            "c": {"type": "string", "nulls": 10, "distinct": 7, "top": [["a", 500], ["b", 300], ["c", 100]]},
        }
    }
    reference = Reference.from_profile(profile, rows=1000)
    feature = reference.features["c"]
    assert dict(feature.categories) == {"a": 500, "b": 300, "c": 100, OTHER: 90}
    # A category the profile does not list may be one of its pooled ones: not new.
    drift = one(reference, pa.table({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 9}), "c")
    assert drift.new_categories == [] and not drift.drifted
    assert drift.value == pytest.approx(chi2_contingency(np.array([[500, 300, 100, 90], [50, 30, 10, 9]])).pvalue)


def test_a_profile_of_a_sample_counts_the_sample() -> None:
    profile = {"sampled_rows": 200, "columns": {"c": {"type": "string", "nulls": 0, "top": [["a", 120], ["b", 80]]}}}
    reference = Reference.from_profile(profile, rows=None)
    assert reference.rows == 200 and reference.features["c"].count == 200


def test_profile_columns_without_a_distribution_are_skipped_or_refused_when_named() -> None:
    profile = {
        "columns": {
            "old": {"type": "float", "nulls": 0, "min": 0.0, "max": 1.0, "mean": 0.5},
            "when": {"type": "datetime", "nulls": 0, "min": "2026-01-01", "max": "2026-02-01"},
            "bad": {"type": "float", "nulls": 0, "quantiles": [3.0, 1.0, 2.0]},
            "words": {"type": "string", "nulls": 0, "top": [["a", 3]]},
        }
    }
    reference = Reference.from_profile(profile, rows=3)
    assert list(reference.features) == ["words"]
    assert "no percentiles" in reference.skipped["old"]
    assert "'datetime'" in reference.skipped["when"]
    assert "ascending" in reference.skipped["bad"]
    with pytest.raises(InvalidValue, match="'old' cannot be a drift reference"):
        Reference.from_profile(profile, rows=3, features=["old"])
    with pytest.raises(InvalidValue, match="no columns"):
        Reference.from_profile({}, rows=3)
    with pytest.raises(InvalidValue, match="how many rows"):
        Reference.from_profile(profile, rows=None)


# -- windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("1h", ("time", HOUR)), ("6h", ("time", 6 * HOUR)), ("1d", ("time", DAY)), ("7d", ("time", 7 * DAY)),
     ("15m", ("time", 15 * 60_000)), (" 1d ", ("time", DAY)), ("rows:1000", ("rows", 1000))],
)  # fmt: skip
def test_parse_window(text: str, parsed: tuple[str, int]) -> None:
    assert parse_window(text) == parsed


@pytest.mark.parametrize("text", ["", "0h", "1w", "1.5h", "h", "-1d", "rows:0", "rows:", "rows:-5", "1H", None, 3600])
def test_bad_windows_are_refused(text: object) -> None:
    with pytest.raises(InvalidValue, match="a window is a time such as"):
        parse_window(text)  # type: ignore[arg-type]


def test_hour_windows_are_aligned_to_utc_hours_and_skip_empty_ones() -> None:
    t0 = 1_767_225_600_000  # 2026-01-01T00:00Z
    stamps = np.array([t0 + 3 * HOUR + 5, t0 + 10, t0 + HOUR - 1, t0 + 3 * HOUR])
    windows = split_windows(stamps, "1h")
    assert [(w.start_ms, w.end_ms) for w in windows] == [(t0, t0 + HOUR), (t0 + 3 * HOUR, t0 + 4 * HOUR)]
    assert [sorted(w.rows.tolist()) for w in windows] == [[1, 2], [0, 3]]


def test_day_windows_start_at_utc_midnight_and_week_windows_on_monday() -> None:
    wednesday_noon = 1_767_182_400_000  # 2025-12-31T12:00Z, a Wednesday
    (day,) = split_windows(np.array([wednesday_noon]), "1d")
    assert dt.datetime.fromtimestamp(day.start_ms / 1000, dt.UTC) == dt.datetime(2025, 12, 31, tzinfo=dt.UTC)
    (week,) = split_windows(np.array([wednesday_noon]), "7d")
    assert dt.datetime.fromtimestamp(week.start_ms / 1000, dt.UTC) == dt.datetime(2025, 12, 29, tzinfo=dt.UTC)
    assert week.end_ms - week.start_ms == 7 * DAY


def test_row_windows_take_rows_in_time_order_n_at_a_time() -> None:
    stamps = np.array([50, 10, 40, 20, 30, 60, 70])
    windows = split_windows(stamps, "rows:3")
    assert [stamps[w.rows].tolist() for w in windows] == [[10, 20, 30], [40, 50, 60], [70]]
    assert [(w.start_ms, w.end_ms) for w in windows] == [(10, 31), (40, 61), (70, 71)]


def test_windows_of_no_rows_and_bad_timestamps() -> None:
    assert split_windows(np.array([], np.int64), "1h") == []
    assert [w.start_ms for w in split_windows(np.array([-1, 0]), "1d")] == [-DAY, 0]  # before 1970
    assert [w.rows.tolist() for w in split_windows(np.array([1.0, 2.0]), "rows:1")] == [[0], [1]]
    for bad, message in [
        (np.array([1.5]), "whole milliseconds"),
        (np.array([math.nan]), "whole milliseconds"),
        (np.array(["2026-01-01"]), "whole milliseconds"),
        (np.zeros((2, 2)), "flat list"),
        (np.array([2**63 - 1]), "between the years 1 and 9999"),
        (np.array([1e30]), "between the years 1 and 9999"),
    ]:
        with pytest.raises(InvalidValue, match=message):
            split_windows(bad, "7d")


def test_comparing_a_feature_its_profile_could_not_stand_for_says_why() -> None:
    profile = {"columns": {"old": {"type": "float", "nulls": 0, "min": 0.0, "max": 1.0, "mean": 0.5}}}
    reference = Reference.from_profile(profile, rows=10)
    with pytest.raises(InvalidValue, match="'old' is not in the drift reference: its profile has no percentiles"):
        compare(reference, pa.table({"old": [0.5]}), DriftSettings(), features=["old"])
