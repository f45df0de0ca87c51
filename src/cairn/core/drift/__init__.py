"""Drift statistics: how far a window of logged rows has moved from a training reference.

Pure computation over pyarrow tables and numpy arrays (docs/monitoring.md, "Drift statistics"); monitors, their store
and their alerts are built on it elsewhere. scipy is imported only when a statistic runs.
"""

from cairn.core.drift.compare import FeatureDrift, Histogram, WindowDrift, compare
from cairn.core.drift.reference import FeatureReference, Reference
from cairn.core.drift.settings import DEFAULT_THRESHOLDS, DriftSettings, Method
from cairn.core.drift.windows import Window, parse_window, split_windows

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DriftSettings",
    "FeatureDrift",
    "FeatureReference",
    "Histogram",
    "Method",
    "Reference",
    "Window",
    "WindowDrift",
    "compare",
    "parse_window",
    "split_windows",
]
