"""One window of rows against a reference: per feature a statistic and a verdict, then the
dataset's verdict from the share of features that drifted (docs/monitoring.md, "Drift statistics").

A numeric window column is sorted once; everything else reads the sorted values by binary
search (its bins, its out-of-range share, its histogram), which on a million rows costs less
than binning them unsorted. Features are measured in a pool of threads: sorting and searching
release the GIL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from cairn.core.drift import statistics
from cairn.core.drift.columns import category_counts, float_values
from cairn.core.drift.reference import OTHER, FeatureReference, Reference, fine_bins
from cairn.core.drift.settings import P_VALUE_METHODS, DriftSettings, Method
from cairn.core.errors import InvalidValue

#: Bins of a numeric feature's histogram, and bars of a categorical one (the last pooling the rest).
HISTOGRAM_BINS = 30
#: New categories listed per feature at most (the most frequent first).
MAX_NEW_CATEGORIES = 20
#: Features measured at once: this machine's cores (each feature's work releases the GIL).
WORKERS = 2
#: The share of a window's values a numeric histogram may leave beyond its drawn range at each
#: end (counted in the first and last bins), so that one wild value does not squash the rest.
HISTOGRAM_TAIL = 0.005
HISTOGRAM_LABEL_OTHER = "(other)"


@dataclass(frozen=True)
class Histogram:
    """Reference and current distributions of a feature for drawing: shares of each side's
    values per bin (numeric: ``len(edges) - 1`` bins) or per category (``labels``)."""

    reference: list[float]
    current: list[float]
    edges: list[float] | None = None
    labels: list[str] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"reference": self.reference, "current": self.current}
        if self.edges is not None:
            wire["edges"] = self.edges
        if self.labels is not None:
            wire["labels"] = self.labels
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Histogram:
        return cls(
            reference=list(wire["reference"]),
            current=list(wire["current"]),
            edges=None if wire.get("edges") is None else list(wire["edges"]),
            labels=None if wire.get("labels") is None else list(wire["labels"]),
        )


@dataclass(frozen=True)
class FeatureDrift:
    """One feature in one window. With no value in the window it is ``no_data``: ``value`` is
    None and it has not drifted."""

    method: Method
    value: float | None
    threshold: float
    drifted: bool
    missing_rate: float  # of the window's rows, those without a value
    out_of_range_rate: float | None  # numeric: of the values, those outside the reference's [min, max]
    new_categories: list[str]  # categorical: categories the reference never had, most frequent first
    histogram: Histogram
    rows: int  # values compared (rows with a value)
    no_data: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "method": self.method.value,
            "value": self.value,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "no_data": self.no_data,
            "rows": self.rows,
            "missing_rate": self.missing_rate,
            "out_of_range_rate": self.out_of_range_rate,
            "new_categories": self.new_categories,
            "histogram": self.histogram.to_wire(),
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> FeatureDrift:
        return cls(
            method=Method(wire["method"]),
            value=wire["value"],
            threshold=wire["threshold"],
            drifted=wire["drifted"],
            missing_rate=wire["missing_rate"],
            out_of_range_rate=wire.get("out_of_range_rate"),
            new_categories=list(wire.get("new_categories") or []),
            histogram=Histogram.from_wire(wire["histogram"]),
            rows=wire["rows"],
            no_data=wire.get("no_data", False),
        )


@dataclass(frozen=True)
class WindowDrift:
    """A window's verdict: drifted when at least ``drift_share`` of the features compared (those
    with values in the window) drifted."""

    rows: int
    features: dict[str, FeatureDrift]
    drifted_share: float
    drifted: bool
    #: Features of the reference that the window has no column for: not compared.
    missing_features: list[str] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "features": {name: feature.to_wire() for name, feature in self.features.items()},
            "drifted_share": self.drifted_share,
            "drifted": self.drifted,
            "missing_features": self.missing_features,
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> WindowDrift:
        return cls(
            rows=wire["rows"],
            features={name: FeatureDrift.from_wire(f) for name, f in wire["features"].items()},
            drifted_share=wire["drifted_share"],
            drifted=wire["drifted"],
            missing_features=list(wire.get("missing_features") or []),
        )


def compare(
    reference: Reference,
    current: pa.Table,
    settings: DriftSettings,
    features: Sequence[str] | None = None,
    *,
    workers: int = WORKERS,
) -> WindowDrift:
    """Measure each feature of ``current`` (all the reference's, or ``features``) against
    ``reference``. Features the window lacks are listed in ``missing_features``."""
    names = list(reference.features) if features is None else list(features)
    for name in names:
        if name not in reference.features:
            why = reference.skipped.get(name)
            raise InvalidValue(
                f"feature {name!r} is not in the drift reference" + (f": {why}" if why else ""),
                details={"feature": name},
            )
    present = [name for name in names if name in current.column_names]
    missing = [name for name in names if name not in current.column_names]
    # Methods are chosen before any work, so that a bad override fails at once.
    methods = {
        name: settings.method_for(name, reference.features[name].kind, reference.features[name].count)
        for name in present
    }

    def measure(name: str) -> FeatureDrift:
        feature = reference.features[name]
        method = methods[name]
        column = current.column(name)
        if feature.kind == "numeric":
            return _numeric(feature, column, method, settings.threshold(method))
        return _categorical(feature, column, method, settings.threshold(method))

    if workers > 1 and len(present) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            measured = dict(zip(present, pool.map(measure, present), strict=True))
    else:
        measured = {name: measure(name) for name in present}
    compared = [f for f in measured.values() if not f.no_data]
    share = sum(f.drifted for f in compared) / len(compared) if compared else 0.0
    return WindowDrift(
        rows=current.num_rows,
        features=measured,
        drifted_share=share,
        drifted=bool(compared) and share >= settings.drift_share,
        missing_features=missing,
    )


def _verdict(method: Method, value: float, threshold: float) -> bool:
    return value < threshold if method in P_VALUE_METHODS else value >= threshold


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _numeric(feature: FeatureReference, column: pa.ChunkedArray, method: Method, threshold: float) -> FeatureDrift:
    assert feature.values is not None and feature.edges is not None
    assert feature.bin_counts is not None and feature.bin_means is not None
    assert feature.min is not None and feature.max is not None
    values, missing = float_values(column, feature.name)
    rows = len(column)
    if values.size == 0 or feature.count == 0:
        return _no_data(method, threshold, _rate(missing, rows), numeric=True)
    current = np.sort(values)
    n = current.size
    below = int(np.searchsorted(current, feature.min, side="left"))
    above = n - int(np.searchsorted(current, feature.max, side="right"))
    if method is Method.KS:
        value = statistics.ks_pvalue(feature.values, current)
    elif method is Method.WASSERSTEIN:
        counts, means = fine_bins(current, feature.edges)
        value = statistics.wasserstein_normalised(
            feature.bin_means, feature.bin_counts, means, counts, feature.std or 0.0
        )
    else:
        ref_counts, cur_counts = feature.coarse_counts(feature.values), feature.coarse_counts(current)
        value = _binned(method, ref_counts, cur_counts)
    return FeatureDrift(
        method=method,
        value=value,
        threshold=threshold,
        drifted=_verdict(method, value, threshold),
        missing_rate=_rate(missing, rows),
        out_of_range_rate=(below + above) / n,
        new_categories=[],
        histogram=_numeric_histogram(feature, current),
        rows=n,
    )


def _binned(method: Method, reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    if method is Method.CHI_SQUARE:
        return statistics.chisquare_pvalue(reference_counts, current_counts)
    if method is Method.JENSEN_SHANNON:
        return statistics.jensenshannon_distance(reference_counts, current_counts)
    if method is Method.PSI:
        return statistics.psi(reference_counts, current_counts)
    raise AssertionError(f"{method} is not a binned method")  # settings.method_for refuses it


def _numeric_histogram(feature: FeatureReference, current: np.ndarray) -> Histogram:
    assert feature.values is not None and feature.min is not None and feature.max is not None
    n = current.size
    tail = int(n * HISTOGRAM_TAIL)
    low = min(feature.min, float(current[tail]))
    high = max(feature.max, float(current[n - 1 - tail]))
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1) if high > low else np.array([low, high])

    def shares(values: np.ndarray) -> list[float]:
        cuts = np.searchsorted(values, edges[1:-1], side="left")
        counts = np.diff(np.concatenate(([0], cuts, [values.size])))
        return [float(share) for share in counts / values.size]

    return Histogram(reference=shares(feature.values), current=shares(current), edges=edges.tolist())


def _categorical(feature: FeatureReference, column: pa.ChunkedArray, method: Method, threshold: float) -> FeatureDrift:
    counts, missing = category_counts(column, feature.name)
    rows = len(column)
    n = sum(counts.values())
    if n == 0 or feature.count == 0:
        return _no_data(method, threshold, _rate(missing, rows), numeric=False)
    known = feature.categories
    unseen = sorted((k for k in counts if k not in known), key=lambda k: (-counts[k], k))
    if OTHER in known and feature.from_profile:
        # A profile lists its most frequent categories only: the rest are its "other", so a
        # category it does not list may well have been in the data, and is not new.
        pooled = dict(counts)
        pooled[OTHER] = pooled.get(OTHER, 0) + sum(pooled.pop(k) for k in unseen)
        counts, unseen = pooled, []
    keys = list(known) + unseen
    ref_counts = np.array([known.get(k, 0) for k in keys], dtype=np.int64)
    cur_counts = np.array([counts.get(k, 0) for k in keys], dtype=np.int64)
    value = _binned(method, ref_counts, cur_counts)
    return FeatureDrift(
        method=method,
        value=value,
        threshold=threshold,
        drifted=_verdict(method, value, threshold),
        missing_rate=_rate(missing, rows),
        out_of_range_rate=None,
        new_categories=unseen[:MAX_NEW_CATEGORIES],
        histogram=_categorical_histogram(keys, ref_counts, cur_counts),
        rows=n,
    )


def _categorical_histogram(keys: list[str], reference: np.ndarray, current: np.ndarray) -> Histogram:
    ref_shares = reference / max(int(reference.sum()), 1)
    cur_shares = current / max(int(current.sum()), 1)
    if len(keys) > HISTOGRAM_BINS:
        # The reference's most frequent categories, then the window's new ones, then the rest pooled.
        cut = HISTOGRAM_BINS - 1
        keys = [*keys[:cut], HISTOGRAM_LABEL_OTHER]
        ref_shares = np.append(ref_shares[:cut], ref_shares[cut:].sum())
        cur_shares = np.append(cur_shares[:cut], cur_shares[cut:].sum())
    return Histogram(reference=ref_shares.tolist(), current=cur_shares.tolist(), labels=keys)


def _no_data(method: Method, threshold: float, missing_rate: float, *, numeric: bool) -> FeatureDrift:
    return FeatureDrift(
        method=method,
        value=None,
        threshold=threshold,
        drifted=False,
        missing_rate=missing_rate,
        out_of_range_rate=None,
        new_categories=[],
        histogram=Histogram(reference=[], current=[], edges=[] if numeric else None, labels=None if numeric else []),
        rows=0,
        no_data=True,
    )
