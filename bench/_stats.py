"""Summaries of timing samples, computed the same way for both halves of the benchmark.

Stdlib only, like _procs.py, so each half can import it from its own venv.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: an observed sample, never an interpolated one."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize_call_ns(durations_ns: Sequence[int]) -> dict[str, float]:
    """Median, p99 and mean of per-call durations, in microseconds, plus calls per second."""
    durations_us = [ns / 1000 for ns in durations_ns]
    total_s = sum(durations_ns) / 1e9
    return {
        "median": round(statistics.median(durations_us), 1),
        "p99": round(percentile(durations_us, 0.99), 1),
        "mean": round(statistics.fmean(durations_us), 1),
        "calls": len(durations_us),
        "calls_per_s": round(len(durations_us) / total_s, 1) if total_s else math.inf,
    }


def summarize_seconds(durations_s: Sequence[float]) -> dict[str, object]:
    """The median of repeated timings as `value`, with every repeat kept for the record."""
    return {
        "value": round(statistics.median(durations_s), 4),
        "repeats": len(durations_s),
        "all_s": [round(d, 4) for d in durations_s],
    }
