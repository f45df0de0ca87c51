"""The drift statistics, each one scipy function on counts or values (docs/monitoring.md, "Drift statistics").

scipy is imported inside each function, so that ``cairn.core`` imports without it. Every
function returns a plain float; p-values are drifted below their threshold, distances at or
above it.
"""

from __future__ import annotations

import numpy as np

#: What an empty bin's share becomes in the population stability index, whose logarithm has no
#: value at 0 (Evidently's 0.0001).
PSI_EPSILON = 1e-4
#: The smallest standard deviation the Wasserstein distance is divided by (Evidently's 0.001).
MIN_STD = 0.001


def ks_pvalue(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov test: the p-value that both samples share a distribution."""
    from scipy.stats import ks_2samp

    return float(ks_2samp(reference, current).pvalue)


def chisquare_pvalue(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Chi-square test of homogeneity on the 2×K table of counts (scipy's defaults, so Yates'
    correction when K is 2). One category seen, or one side empty, is no evidence: 1.0."""
    from scipy.stats import chi2_contingency

    table = np.vstack([reference_counts, current_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 1.0
    return float(chi2_contingency(table).pvalue)


def wasserstein_normalised(
    reference_means: np.ndarray,
    reference_counts: np.ndarray,
    current_means: np.ndarray,
    current_counts: np.ndarray,
    reference_std: float,
) -> float:
    """The first Wasserstein distance between two distributions given as weighted points (a
    bin's mean, weighted by its count), divided by the reference's standard deviation."""
    from scipy.stats import wasserstein_distance

    ref = reference_counts > 0
    cur = current_counts > 0
    distance = wasserstein_distance(
        reference_means[ref], current_means[cur], u_weights=reference_counts[ref], v_weights=current_counts[cur]
    )
    return float(distance) / max(reference_std, MIN_STD)


def jensenshannon_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen–Shannon distance between the two shares, natural logarithm (scipy's default)."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(reference_counts.astype(np.float64), current_counts.astype(np.float64)))


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population stability index, Σ (c − r)·ln(c / r) over the shares, empty bins at
    :data:`PSI_EPSILON`: the symmetrised relative entropy ``rel_entr(c, r) + rel_entr(r, c)``."""
    from scipy.special import rel_entr

    ref = reference_counts / reference_counts.sum()
    cur = current_counts / current_counts.sum()
    ref = np.where(ref == 0, PSI_EPSILON, ref)
    cur = np.where(cur == 0, PSI_EPSILON, cur)
    return float(np.sum(rel_entr(cur, ref) + rel_entr(ref, cur)))
