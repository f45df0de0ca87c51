"""The reference a window is compared with: built once from a table or a dataset's profile.

A numeric feature keeps its sorted values (the exact tests read them) and, for the fast
Wasserstein distance, :data:`FINE_BINS` quantile bins with the count and mean of the reference's
values in each, plus the bins below its minimum and from its maximum up. A categorical feature
keeps its category counts. Both keep their missing count and, numbers, their min and max.

A profile (``client/datasets.py``) keeps no values: a numeric column's 101 percentiles stand
for it, read as a distribution that is uniform between consecutive percentiles (docs/monitoring.md,
"References from a profile"); a categorical column's ``top`` counts stand for it, the rest of
its values pooled into one category, :data:`OTHER`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from cairn.core.drift.columns import (
    CATEGORICAL_MAX_DISTINCT,
    category_counts,
    float_values,
    is_categorical_type,
    is_numeric_type,
    label,
)
from cairn.core.drift.settings import Kind
from cairn.core.errors import InvalidValue

#: Quantile bins of a numeric reference for the binned Wasserstein distance: its error against
#: scipy's exact value is measured in tests/core/test_drift.py (docs/monitoring.md, "Drift statistics").
FINE_BINS = 1000
#: Bins of the population stability index (and of the other binned methods on numbers): the
#: reference's deciles, as PSI is usually computed.
COARSE_BINS = 10
#: A profile's numeric columns become at most this many evenly spaced reference values.
PROFILE_SAMPLE = 100_000
#: The category that holds a profile's values beyond its ``top`` list.
OTHER = "(other)"


@dataclass(frozen=True, eq=False)
class FeatureReference:
    """One feature of a reference. Arrays are read-only."""

    name: str
    kind: Kind
    rows: int  # rows of the reference, values or not
    missing: int  # of which missing (null, NaN, ±inf)
    # Numeric features.
    min: float | None = None
    max: float | None = None
    std: float | None = None
    values: np.ndarray | None = None  # sorted finite values (from a profile: evenly spaced quantiles)
    edges: np.ndarray | None = None  # FINE_BINS quantile edges, unique, ascending
    bin_counts: np.ndarray | None = None  # per bin: below edges[0], between edges, from edges[-1]
    bin_means: np.ndarray | None = None
    deciles: np.ndarray | None = None  # the inner edges of COARSE_BINS quantile bins, unique
    # Categorical features.
    categories: Mapping[str, int] = field(default_factory=dict)
    #: Whether the values came from a profile (approximate) rather than the data.
    from_profile: bool = False

    @property
    def count(self) -> int:
        """Rows with a value."""
        return self.rows - self.missing

    def coarse_counts(self, sorted_values: np.ndarray) -> np.ndarray:
        """Counts of sorted values in the decile bins of this reference."""
        assert self.deciles is not None
        cuts = np.searchsorted(sorted_values, self.deciles, side="left")
        return np.diff(np.concatenate(([0], cuts, [sorted_values.size])))


def fine_bins(sorted_values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts and means of sorted values in the bins that ``edges`` cut (below the first edge,
    ``[edges[i], edges[i+1])``, and from the last edge up); empty bins have mean 0."""
    cuts = np.searchsorted(sorted_values, edges, side="left")
    bounds = np.concatenate(([0], cuts, [sorted_values.size]))
    counts = np.diff(bounds)
    running = np.concatenate(([0.0], np.cumsum(sorted_values)))
    sums = running[bounds[1:]] - running[bounds[:-1]]
    means = np.divide(sums, counts, out=np.zeros(counts.size), where=counts > 0)
    return counts, means


def _numeric(name: str, rows: int, missing: int, values: np.ndarray, *, from_profile: bool) -> FeatureReference:
    """A numeric feature from its finite values, sorted."""
    n = values.size
    at = np.round(np.linspace(0, 1, FINE_BINS + 1) * (n - 1)).astype(np.int64)
    # Quantile edges are dense where the mass is; evenly spaced ones split the long bins of a
    # heavy tail, where the collapsed bins would otherwise lose the most.
    edges = np.unique(np.concatenate((values[at], np.linspace(values[0], values[-1], FINE_BINS + 1))))
    counts, means = fine_bins(values, edges)
    deciles = np.unique(np.quantile(values, np.linspace(0, 1, COARSE_BINS + 1)[1:-1]))
    for array in (values, edges, counts, means, deciles):
        array.flags.writeable = False
    return FeatureReference(
        name=name,
        kind="numeric",
        rows=rows,
        missing=missing,
        min=float(values[0]),
        max=float(values[-1]),
        std=float(np.std(values)),
        values=values,
        edges=edges,
        bin_counts=counts,
        bin_means=means,
        deciles=deciles,
        from_profile=from_profile,
    )


def _categorical(
    name: str, rows: int, missing: int, counts: Mapping[str, int], *, from_profile: bool
) -> FeatureReference:
    ordered = dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))
    return FeatureReference(name, "categorical", rows, missing, categories=ordered, from_profile=from_profile)


def _from_column(name: str, column: pa.ChunkedArray) -> FeatureReference:
    rows = len(column)
    if is_numeric_type(column.type):
        values, missing = float_values(column, name)
        values = np.sort(values)
        # More than five distinct values make a number numeric; fewer, a category (Evidently).
        if values.size and np.count_nonzero(np.diff(values)) + 1 > CATEGORICAL_MAX_DISTINCT:
            return _numeric(name, rows, missing, values, from_profile=False)
    counts, missing = category_counts(column, name)
    return _categorical(name, rows, missing, counts, from_profile=False)


@dataclass(frozen=True, eq=False)
class Reference:
    """What windows are compared with: per feature, a :class:`FeatureReference`."""

    features: Mapping[str, FeatureReference]
    rows: int
    #: Columns left out, with why (a type drift cannot measure, a profile without percentiles).
    skipped: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: pa.Table, features: Sequence[str] | None = None) -> Reference:
        """A reference from data: every numeric, text, boolean or dictionary column of
        ``table``, or the ``features`` named (which must exist and be of those types)."""
        names = list(table.column_names) if features is None else list(features)
        found: dict[str, FeatureReference] = {}
        skipped: dict[str, str] = {}
        for name in names:
            if name not in table.column_names:
                raise InvalidValue(f"feature {name!r} is not a column of the reference", details={"feature": name})
            column = table.column(name)
            if not (is_numeric_type(column.type) or is_categorical_type(column.type)):
                if features is not None:
                    raise InvalidValue(
                        f"feature {name!r} has values of type {column.type}, which drift cannot measure",
                        details={"feature": name, "type": str(column.type)},
                    )
                skipped[name] = f"values of type {column.type}"
                continue
            found[name] = _from_column(name, column)
        return cls(features=found, rows=table.num_rows, skipped=skipped)

    @classmethod
    def from_profile(
        cls, profile: Mapping[str, Any], rows: int | None, features: Sequence[str] | None = None
    ) -> Reference:
        """A reference from a dataset version's stored profile (``profile["columns"]``).

        ``rows`` are the dataset's rows; a profile of a sample says its own (``sampled_rows``),
        which win, since its counts are of the sample. Columns the profile cannot stand for (no
        percentiles: profiled before they were kept; dates) are left out and listed in
        ``skipped``, or refused when named in ``features``.
        """
        columns = profile.get("columns") if isinstance(profile, Mapping) else None
        if not isinstance(columns, Mapping):
            raise InvalidValue("the profile has no columns to build a drift reference from")
        counted = profile.get("sampled_rows", rows)
        if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
            raise InvalidValue("the profile does not say how many rows it describes")
        names = list(columns) if features is None else list(features)
        found: dict[str, FeatureReference] = {}
        skipped: dict[str, str] = {}
        for name in names:
            column = columns.get(name)
            if not isinstance(column, Mapping):
                raise InvalidValue(f"feature {name!r} is not a column of the reference", details={"feature": name})
            built = _from_profile_column(name, column, counted)
            if isinstance(built, str):
                if features is not None:
                    raise InvalidValue(
                        f"feature {name!r} cannot be a drift reference: {built}", details={"feature": name}
                    )
                skipped[name] = built
            else:
                found[name] = built
        return cls(features=found, rows=counted, skipped=skipped)


def _from_profile_column(name: str, column: Mapping[str, Any], rows: int) -> FeatureReference | str:
    nulls = column.get("nulls", 0)
    if isinstance(nulls, bool) or not isinstance(nulls, int) or not 0 <= nulls <= rows:
        return "its count of nulls is not a number of rows"
    top = column.get("top")
    if isinstance(top, list):
        counts: dict[str, int] = {}
        for pair in top:
            if not (isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[1], int)):
                return "its top values are not [value, count] pairs"
            if pair[0] is not None:
                counts[label(pair[0])] = counts.get(label(pair[0]), 0) + pair[1]
        other = rows - nulls - sum(counts.values())
        if other > 0:
            counts[OTHER] = counts.get(OTHER, 0) + other
        return _categorical(name, rows, nulls, counts, from_profile=True)
    quantiles = column.get("quantiles")
    if column.get("type") not in ("integer", "float"):
        return f"columns of type {column.get('type')!r} have no distribution in a profile"
    if not isinstance(quantiles, list) or len(quantiles) < 2:
        return "its profile has no percentiles (profiled before Cairn kept them)"
    try:
        levels_at = np.asarray(quantiles, dtype=np.float64)
    except (TypeError, ValueError):
        return "its percentiles are not numbers"
    if not np.all(np.isfinite(levels_at)) or np.any(np.diff(levels_at) < 0):
        return "its percentiles are not finite and ascending"
    count = rows - nulls
    if count == 0:
        return "it has no values"
    # The quantile function, linear between percentiles, read at evenly spaced levels: values
    # whose distribution is uniform between consecutive percentiles. The levels run from 0 to 1
    # inclusive, so that the reference's min and max are the profile's, as out-of-range needs.
    size = max(min(count, PROFILE_SAMPLE), 2)
    levels = np.linspace(0, 1, size)
    values = np.interp(levels, np.linspace(0, 1, levels_at.size), levels_at)
    return _numeric(name, rows, nulls, values, from_profile=True)
